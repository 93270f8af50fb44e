//! Parsed metadata texts, for a long-lived process that forks the processes running commands
//! (lvmeta-server): what a VG's metadata text says is a pure function of its bytes (parse,
//! then the model), so a command that reads from disk the very bytes parsed before takes that
//! model instead of parsing again. Nothing of the disk is kept or trusted: every command reads
//! the text from the disk, under its locks, as always; the memo only answers "what does this
//! text say" for a text equal to one parsed before, byte for byte. A VG of a few hundred LVs
//! spends a good part of a command in the parse (issue 13: ~8 ms of a 50 ms `lvchange -aey`
//! in the lab's guests).
//!
//! The two sides: the server parses the texts its workers report ([`learn`]) before it
//! forks the next ones, which inherit the memo; a worker takes a text's model from it
//! ([`take`], by [`crate::ops`]' VG read) and reports the texts it read but found nothing for
//! and the texts it committed ([`set_sink`]), which the next command will read.

use std::sync::Mutex;

use lvmeta_model::VolumeGroup;

/// VGs remembered at most (the newest texts; a server serves a few VGs in practice).
pub const MAX_ENTRIES: usize = 8;

/// The largest text remembered or reported. Larger ones are parsed by every command; lvm2's
/// default metadata area (1 MiB) holds texts of ~2,000 LVs.
pub const MAX_TEXT: usize = 4 << 20;

struct Entry {
    text: String,
    vg: VolumeGroup,
}

static MEMO: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

type Sink = Box<dyn FnMut(&str) + Send>;
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

/// Parses `texts` (reported by workers, oldest first) for the processes forked from now on:
/// the newest text of each VG only, unless remembered already. Returns whether the memo
/// changed (the children forked before lack it).
pub fn learn(texts: Vec<String>) -> bool {
    let mut seen: Vec<String> = Vec::new();
    let mut changed = false;
    for text in texts.into_iter().rev() {
        let Some((name, seqno)) = crate::ops::peek(&text) else {
            continue;
        };
        if seen.iter().any(|s| s == name) {
            continue;
        }
        seen.push(name.to_string());
        if knows(&text) {
            continue;
        }
        match parse(&text) {
            Ok(vg) => {
                log::debug!("parsed ahead: VG {name} seqno {seqno}");
                changed |= remember(text, vg);
            }
            Err(e) => log::debug!("not parsed ahead: VG {name}: {e}"),
        }
    }
    changed
}

/// Keeps `vg`, parsed from `text`; the newest [`MAX_ENTRIES`] are kept, one per text.
/// Returns whether the memo changed.
fn remember(text: String, vg: VolumeGroup) -> bool {
    if text.len() > MAX_TEXT || knows(&text) {
        return false;
    }
    let mut m = lock(&MEMO);
    m.insert(0, Entry { text, vg });
    m.truncate(MAX_ENTRIES);
    true
}

/// Whether `text` is remembered.
fn knows(text: &str) -> bool {
    lock(&MEMO).iter().any(|e| e.text == text)
}

/// The model of `text` if it was remembered: taken out (this process runs one command).
pub(crate) fn take(text: &str) -> Option<VolumeGroup> {
    let mut m = lock(&MEMO);
    let i = m.iter().position(|e| e.text == text)?;
    Some(m.swap_remove(i).vg)
}

/// Where this process reports texts worth remembering (a worker: to its server).
pub fn set_sink(sink: impl FnMut(&str) + Send + 'static) {
    *lock(&SINK) = Some(Box::new(sink));
}

/// Whether texts are reported (a copy of a committed text is made only then).
pub(crate) fn wanted() -> bool {
    lock(&SINK).is_some()
}

/// Reports `text` (read and parsed, or committed) to the sink, if any.
pub(crate) fn report(text: &str) {
    if text.len() > MAX_TEXT {
        return;
    }
    if let Some(s) = lock(&SINK).as_mut() {
        s(text);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vg_text(name: &str, seqno: u64) -> String {
        format!(
            "{name} {{\nid = \"aaaaaa-aaaa-aaaa-aaaa-aaaa-aaaa-aaaaaa\"\nseqno = {seqno}\nformat = \"lvm2\"\n\
             status = [\"RESIZEABLE\", \"READ\", \"WRITE\"]\nflags = []\nextent_size = 8192\n\
             max_lv = 0\nmax_pv = 0\nmetadata_copies = 0\n}}\ncontents = \"Text Format Volume Group\"\nversion = 1\n"
        )
    }

    // One test: the memo is this process's.
    #[test]
    fn a_text_finds_its_model_only_when_equal_byte_for_byte() {
        let a = vg_text("vga", 3);
        let vg = parse(&a).unwrap();
        assert_eq!((vg.name.as_str(), vg.seqno), ("vga", 3));
        assert!(remember(a.clone(), vg.clone()));
        assert!(!remember(a.clone(), vg.clone()), "the same text twice");
        // One byte off (a space, the next seqno): not it.
        assert!(take(&a.replace("seqno = 3", "seqno  = 3")).is_none());
        assert!(take(&vg_text("vga", 4)).is_none());
        assert_eq!(take(&a), Some(vg.clone()));
        assert!(take(&a).is_none(), "taken once");
        // Bounded: the oldest texts go.
        for s in 0..MAX_ENTRIES as u64 + 2 {
            let t = vg_text("vgb", 100 + s);
            let v = parse(&t).unwrap();
            assert!(remember(t, v));
        }
        assert!(!knows(&vg_text("vgb", 100)) && !knows(&vg_text("vgb", 101)));
        assert!(knows(&vg_text("vgb", 102)));
        assert_eq!(lock(&MEMO).len(), MAX_ENTRIES);
        assert!(!remember("x".repeat(MAX_TEXT + 1), vg));
        // Learning: the newest text of each VG, once.
        let (c1, c2, d) = (vg_text("vgc", 1), vg_text("vgc", 2), vg_text("vgd", 1));
        assert!(learn(vec![c1.clone(), d.clone(), c2.clone()]));
        assert!(knows(&c2) && knows(&d) && !knows(&c1));
        assert!(!learn(vec![c2.clone()]), "known already");
        // Reports reach the sink.
        let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        assert!(!wanted());
        set_sink(move |t| s2.lock().unwrap().push(t.to_string()));
        assert!(wanted());
        report("abc");
        assert_eq!(*seen.lock().unwrap(), vec!["abc".to_string()]);
    }
}
