//! Fuzzes both ends' frame readers: arbitrary bytes, read in pieces of a size given by the
//! first byte. Properties: nothing panics; a frame that decodes is within every bound and
//! re-encodes to exactly the bytes it came from; `decode` and the streaming `read_frame`
//! agree.
#![no_main]

use lvmeta_forward::codec::{
    decode, encode, read_frame, Frame, HEADER_LEN, MAX_ARGS, MAX_ARGV_BYTES, MAX_ENV,
    MAX_ENV_BYTES, MAX_FRAME,
};
use libfuzzer_sys::fuzz_target;

/// A reader that hands out at most `piece` bytes per read, as a socket may.
struct Pieces<'a> {
    data: &'a [u8],
    piece: usize,
}

impl std::io::Read for Pieces<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.piece.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let whole = decode(rest);
    if let Ok((f, used)) = &whole {
        assert!(*used >= HEADER_LEN && *used <= MAX_FRAME);
        assert_eq!(encode(f).expect("a decoded frame encodes"), rest[..*used]);
        if let Frame::Request(r) = f {
            assert!(!r.argv.is_empty() && r.argv.len() <= MAX_ARGS);
            assert!(r.argv.iter().map(String::len).sum::<usize>() <= MAX_ARGV_BYTES);
            assert!(r.env.len() <= MAX_ENV);
            assert!(r.env.iter().map(Vec::len).sum::<usize>() <= MAX_ENV_BYTES);
        }
    }
    let mut r = Pieces {
        data: rest,
        piece: usize::from(split).max(1),
    };
    match (read_frame(&mut r), whole) {
        (Ok(Some(a)), Ok((b, _))) => assert_eq!(a, b),
        (Ok(Some(_)), Err(e)) => panic!("read_frame decoded what decode refused: {e}"),
        (Ok(None), _) => assert!(rest.is_empty()),
        (Err(_), Ok(_)) => panic!("decode took what read_frame refused"),
        (Err(_), Err(_)) => {}
    }
});
