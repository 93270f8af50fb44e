//! Fuzzes the daemon's side of the socket: arbitrary bytes, fed in arbitrary pieces, into the
//! frame reader. Properties: nothing panics; the reader never buffers more than the maximum
//! frame plus the last piece; whatever decodes re-encodes into a frame that decodes the same;
//! a carried commit's text the daemon would accept is within the bound its frame relies on.
#![no_main]

use clvmd_proto::{
    carry_text_problem, decode_frame, encode_frame, CarryCommit, FrameReader, Request, HEADER_LEN,
    MAX_CARRY_TEXT, MAX_REQUEST,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let piece = usize::from(split).max(1);
    let mut rd = FrameReader::new(MAX_REQUEST);
    'outer: for chunk in rest.chunks(piece) {
        rd.push(chunk);
        loop {
            match rd.next_message::<Request>() {
                Ok(Some(req)) => {
                    if let Request::CarryCommit(CarryCommit { metadata, .. }) = &req {
                        if carry_text_problem(metadata).is_none() {
                            assert!(!metadata.is_empty() && metadata.len() <= MAX_CARRY_TEXT);
                            assert!(!metadata
                                .bytes()
                                .any(|b| b.is_ascii_control() && b != b'\n' && b != b'\t'));
                        }
                    }
                    let f = encode_frame(&req, MAX_REQUEST).expect("a decoded request encodes");
                    let (again, used) = decode_frame::<Request>(&f, MAX_REQUEST)
                        .expect("re-encoded frame decodes")
                        .expect("whole frame");
                    assert_eq!(used, f.len());
                    assert_eq!(again, req);
                }
                Ok(None) => break,
                Err(_) => break 'outer,
            }
        }
        assert!(rd.pending() <= HEADER_LEN + MAX_REQUEST + chunk.len());
    }
});
