//! The clvmd-rs socket protocol.
//!
//! A frame is a 4-byte little-endian length followed by that many bytes of JSON (one
//! [`Request`] or [`Response`]). Lengths above a hard maximum are rejected before anything is
//! allocated. The first request on a connection must be [`Request::Hello`] with
//! [`PROTOCOL_VERSION`]; the daemon answers [`Response::Hello`] or refuses and closes.

mod frame;
mod types;

pub use frame::{
    decode_frame, encode_frame, read_frame, write_frame, FrameError, FrameReader, HEADER_LEN,
    MAX_REQUEST, MAX_RESPONSE,
};
pub use types::*;

/// Bumped on any incompatible change to the messages.
pub const PROTOCOL_VERSION: u32 = 1;

/// Where the daemon listens unless told otherwise.
pub const DEFAULT_SOCKET: &str = "/run/clvmd-rs/clvmd-rs.sock";

/// Where the daemon's quorum fence records the devices it froze, one `<vg>.json` per VG
/// (tmpfs: kernel state does not outlive a reboot either). A record outlives the daemon.
pub const FENCE_DIR: &str = "/run/clvmd-rs/fence";
