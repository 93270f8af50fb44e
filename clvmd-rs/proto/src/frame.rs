//! Length-prefixed frames with a hard maximum.

use std::io::{self, Read, Write};

use serde::{de::DeserializeOwned, Serialize};

pub const HEADER_LEN: usize = 4;
/// Largest request frame the daemon reads: requests are small but for a carried commit's
/// metadata text (its JSON at most twice [`crate::MAX_CARRY_TEXT`]).
pub const MAX_REQUEST: usize = 2 * crate::MAX_CARRY_TEXT + 64 * 1024;
/// Largest response frame a client reads (a status of thousands of LVs fits).
pub const MAX_RESPONSE: usize = 8 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {len} bytes exceeds the maximum of {max}")]
    TooLarge { len: usize, max: usize },
    #[error("empty frame")]
    Empty,
    #[error("bad message: {0}")]
    Json(#[from] serde_json::Error),
    #[error("connection closed mid-frame")]
    Truncated,
    #[error("connection closed")]
    Closed,
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Serializes `msg` into one frame (header included).
pub fn encode_frame<T: Serialize>(msg: &T, max: usize) -> Result<Vec<u8>, FrameError> {
    let body = serde_json::to_vec(msg)?;
    if body.len() > max {
        return Err(FrameError::TooLarge {
            len: body.len(),
            max,
        });
    }
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

/// Decodes one frame from the front of `buf`: `Ok(None)` when more bytes are needed,
/// otherwise the message and the bytes consumed. An oversized length is an error as soon as
/// the header is in, before the body arrives.
pub fn decode_frame<T: DeserializeOwned>(
    buf: &[u8],
    max: usize,
) -> Result<Option<(T, usize)>, FrameError> {
    let Some(header) = buf.get(..HEADER_LEN) else {
        return Ok(None);
    };
    let len = u32::from_le_bytes(header.try_into().expect("4 bytes")) as usize;
    if len > max {
        return Err(FrameError::TooLarge { len, max });
    }
    if len == 0 {
        return Err(FrameError::Empty);
    }
    let Some(body) = buf.get(HEADER_LEN..HEADER_LEN + len) else {
        return Ok(None);
    };
    Ok(Some((serde_json::from_slice(body)?, HEADER_LEN + len)))
}

/// Accumulates bytes from a non-blocking socket and yields whole messages.
#[derive(Debug)]
pub struct FrameReader {
    buf: Vec<u8>,
    max: usize,
}

impl FrameReader {
    pub fn new(max: usize) -> Self {
        FrameReader {
            buf: Vec::new(),
            max,
        }
    }

    /// Appends bytes read from the peer.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next whole message, if any. After an error the connection should be closed.
    pub fn next_message<T: DeserializeOwned>(&mut self) -> Result<Option<T>, FrameError> {
        match decode_frame(&self.buf, self.max)? {
            None => Ok(None),
            Some((msg, used)) => {
                self.buf.drain(..used);
                Ok(Some(msg))
            }
        }
    }

    /// Bytes buffered but not yet a whole frame (bounded by the maximum plus one read).
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

/// Writes one frame to a blocking stream.
pub fn write_frame<T: Serialize>(
    w: &mut impl Write,
    msg: &T,
    max: usize,
) -> Result<(), FrameError> {
    w.write_all(&encode_frame(msg, max)?)?;
    w.flush()?;
    Ok(())
}

/// Reads one frame from a blocking stream.
pub fn read_frame<T: DeserializeOwned>(r: &mut impl Read, max: usize) -> Result<T, FrameError> {
    let mut header = [0u8; HEADER_LEN];
    read_full(r, &mut header, true)?;
    let len = u32::from_le_bytes(header) as usize;
    if len > max {
        return Err(FrameError::TooLarge { len, max });
    }
    if len == 0 {
        return Err(FrameError::Empty);
    }
    let mut body = vec![0u8; len];
    read_full(r, &mut body, false)?;
    Ok(serde_json::from_slice(&body)?)
}

fn read_full(r: &mut impl Read, buf: &mut [u8], at_start: bool) -> Result<(), FrameError> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) if got == 0 && at_start => return Err(FrameError::Closed),
            Ok(0) => return Err(FrameError::Truncated),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
