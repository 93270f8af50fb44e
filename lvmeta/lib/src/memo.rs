//! Parsed metadata texts, for a long-lived process that forks the processes running commands
//! (lvmeta-server): what a VG's metadata text says is a pure function of its bytes (parse,
//! then the model), so a command that reads from disk the very bytes parsed before takes that
//! model instead of parsing again. Nothing of the disk is kept or trusted: every command reads
//! the text from the disk, under its locks, as always; the memo only answers "what does this
//! text say" for a text equal to one parsed before, byte for byte. A VG of a few hundred LVs
//! spends a good part of a command in the parse (issue 13: ~8 ms of a 50 ms `lvchange -aey`
//! in the lab's guests).
//!
//! The configuration files every command reads (halvm.toml, lvm.conf and lvmlocal.conf) are
//! remembered the same way: what they say is a pure function of their path and bytes, and
//! their parse was ~2 ms of a command in the lab's guests.
//!
//! The two sides: the server parses what its workers report ([`learn`]) before it forks the
//! next ones, which inherit the memo; a worker takes a text's model from it ([`take`], by
//! [`crate::ops`]' VG read; [`take_halvm`], [`take_lvm`], by [`crate::env`]) and reports
//! ([`set_sink`], [`Report`]) the texts it read but found nothing for and the texts it
//! committed, which the next command will read.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use lvmeta_model::VolumeGroup;

use crate::env::LvmConf;

/// VGs remembered at most (the newest texts; a server serves a few VGs in practice).
pub const MAX_ENTRIES: usize = 8;

/// Configurations of each kind remembered at most (clients with their own
/// `$LVM_SYSTEM_DIR` or `$HALVM_CONFIG`; one of each in practice).
pub const MAX_CONFIGS: usize = 4;

/// The largest report (a text and its fields) remembered or sent. Larger texts are parsed
/// by every command; lvm2's default metadata area (1 MiB) holds texts of ~2,000 LVs.
pub const MAX_TEXT: usize = 4 << 20;

/// What a worker reports to its server, one datagram each ([`Report::encode`]):
///
/// ```text
/// +------+-----------------+----------+-----+-----------------+----------+------------+
/// | kind | len(field 0) LE | field 0  | ... | len(field n-1)  | field n-1| last field |
/// | 1 B  | u32             | len B    |     | u32             | len B    | the rest   |
/// +------+-----------------+----------+-----+-----------------+----------+------------+
/// ```
/// kind `v`: the VG's text; `h`: halvm.toml's path, its text; `l`: the directory,
/// lvm.conf's text, lvmlocal.conf's text. Paths are their bytes, texts UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report<'a> {
    /// A VG's metadata text, read or committed.
    Vg(&'a str),
    /// halvm.toml's text and the path it was read from.
    Halvm { path: &'a Path, text: &'a str },
    /// lvm.conf's and lvmlocal.conf's texts (empty when absent) and their directory.
    Lvm {
        dir: &'a Path,
        main: &'a str,
        local: &'a str,
    },
}

const KIND_VG: u8 = b'v';
const KIND_HALVM: u8 = b'h';
const KIND_LVM: u8 = b'l';
const LEN_SIZE: usize = 4;

impl<'a> Report<'a> {
    /// The datagram (see the diagram above).
    pub fn encode(&self) -> Vec<u8> {
        use std::os::unix::ffi::OsStrExt;
        let (kind, fields): (u8, [&[u8]; 3]) = match *self {
            Report::Vg(text) => (KIND_VG, [text.as_bytes(), &[], &[]]),
            Report::Halvm { path, text } => (
                KIND_HALVM,
                [path.as_os_str().as_bytes(), text.as_bytes(), &[]],
            ),
            Report::Lvm { dir, main, local } => (
                KIND_LVM,
                [
                    dir.as_os_str().as_bytes(),
                    main.as_bytes(),
                    local.as_bytes(),
                ],
            ),
        };
        let n = fields_of(kind);
        let mut out =
            Vec::with_capacity(1 + fields.iter().map(|f| f.len() + LEN_SIZE).sum::<usize>());
        out.push(kind);
        for (i, f) in fields[..n].iter().enumerate() {
            if i + 1 < n {
                // A field of this crate's making: MAX_TEXT bounds what is sent.
                out.extend_from_slice(&(f.len().min(u32::MAX as usize) as u32).to_le_bytes());
            }
            out.extend_from_slice(f);
        }
        out
    }

