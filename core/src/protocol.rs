//! The fixed numbers and JSON shapes of the cam protocol
//! (`docs/protocol.md`), shared by every target and by the harness.

use serde::{Deserialize, Serialize};

/// Motion threshold on `change` after boot and after `POST /hil/reset`.
pub const DEFAULT_THRESHOLD: f64 = 0.05;
/// Seconds between `: keepalive` comments on an idle `GET /events` stream.
pub const DEFAULT_KEEPALIVE_S: u64 = 15;
/// `retry:` sent on the first event of each SSE connection, in ms.
pub const DEFAULT_RETRY_MS: u64 = 3000;
/// Largest WebSocket message on `GET /control`, in bytes; a larger one
/// closes the connection with code 1009 (message too big).
pub const MAX_WS_MESSAGE: usize = 16 * 1024;
/// WebSocket close code for an oversize message.
pub const CLOSE_TOO_BIG: u16 = 1009;
/// WebSocket close code for a text frame that is not UTF-8.
pub const CLOSE_BAD_DATA: u16 = 1007;
/// Directory of `snapshot_now` files on the cam's storage.
pub const SNAPSHOT_DIR: &str = "/sdcard/snaps";
/// Header carrying a frame's capture time (ms since the Unix epoch) on
/// `POST /hil/frame`.
pub const FRAME_TS_HEADER: &str = "x-frame-ts";

/// Reply to `POST /hil/frame`: `{"frame":seq,"change":x,"motion":bool}`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FrameReply {
    /// Frame sequence number, from 1 after a reset.
    pub frame: u64,
    /// The detector's `change`, in `[0, 1]`.
    pub change: f64,
    /// Whether this frame raised a `motion` event.
    pub motion: bool,
}

/// `GET /status`: `{"threshold":x,"trigger_count":n,"frames":m}`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StatusReply {
    /// Motion threshold on `change`, in `[0, 1]`.
    pub threshold: f64,
    /// Motion events since the last reset.
    pub trigger_count: u64,
    /// Frames processed since the last HIL reset.
    pub frames: u64,
}

/// Whether `given` equals the cam's token, in time that depends only on the
/// lengths (no early exit on the first differing byte).
pub fn token_matches(expected: &str, given: &str) -> bool {
    let (a, b) = (expected.as_bytes(), given.as_bytes());
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_comparison() {
        assert!(token_matches("s3cret", "s3cret"));
        assert!(!token_matches("s3cret", "s3cre"));
        assert!(!token_matches("s3cret", "s3cret!"));
        assert!(!token_matches("s3cret", "S3cret"));
        assert!(!token_matches("s3cret", ""));
    }
}
