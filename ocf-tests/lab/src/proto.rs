//! Wire format of the control channel: a frame is a u32 count of fields followed by each field
//! as a u32 length and its bytes (all little-endian). One request and one reply per connection.

use std::io::{self, Read, Write};

/// Largest field accepted, so a corrupt length cannot make us allocate gigabytes.
pub const MAX_FIELD: usize = 256 << 20;
/// Largest number of fields in a frame.
pub const MAX_FIELDS: usize = 4096;
/// TCP port the guest agent listens on (control network only).
pub const AGENT_PORT: u16 = 7000;
/// TCP port the host's fence/power service listens on, on the control bridge.
pub const POWER_PORT: u16 = 7101;

pub fn write_frame(w: &mut impl Write, fields: &[&[u8]]) -> io::Result<()> {
    let mut buf = Vec::new();
    buf.extend_from_slice(&(fields.len() as u32).to_le_bytes());
    for f in fields {
        buf.extend_from_slice(&(f.len() as u32).to_le_bytes());
        buf.extend_from_slice(f);
    }
    w.write_all(&buf)?;
    w.flush()
}

fn read_u32(r: &mut impl Read) -> io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

pub fn read_frame(r: &mut impl Read) -> io::Result<Vec<Vec<u8>>> {
    let n = read_u32(r)? as usize;
    if n > MAX_FIELDS {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{n} fields"),
        ));
    }
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let len = read_u32(r)? as usize;
        if len > MAX_FIELD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("field of {len} bytes"),
            ));
        }
        let mut f = vec![0u8; len];
        r.read_exact(&mut f)?;
        out.push(f);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_roundtrip() {
        let mut buf = Vec::new();
        write_frame(&mut buf, &[b"run", b"", b"\x00\xff"]).unwrap();
        let back = read_frame(&mut buf.as_slice()).unwrap();
        assert_eq!(back, vec![b"run".to_vec(), vec![], vec![0, 255]]);
    }

    #[test]
    fn frame_rejects_huge_length() {
        let mut buf = Vec::new();
        buf.extend_from_slice(&1u32.to_le_bytes());
        buf.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(read_frame(&mut buf.as_slice()).is_err());
    }

    #[test]
    fn frame_truncated_is_error() {
        let mut buf = Vec::new();
        write_frame(&mut buf, &[b"hello"]).unwrap();
        buf.pop();
        assert!(read_frame(&mut buf.as_slice()).is_err());
    }
}