    /// Reads a datagram; None for anything [`Report::encode`] does not make (a wrong kind,
    /// a length past the end, a text that is no UTF-8).
    pub fn decode(bytes: &'a [u8]) -> Option<Report<'a>> {
        use std::os::unix::ffi::OsStrExt;
        let (&kind, mut rest) = bytes.split_first()?;
        let n = fields_of(kind);
        if n == 0 {
            return None;
        }
        let mut fields: [&[u8]; 3] = [&[]; 3];
        for (i, field) in fields[..n].iter_mut().enumerate() {
            if i + 1 == n {
                *field = rest;
                break;
            }
            let len = u32::from_le_bytes(rest.get(..LEN_SIZE)?.try_into().ok()?) as usize;
            let after = rest.get(LEN_SIZE..)?;
            *field = after.get(..len)?;
            rest = &after[len..];
        }
        let text = |b: &'a [u8]| std::str::from_utf8(b).ok();
        let path = |b: &'a [u8]| Path::new(std::ffi::OsStr::from_bytes(b));
        Some(match kind {
            KIND_VG => Report::Vg(text(fields[0])?),
            KIND_HALVM => Report::Halvm {
                path: path(fields[0]),
                text: text(fields[1])?,
            },
            _ => Report::Lvm {
                dir: path(fields[0]),
                main: text(fields[1])?,
                local: text(fields[2])?,
            },
        })
    }
}

/// The number of fields of a report of `kind`; 0 for no kind of report.
fn fields_of(kind: u8) -> usize {
    match kind {
        KIND_VG => 1,
        KIND_HALVM => 2,
        KIND_LVM => 3,
        _ => 0,
    }
}

struct Entry {
    text: String,
    vg: VolumeGroup,
}

struct HalvmEntry {
    path: PathBuf,
    text: String,
    config: halvm_config::Config,
}

struct LvmEntry {
    dir: PathBuf,
    main: String,
    local: String,
    conf: LvmConf,
}

/// Everything remembered, newest first in each list.
struct Memo {
    vgs: Vec<Entry>,
    halvm: Vec<HalvmEntry>,
    lvm: Vec<LvmEntry>,
}

static MEMO: Mutex<Memo> = Mutex::new(Memo {
    vgs: Vec::new(),
    halvm: Vec::new(),
    lvm: Vec::new(),
});

type Sink = Box<dyn FnMut(&[u8]) + Send>;
static SINK: Mutex<Option<Sink>> = Mutex::new(None);

/// Why a text says no VG.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TextError {
    #[error(transparent)]
    Parse(#[from] lvmeta_text::ParseError),
    #[error("{0}")]
    Model(String),
}

/// What `text` says: the one place a VG's metadata text becomes its model.
pub(crate) fn parse(text: &str) -> Result<VolumeGroup, TextError> {
    let doc = lvmeta_text::parse(text)?;
    VolumeGroup::from_metadata(&doc).map_err(|e| TextError::Model(e.to_string()))
}

/// Parses what workers reported (datagrams, oldest first) for the processes forked from now
/// on: the newest report of each VG, halvm.toml path or lvm.conf directory only, unless
/// remembered already; a report that does not decode or parse is left out. Returns whether
/// the memo changed (the children forked before lack it).
pub fn learn(reports: Vec<Vec<u8>>) -> bool {
    let mut seen: Vec<(u8, Vec<u8>)> = Vec::new();
    let mut changed = false;
    for bytes in reports.iter().rev() {
        let Some(report) = Report::decode(bytes) else {
            continue;
        };
        // What a newer report of the same thing replaces.
        use std::os::unix::ffi::OsStrExt;
        let key = match report {
            Report::Vg(text) => match crate::ops::peek(text) {
                Some((name, _)) => (KIND_VG, name.as_bytes().to_vec()),
                None => continue,
            },
            Report::Halvm { path, .. } => (KIND_HALVM, path.as_os_str().as_bytes().to_vec()),
            Report::Lvm { dir, .. } => (KIND_LVM, dir.as_os_str().as_bytes().to_vec()),
        };
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        changed |= learn_one(report);
    }
    changed
}

fn learn_one(report: Report<'_>) -> bool {
    match report {
        Report::Vg(text) => {
            if knows(text) {
                return false;
            }
            match parse(text) {
                Ok(vg) => {
                    log::debug!("parsed ahead: VG {} seqno {}", vg.name, vg.seqno);
                    remember(text.to_string(), vg)
                }
                Err(e) => {
                    log::debug!("not parsed ahead: a VG's text: {e}");
                    false
                }
            }
        }
        Report::Halvm { path, text } => {
            let mut m = lock(&MEMO);
            if m.halvm.iter().any(|e| e.path == path && e.text == text) {
                return false;
            }
            let parsed = halvm_config::Config::parse(text, path).map(|config| HalvmEntry {
                path: path.to_path_buf(),
                text: text.to_string(),
                config,
            });
            keep_config(&mut m.halvm, parsed, path.display())
        }
        Report::Lvm { dir, main, local } => {
            let mut m = lock(&MEMO);
            if m.lvm
                .iter()
                .any(|e| e.dir == dir && e.main == main && e.local == local)
            {
                return false;
            }
            let parsed = LvmConf::from_texts(dir, main, local).map(|conf| LvmEntry {
                dir: dir.to_path_buf(),
                main: main.to_string(),
                local: local.to_string(),
                conf,
            });
            keep_config(&mut m.lvm, parsed, format!("lvm.conf in {}", dir.display()))
        }
    }
}

/// Puts a configuration parsed ahead first in `list`, of which the newest [`MAX_CONFIGS`]
/// are kept; one that did not parse is left out (the command that reads it reports why).
/// Returns whether the memo changed.
fn keep_config<E, Err: std::fmt::Display>(
    list: &mut Vec<E>,
    parsed: Result<E, Err>,
    what: impl std::fmt::Display,
) -> bool {
    match parsed {
        Ok(entry) => {
            log::debug!("parsed ahead: {what}");
            list.insert(0, entry);
            list.truncate(MAX_CONFIGS);
            true
        }
        Err(e) => {
            log::debug!("not parsed ahead: {what}: {e}");
            false
        }
    }
}

/// Keeps `vg`, parsed from `text`; the newest [`MAX_ENTRIES`] are kept, one per text.
/// Returns whether the memo changed.
fn remember(text: String, vg: VolumeGroup) -> bool {
    if text.len() > MAX_TEXT || knows(&text) {
        return false;
    }
    let mut m = lock(&MEMO);
    m.vgs.insert(0, Entry { text, vg });
    m.vgs.truncate(MAX_ENTRIES);
    true
}

/// Whether `text` is remembered.
fn knows(text: &str) -> bool {
    lock(&MEMO).vgs.iter().any(|e| e.text == text)
}

/// The model of `text` if it was remembered: taken out (this process runs one command).
pub(crate) fn take(text: &str) -> Option<VolumeGroup> {
    let mut m = lock(&MEMO);
    let i = m.vgs.iter().position(|e| e.text == text)?;
    Some(m.vgs.swap_remove(i).vg)
}

/// What halvm.toml's `text`, read from `path`, says, if remembered: taken out.
pub(crate) fn take_halvm(path: &Path, text: &str) -> Option<halvm_config::Config> {
    let mut m = lock(&MEMO);
    let i = m
        .halvm
        .iter()
        .position(|e| e.path == path && e.text == text)?;
    Some(m.halvm.swap_remove(i).config)
}

/// What lvm.conf's and lvmlocal.conf's texts in `dir` say, if remembered: taken out.
pub(crate) fn take_lvm(dir: &Path, main: &str, local: &str) -> Option<LvmConf> {
    let mut m = lock(&MEMO);
    let i = m
        .lvm
        .iter()
        .position(|e| e.dir == dir && e.main == main && e.local == local)?;
    Some(m.lvm.swap_remove(i).conf)
}

/// Where this process reports what is worth remembering, as datagrams (a worker: to its
/// server).
pub fn set_sink(sink: impl FnMut(&[u8]) + Send + 'static) {
    *lock(&SINK) = Some(Box::new(sink));
}

/// Whether reports are taken (a copy of a committed text is made only then).
pub(crate) fn wanted() -> bool {
    lock(&SINK).is_some()
}

/// Reports `report` (read and parsed, or committed) to the sink, if any; one larger than
/// [`MAX_TEXT`] is not.
pub(crate) fn report(report: Report<'_>) {
    if let Some(s) = lock(&SINK).as_mut() {
        let bytes = report.encode();
        if bytes.len() <= MAX_TEXT {
            s(&bytes);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn vg_text(name: &str, seqno: u64) -> String {
        format!(
            "{name} {{\nid = \"aaaaaa-aaaa-aaaa-aaaa-aaaa-aaaa-aaaaaa\"\nseqno = {seqno}\nformat = \"lvm2\"\n\
             status = [\"RESIZEABLE\", \"READ\", \"WRITE\"]\nflags = []\nextent_size = 8192\n\
             max_lv = 0\nmax_pv = 0\nmetadata_copies = 0\n}}\ncontents = \"Text Format Volume Group\"\nversion = 1\n"
        )
    }

    fn vg(text: &str) -> Vec<u8> {
        Report::Vg(text).encode()
    }

    // One test: the memo is this process's.
    #[test]
    fn a_text_finds_its_model_only_when_equal_byte_for_byte() {
        let a = vg_text("vga", 3);
        let model = parse(&a).unwrap();
        assert_eq!((model.name.as_str(), model.seqno), ("vga", 3));
        assert!(remember(a.clone(), model.clone()));
        assert!(!remember(a.clone(), model.clone()), "the same text twice");
        // One byte off (a space, the next seqno): not it.
        assert!(take(&a.replace("seqno = 3", "seqno  = 3")).is_none());
        assert!(take(&vg_text("vga", 4)).is_none());
        assert_eq!(take(&a), Some(model.clone()));
        assert!(take(&a).is_none(), "taken once");
        // Bounded: the oldest texts go.
        for s in 0..MAX_ENTRIES as u64 + 2 {
            let t = vg_text("vgb", 100 + s);
            let v = parse(&t).unwrap();
            assert!(remember(t, v));
        }
        assert!(!knows(&vg_text("vgb", 100)) && !knows(&vg_text("vgb", 101)));
        assert!(knows(&vg_text("vgb", 102)));
        assert_eq!(lock(&MEMO).vgs.len(), MAX_ENTRIES);
        assert!(!remember("x".repeat(MAX_TEXT + 1), model));
        // Learning: the newest text of each VG, once; garbage is left out.
        let (c1, c2, d) = (vg_text("vgc", 1), vg_text("vgc", 2), vg_text("vgd", 1));
        assert!(learn(vec![vg(&c1), b"garbage".to_vec(), vg(&d), vg(&c2)]));
        assert!(knows(&c2) && knows(&d) && !knows(&c1));
        assert!(!learn(vec![vg(&c2)]), "known already");

        // Configuration: what a path's (a directory's) very text says, and nothing else.
        let toml = "[locking]\nlock_manager = \"dlm\"\n";
        let path = Path::new("/etc/halvm/halvm.toml");
        let conf = "global { use_lvmlockd = 1 }\n";
        let local = "local { system_id = \"n1\" }\n";
        let dir = Path::new("/etc/lvm");
        let reports = vec![
            Report::Halvm { path, text: toml }.encode(),
            Report::Lvm {
                dir,
                main: conf,
                local,
            }
            .encode(),
            // Not parsed: a bad file is the command's to report.
            Report::Halvm {
                path: Path::new("/bad.toml"),
                text: "[locking",
            }
            .encode(),
        ];
        assert!(learn(reports.clone()));
        assert!(!learn(reports), "known already");
        assert!(take_halvm(Path::new("/other.toml"), toml).is_none());
        assert!(take_halvm(path, &toml.replace("dlm", "none")).is_none());
        assert!(take_halvm(Path::new("/bad.toml"), "[locking").is_none());
        let c = take_halvm(path, toml).unwrap();
        assert_eq!(c, halvm_config::Config::parse(toml, path).unwrap());
        assert!(take_halvm(path, toml).is_none(), "taken once");
        assert!(take_lvm(dir, conf, "").is_none());
        assert!(take_lvm(Path::new("/etc/lvm2"), conf, local).is_none());
        let l = take_lvm(dir, conf, local).unwrap();
        assert!(l.use_lvmlockd);
        assert_eq!(l.local_system_id.as_deref(), Some("n1"));
        assert_eq!(l.dir, dir);
        // Bounded too.
        for i in 0..MAX_CONFIGS + 2 {
            let p = PathBuf::from(format!("/etc/halvm/{i}.toml"));
            assert!(learn(vec![Report::Halvm {
                path: &p,
                text: toml
            }
            .encode()]));
        }
        assert_eq!(lock(&MEMO).halvm.len(), MAX_CONFIGS);

        // Reports reach the sink, as datagrams.
        let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        assert!(!wanted());
        set_sink(move |t| s2.lock().unwrap().push(t.to_vec()));
        assert!(wanted());
        report(Report::Vg("abc"));
        report(Report::Vg(&"x".repeat(MAX_TEXT)));
        assert_eq!(
            *seen.lock().unwrap(),
            vec![vg("abc")],
            "too large: not sent"
        );
    }

    fn text() -> impl Strategy<Value = String> {
        proptest::string::string_regex("(?s).{0,40}").unwrap()
    }

    proptest! {
        #[test]
        fn reports_decode_as_encoded(
            kind in 0..3u8,
            a in text(),
            b in text(),
            c in text(),
            p in proptest::collection::vec(1..=255u8, 0..30),
        ) {
            use std::os::unix::ffi::OsStrExt;
            let path = Path::new(std::ffi::OsStr::from_bytes(&p));
            let r = match kind {
                0 => Report::Vg(&a),
                1 => Report::Halvm { path, text: &a },
                _ => Report::Lvm { dir: path, main: &b, local: &c },
            };
            let bytes = r.encode();
            prop_assert_eq!(Report::decode(&bytes), Some(r));
            // Cut short: never a panic, and never the whole report.
            for cut in 0..bytes.len() {
                prop_assert_ne!(Report::decode(&bytes[..cut]), Some(r));
            }
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Some(r) = Report::decode(&bytes) {
                prop_assert_eq!(r.encode(), bytes);
            }
        }
    }
}
