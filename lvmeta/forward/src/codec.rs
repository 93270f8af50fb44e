//! The frames. Every frame is a 12-byte header then a body:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `LVMF` |
//! | 4 | 2 | protocol version, little-endian |
//! | 6 | 1 | kind |
//! | 7 | 1 | reserved, 0 |
//! | 8 | 4 | body length, little-endian, at most [`MAX_FRAME`] − 12 |
//!
//! Bodies: Request = umask u32, argc u32, argc × (u32 length, UTF-8 bytes), envc u32,
//! envc × (u32 length, `NAME=VALUE` bytes); Signal = signal number i32; Accepted = empty;
//! Exit = exit code i32 (0..=255); Refused = UTF-8 reason. All integers little-endian;
//! every count and size is bounded before anything is allocated for it.

use std::io::Read;

pub const MAGIC: [u8; 4] = *b"LVMF";
pub const VERSION: u16 = 1;
pub const HEADER_LEN: usize = 12;
const OFF_VERSION: usize = 4;
const OFF_KIND: usize = 6;
const OFF_RESERVED: usize = 7;
const OFF_LEN: usize = 8;

/// A whole frame, header included.
pub const MAX_FRAME: usize = 1 << 20;
/// Command-line arguments, argv[0] included (at least 1).
pub const MAX_ARGS: usize = 4096;
/// Their bytes together.
pub const MAX_ARGV_BYTES: usize = 256 << 10;
/// Environment entries.
pub const MAX_ENV: usize = 4096;
/// Their bytes together.
pub const MAX_ENV_BYTES: usize = 640 << 10;
/// A refusal's reason.
pub const MAX_REASON: usize = 4096;
/// The fds a request carries: the client's stdin, stdout, stderr and its cwd.
pub const REQUEST_FDS: usize = 4;

const KIND_REQUEST: u8 = 0x01;
const KIND_SIGNAL: u8 = 0x02;
const KIND_ACCEPTED: u8 = 0x81;
const KIND_EXIT: u8 = 0x82;
const KIND_REFUSED: u8 = 0x83;

/// A command to run: lvmeta's argv (argv[0] included), the environment as `NAME=VALUE`
/// byte strings, and the umask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub argv: Vec<String>,
    pub env: Vec<Vec<u8>>,
    pub umask: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Client → worker, first: the command.
    Request(Request),
    /// Client → worker, after the request: a signal the client received.
    Signal(i32),
    /// Worker → client: the worker runs the command; the client must never run it itself.
    Accepted,
    /// Worker → client, last: the command's exit code.
    Exit(i32),
    /// Worker → client, instead of `Accepted`: not served here; the client runs the command.
    Refused(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("truncated frame: {have} of {need} bytes")]
    Truncated { have: usize, need: usize },
    #[error("not an lvmeta-server frame (magic {found:02x?})")]
    BadMagic { found: [u8; 4] },
    #[error("protocol version {found}, this side speaks {VERSION}")]
    Version { found: u16 },
    #[error("unknown frame kind {kind:#04x}")]
    Kind { kind: u8 },
    #[error("reserved header byte is {value}, not 0")]
    Reserved { value: u8 },
    #[error("frame of {len} bytes is over the limit of {max}")]
    TooLong { len: usize, max: usize },
    #[error("{what}: {count} is over the limit of {max}")]
    TooMany {
        what: &'static str,
        count: usize,
        max: usize,
    },
    #[error("{what} {index} is not UTF-8")]
    NotUtf8 { what: &'static str, index: usize },
    #[error("{what} {index} contains a NUL byte")]
    Nul { what: &'static str, index: usize },
    #[error("environment entry {index} has no NAME= part")]
    BadEnv { index: usize },
    #[error("a request has no argv[0]")]
    NoArgv0,
    #[error("{what} {value} is out of range")]
    Range { what: &'static str, value: i64 },
    #[error("{extra} bytes after the end of a {kind} body")]
    Trailing { kind: &'static str, extra: usize },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// Rendered by the client as "too large to forward": it then runs the command itself.
    #[error(transparent)]
    Invalid(#[from] DecodeError),
}

/// What a valid header announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub kind: u8,
    pub body_len: usize,
}

/// Checks a frame header: magic, version, kind, reserved byte, body length within bounds.
pub fn parse_header(h: &[u8]) -> Result<Header, DecodeError> {
    if h.len() < HEADER_LEN {
        return Err(DecodeError::Truncated {
            have: h.len(),
            need: HEADER_LEN,
        });
    }
    let magic: [u8; 4] = h[..4].try_into().expect("4 bytes");
    if magic != MAGIC {
        return Err(DecodeError::BadMagic { found: magic });
    }
    let version = u16::from_le_bytes([h[OFF_VERSION], h[OFF_VERSION + 1]]);
    if version != VERSION {
        return Err(DecodeError::Version { found: version });
    }
    let kind = h[OFF_KIND];
    if !matches!(
        kind,
        KIND_REQUEST | KIND_SIGNAL | KIND_ACCEPTED | KIND_EXIT | KIND_REFUSED
    ) {
        return Err(DecodeError::Kind { kind });
    }
    if h[OFF_RESERVED] != 0 {
        return Err(DecodeError::Reserved {
            value: h[OFF_RESERVED],
        });
    }
    let len = u32::from_le_bytes(h[OFF_LEN..OFF_LEN + 4].try_into().expect("4 bytes")) as usize;
    if len > MAX_FRAME - HEADER_LEN {
        return Err(DecodeError::TooLong {
            len: len.saturating_add(HEADER_LEN),
            max: MAX_FRAME,
        });
    }
    Ok(Header {
        kind,
        body_len: len,
    })
}

/// A frame from the start of `buf`, and how many bytes it took.
pub fn decode(buf: &[u8]) -> Result<(Frame, usize), DecodeError> {
    let h = parse_header(buf)?;
    let end = HEADER_LEN + h.body_len;
    if buf.len() < end {
        return Err(DecodeError::Truncated {
            have: buf.len(),
            need: end,
        });
    }
    Ok((decode_body(h.kind, &buf[HEADER_LEN..end])?, end))
}

/// Reads one frame from `r`: `Ok(None)` on end of file before its first byte.
pub fn read_frame(r: &mut impl Read) -> Result<Option<Frame>, ReadError> {
    let mut h = [0u8; HEADER_LEN];
    let mut got = 0;
    while got < HEADER_LEN {
        match r.read(&mut h[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => {
                return Err(ReadError::Decode(DecodeError::Truncated {
                    have: got,
                    need: HEADER_LEN,
                }))
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ReadError::Io(e)),
        }
    }
    let header = parse_header(&h)?;
    read_body(r, header).map(Some)
}

/// The body of a frame whose header was read and checked, from `r`.
pub fn read_body(r: &mut impl Read, header: Header) -> Result<Frame, ReadError> {
    // Bounded by parse_header: at most MAX_FRAME.
    let mut body = vec![0u8; header.body_len];
    let mut got = 0;
    while got < body.len() {
        match r.read(&mut body[got..]) {
            Ok(0) => {
                return Err(ReadError::Decode(DecodeError::Truncated {
                    have: HEADER_LEN + got,
                    need: HEADER_LEN + body.len(),
                }))
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ReadError::Io(e)),
        }
    }
    Ok(decode_body(header.kind, &body)?)
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("{0}")]
    Io(std::io::Error),
}

/// A frame's bytes, header included; anything over a bound is refused, as the reader would.
pub fn encode(f: &Frame) -> Result<Vec<u8>, EncodeError> {
    let mut body = Vec::new();
    let kind = match f {
        Frame::Request(r) => {
            check_request(r)?;
            put_u32(&mut body, r.umask);
            put_u32(&mut body, r.argv.len() as u32);
            for a in &r.argv {
                put_bytes(&mut body, a.as_bytes());
            }
            put_u32(&mut body, r.env.len() as u32);
            for e in &r.env {
                put_bytes(&mut body, e);
            }
            KIND_REQUEST
        }
        Frame::Signal(n) => {
            check_signal(*n)?;
            body.extend_from_slice(&n.to_le_bytes());
            KIND_SIGNAL
        }
        Frame::Accepted => KIND_ACCEPTED,
        Frame::Exit(c) => {
            check_exit(*c)?;
            body.extend_from_slice(&c.to_le_bytes());
            KIND_EXIT
        }
        Frame::Refused(reason) => {
            check_reason(reason.as_bytes())?;
            body.extend_from_slice(reason.as_bytes());
            KIND_REFUSED
        }
    };
    if HEADER_LEN + body.len() > MAX_FRAME {
        return Err(DecodeError::TooLong {
            len: HEADER_LEN + body.len(),
            max: MAX_FRAME,
        }
        .into());
    }
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.push(kind);
    out.push(0);
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_u32(out, b.len() as u32);
    out.extend_from_slice(b);
}

fn check_signal(n: i32) -> Result<(), DecodeError> {
    if (1..=64).contains(&n) {
        Ok(())
    } else {
        Err(DecodeError::Range {
            what: "signal",
            value: n.into(),
        })
    }
}

fn check_exit(c: i32) -> Result<(), DecodeError> {
    if (0..=255).contains(&c) {
        Ok(())
    } else {
        Err(DecodeError::Range {
            what: "exit code",
            value: c.into(),
        })
    }
}

fn check_reason(r: &[u8]) -> Result<(), DecodeError> {
    if r.len() > MAX_REASON {
        return Err(DecodeError::TooMany {
            what: "refusal reason bytes",
            count: r.len(),
            max: MAX_REASON,
        });
    }
    Ok(())
}

fn check_umask(m: u32) -> Result<(), DecodeError> {
    if m <= 0o777 {
        Ok(())
    } else {
        Err(DecodeError::Range {
            what: "umask",
            value: m.into(),
        })
    }
}

/// What the worker needs to apply a request without panicking: argv[0] present, no NUL in
/// an argument, env entries `NAME=VALUE` with a non-empty NAME and no NUL (what
/// `std::env::set_var` asserts), everything within bounds.
fn check_request(r: &Request) -> Result<(), DecodeError> {
    check_umask(r.umask)?;
    if r.argv.is_empty() {
        return Err(DecodeError::NoArgv0);
    }
    bounded("arguments", r.argv.len(), MAX_ARGS)?;
    bounded(
        "argument bytes",
        r.argv.iter().map(String::len).sum(),
        MAX_ARGV_BYTES,
    )?;
    for (i, a) in r.argv.iter().enumerate() {
        check_arg(a.as_bytes(), i)?;
    }
    bounded("environment entries", r.env.len(), MAX_ENV)?;
    bounded(
        "environment bytes",
        r.env.iter().map(Vec::len).sum(),
        MAX_ENV_BYTES,
    )?;
    for (i, e) in r.env.iter().enumerate() {
        check_env(e, i)?;
    }
    Ok(())
}

fn bounded(what: &'static str, count: usize, max: usize) -> Result<(), DecodeError> {
    if count > max {
        Err(DecodeError::TooMany { what, count, max })
    } else {
        Ok(())
    }
}

fn check_arg(a: &[u8], index: usize) -> Result<(), DecodeError> {
    if a.contains(&0) {
        return Err(DecodeError::Nul {
            what: "argument",
            index,
        });
    }
    Ok(())
}

/// `NAME=VALUE`, NAME non-empty (it may not hold '=' as set_var requires: the first '='
/// ends it), no NUL anywhere.
pub fn check_env(e: &[u8], index: usize) -> Result<(), DecodeError> {
    if e.contains(&0) {
        return Err(DecodeError::Nul {
            what: "environment entry",
            index,
        });
    }
    match e.iter().position(|&b| b == b'=') {
        Some(p) if p > 0 => Ok(()),
        _ => Err(DecodeError::BadEnv { index }),
    }
}

/// A cursor over a body that refuses to read past its end.
struct Body<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Body<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or(DecodeError::Truncated {
                have: HEADER_LEN + self.b.len(),
                need: HEADER_LEN.saturating_add(self.at).saturating_add(n),
            })?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn i32(&mut self) -> Result<i32, DecodeError> {
        Ok(i32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    /// `count` length-prefixed byte strings, the count and their total bounded (each bound a
    /// name and a maximum, for the error).
    fn strings(
        &mut self,
        count: usize,
        (counted, max_count): (&'static str, usize),
        (summed, max_bytes): (&'static str, usize),
    ) -> Result<Vec<&'a [u8]>, DecodeError> {
        bounded(counted, count, max_count)?;
        let mut out = Vec::with_capacity(count);
        let mut bytes = 0usize;
        for _ in 0..count {
            let n = self.u32()? as usize;
            bytes = bytes.saturating_add(n);
            bounded(summed, bytes, max_bytes)?;
            out.push(self.take(n)?);
        }
        Ok(out)
    }

    fn end(&self, kind: &'static str) -> Result<(), DecodeError> {
        match self.b.len() - self.at {
            0 => Ok(()),
            extra => Err(DecodeError::Trailing { kind, extra }),
        }
    }
}

/// A body of `kind` (from a checked header).
pub fn decode_body(kind: u8, body: &[u8]) -> Result<Frame, DecodeError> {
    if HEADER_LEN + body.len() > MAX_FRAME {
        return Err(DecodeError::TooLong {
            len: HEADER_LEN + body.len(),
            max: MAX_FRAME,
        });
    }
    let mut b = Body { b: body, at: 0 };
    let f = match kind {
        KIND_REQUEST => {
            let umask = b.u32()?;
            check_umask(umask)?;
            let argc = b.u32()? as usize;
            if argc == 0 {
                return Err(DecodeError::NoArgv0);
            }
            let args = b.strings(
                argc,
                ("arguments", MAX_ARGS),
                ("argument bytes", MAX_ARGV_BYTES),
            )?;
            let mut argv = Vec::with_capacity(argc);
            for (index, a) in args.into_iter().enumerate() {
                check_arg(a, index)?;
                let a = std::str::from_utf8(a).map_err(|_| DecodeError::NotUtf8 {
                    what: "argument",
                    index,
                })?;
                argv.push(a.to_string());
            }
            let envc = b.u32()? as usize;
            let entries = b.strings(
                envc,
                ("environment entries", MAX_ENV),
                ("environment bytes", MAX_ENV_BYTES),
            )?;
            let mut env = Vec::with_capacity(envc);
            for (index, e) in entries.into_iter().enumerate() {
                check_env(e, index)?;
                env.push(e.to_vec());
            }
            b.end("request")?;
            Frame::Request(Request { argv, env, umask })
        }
        KIND_SIGNAL => {
            let n = b.i32()?;
            b.end("signal")?;
            check_signal(n)?;
            Frame::Signal(n)
        }
        KIND_ACCEPTED => {
            b.end("accepted")?;
            Frame::Accepted
        }
        KIND_EXIT => {
            let c = b.i32()?;
            b.end("exit")?;
            check_exit(c)?;
            Frame::Exit(c)
        }
        KIND_REFUSED => {
            check_reason(body)?;
            let r = std::str::from_utf8(body).map_err(|_| DecodeError::NotUtf8 {
                what: "refusal reason",
                index: 0,
            })?;
            Frame::Refused(r.to_string())
        }
        kind => return Err(DecodeError::Kind { kind }),
    };
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn request() -> impl Strategy<Value = Request> {
        (
            prop::collection::vec("[^\u{0}]{0,12}", 1..8),
            prop::collection::vec(
                (
                    "[A-Za-z_][A-Za-z0-9_]{0,8}",
                    prop::collection::vec(1u8..=255, 0..16),
                ),
                0..8,
            ),
            0u32..=0o777,
        )
            .prop_map(|(argv, env, umask)| Request {
                argv,
                env: env
                    .into_iter()
                    .map(|(k, v)| {
                        let mut e = k.into_bytes();
                        e.push(b'=');
                        e.extend(v);
                        e
                    })
                    .collect(),
                umask,
            })
    }

    fn frame() -> impl Strategy<Value = Frame> {
        prop_oneof![
            request().prop_map(Frame::Request),
            (1i32..=64).prop_map(Frame::Signal),
            Just(Frame::Accepted),
            (0i32..=255).prop_map(Frame::Exit),
            ".{0,40}".prop_map(Frame::Refused),
        ]
    }

    proptest! {
        #[test]
        fn frames_roundtrip(f in frame()) {
            let bytes = encode(&f).unwrap();
            prop_assert_eq!(decode(&bytes).unwrap(), (f.clone(), bytes.len()));
            let mut r = &bytes[..];
            prop_assert_eq!(read_frame(&mut r).unwrap(), Some(f));
        }

        #[test]
        fn truncated_frames_are_refused(f in frame(), cut in 0usize..1000) {
            let bytes = encode(&f).unwrap();
            let cut = cut % bytes.len();
            let truncated = matches!(decode(&bytes[..cut]), Err(DecodeError::Truncated { .. }));
            prop_assert!(truncated, "cut at {}", cut);
            let mut r = &bytes[..cut];
            let got = read_frame(&mut r);
            if cut == 0 {
                prop_assert!(got.is_ok_and(|g| g.is_none()));
            } else {
                let truncated = matches!(got, Err(ReadError::Decode(DecodeError::Truncated { .. })));
                prop_assert!(truncated, "cut at {}", cut);
            }
        }

        #[test]
        fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&bytes);
            let _ = read_frame(&mut &bytes[..]);
        }

        #[test]
        fn garbage_bodies_never_panic(kind in prop_oneof![Just(KIND_REQUEST), Just(KIND_SIGNAL),
                Just(KIND_ACCEPTED), Just(KIND_EXIT), Just(KIND_REFUSED)],
                body in prop::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(f) = decode_body(kind, &body) {
                // Whatever decodes is valid: it encodes back to the same body.
                prop_assert_eq!(&encode(&f).unwrap()[HEADER_LEN..], &body[..]);
            }
        }

        #[test]
        fn flipped_bytes_decode_to_valid_frames_or_errors(f in frame(), at in any::<usize>(), x in 1u8..=255) {
            let mut bytes = encode(&f).unwrap();
            let i = at % bytes.len();
            bytes[i] ^= x;
            if let Ok((g, used)) = decode(&bytes) {
                prop_assert_eq!(encode(&g).unwrap(), bytes[..used].to_vec());
            }
        }
    }

    fn header(kind: u8, len: u32) -> Vec<u8> {
        let mut h = MAGIC.to_vec();
        h.extend_from_slice(&VERSION.to_le_bytes());
        h.push(kind);
        h.push(0);
        h.extend_from_slice(&len.to_le_bytes());
        h
    }

    #[test]
    fn oversized_frames_are_refused_from_the_header() {
        let h = header(KIND_REQUEST, (MAX_FRAME - HEADER_LEN + 1) as u32);
        assert_eq!(
            parse_header(&h),
            Err(DecodeError::TooLong {
                len: MAX_FRAME + 1,
                max: MAX_FRAME
            })
        );
        assert!(parse_header(&header(KIND_REQUEST, u32::MAX)).is_err());
        // The largest body is announced fine (and then must arrive).
        assert!(parse_header(&header(KIND_REQUEST, (MAX_FRAME - HEADER_LEN) as u32)).is_ok());
    }

    #[test]
    fn counts_are_bounded_before_allocating() {
        let mut b = Vec::new();
        put_u32(&mut b, 0o022);
        put_u32(&mut b, u32::MAX);
        assert_eq!(
            decode_body(KIND_REQUEST, &b),
            Err(DecodeError::TooMany {
                what: "arguments",
                count: u32::MAX as usize,
                max: MAX_ARGS
            })
        );
        let mut b = Vec::new();
        put_u32(&mut b, 0o022);
        put_u32(&mut b, 1);
        put_u32(&mut b, (MAX_ARGV_BYTES + 1) as u32);
        assert!(matches!(
            decode_body(KIND_REQUEST, &b),
            Err(DecodeError::TooMany {
                what: "argument bytes",
                ..
            })
        ));
    }

    #[test]
    fn requests_over_a_bound_do_not_encode() {
        let big = Request {
            argv: vec!["lvmeta".into(), "x".repeat(MAX_ARGV_BYTES)],
            env: vec![],
            umask: 0o022,
        };
        assert!(encode(&Frame::Request(big)).is_err());
        let env = Request {
            argv: vec!["lvmeta".into()],
            env: vec![b"=x".to_vec()],
            umask: 0o022,
        };
        assert_eq!(
            encode(&Frame::Request(env)),
            Err(EncodeError::Invalid(DecodeError::BadEnv { index: 0 }))
        );
        let nul = Request {
            argv: vec!["lv\0meta".into()],
            env: vec![],
            umask: 0o022,
        };
        assert!(encode(&Frame::Request(nul)).is_err());
        assert!(encode(&Frame::Exit(256)).is_err());
        assert!(encode(&Frame::Signal(0)).is_err());
    }

    #[test]
    fn header_fields_are_checked() {
        let mut h = header(KIND_EXIT, 4);
        h[0] = b'X';
        assert!(matches!(
            parse_header(&h),
            Err(DecodeError::BadMagic { .. })
        ));
        let mut h = header(KIND_EXIT, 4);
        h[OFF_VERSION] = 2;
        assert_eq!(parse_header(&h), Err(DecodeError::Version { found: 2 }));
        assert_eq!(
            parse_header(&header(0x7f, 0)),
            Err(DecodeError::Kind { kind: 0x7f })
        );
        let mut h = header(KIND_EXIT, 4);
        h[OFF_RESERVED] = 1;
        assert_eq!(parse_header(&h), Err(DecodeError::Reserved { value: 1 }));
    }
}
