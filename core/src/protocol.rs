//! The fixed numbers and JSON shapes of the cam protocol
//! (`docs/protocol.md`), shared by every target and by the harness.

use alloc::string::String;

use serde::{Deserialize, Serialize};

use crate::event_log::{EventId, LastEventId};

/// Motion threshold on `change` after boot and after `POST /hil/reset`: a
/// frame in which more than 0.3 % of the cells changed (on a QVGA frame's
/// 1,200 cells, 3.6 cells' worth, each graded by how far it moved:
/// [`crate::DetectorConfig::grade_cells`]) is motion. Chosen with the
/// detector's defaults on every labelled fixture clip.
pub const DEFAULT_THRESHOLD: f64 = 0.003;
/// The seed chapter's threshold (5 % of the cells), the default before
/// tuning; see [`crate::DetectorConfig::seed`].
pub const SEED_THRESHOLD: f64 = 0.05;
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

/// Reply to `POST /hil/frame`:
/// `{"frame":seq,"change":x,"motion":bool}`, plus `"id":"<boot>-<seq>"`,
/// the SSE id of the `motion` event the frame raised, when it raised one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameReply {
    /// Frame sequence number, from 1 after a reset.
    pub frame: u64,
    /// The detector's `change`, in `[0, 1]`.
    pub change: f64,
    /// Whether this frame raised a `motion` event.
    pub motion: bool,
    /// The SSE `id` of that event (absent without one, and from cams that
    /// predate it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
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
    use subtle::ConstantTimeEq;
    // subtle compares equal-length slices in constant time (no early exit,
    // hidden from the optimiser); a length mismatch is not secret.
    bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
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

/// Why a `Last-Event-ID` header is refused (400 `bad Last-Event-ID`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadLastEventId;

/// Parses a `Last-Event-ID` header value: absent or empty means none;
/// `<boot>-<seq>` is an id this protocol issues; a bare whole number is a
/// `seq` of an unknown boot ([`LastEventId::Seq`]).
///
/// # Errors
/// [`BadLastEventId`] for anything else.
pub fn parse_last_event_id(value: Option<&str>) -> Result<Option<LastEventId>, BadLastEventId> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) if s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().map(|n| Some(LastEventId::Seq(n))).map_err(|_| BadLastEventId)
        }
        Some(s) => EventId::parse(s).map(|id| Some(LastEventId::Id(id))).ok_or(BadLastEventId),
    }
}

/// The token of an `Authorization: Bearer <token>` header value.
pub fn bearer_token(authorization: &str) -> Option<&str> {
    authorization.strip_prefix("Bearer ")
}

/// The `token` parameter of a query string (`a=1&token=x`), percent-decoded.
pub fn query_token(query: &str) -> Option<alloc::string::String> {
    let raw = query.split('&').find_map(|kv| kv.strip_prefix("token="))?;
    let bytes = raw.as_bytes();
    let mut out = alloc::vec::Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    alloc::string::String::from_utf8(out).ok()
}

#[cfg(test)]
mod request_tests {
    use super::*;

    #[test]
    fn last_event_id() {
        assert_eq!(parse_last_event_id(None), Ok(None));
        assert_eq!(parse_last_event_id(Some(" ")), Ok(None));
        assert_eq!(parse_last_event_id(Some("42")), Ok(Some(LastEventId::Seq(42))));
        let id = EventId { boot: 0xab, seq: 7 };
        assert_eq!(parse_last_event_id(Some("000000ab-7")), Ok(Some(LastEventId::Id(id))));
        for bad in ["abc", "-1", "ab-", "ab-7x", "99999999999999999999999"] {
            assert_eq!(parse_last_event_id(Some(bad)), Err(BadLastEventId), "{bad:?}");
        }
    }

    #[test]
    fn tokens() {
        assert_eq!(bearer_token("Bearer s3cret"), Some("s3cret"));
        assert_eq!(bearer_token("Basic x"), None);
        assert_eq!(query_token("t=1&token=a%2Fb%20c&x=2").as_deref(), Some("a/b c"));
        assert_eq!(query_token("x=1"), None);
    }
}

/// Whether `key` is a well-formed `Sec-WebSocket-Key` (RFC 6455 4.2.1):
/// base64 of exactly 16 bytes, 22 characters of the base64 alphabet then
/// `==`. A cam answers an upgrade with any other key 400
/// (`docs/protocol.md`, "`GET /control`").
pub fn is_websocket_key(key: &str) -> bool {
    let b = key.as_bytes();
    b.len() == 24
        && b[22..] == *b"=="
        && b[..22].iter().all(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/')
        // The last character before the padding holds 2 bits: A, Q, g or w.
        && matches!(b[21], b'A' | b'Q' | b'g' | b'w')
}

#[cfg(test)]
mod websocket_key_tests {
    #[test]
    fn websocket_keys_are_16_bytes_of_base64() {
        assert!(super::is_websocket_key("dGhlIHNhbXBsZSBub25jZQ=="));
        for bad in ["x", "", "dGhlIHNhbXBsZSBub25jZQ=", "dGhlIHNhbXBsZSBub25jZR==", "dGhlIHNhbXBsZSBub25j*Q=="] {
            assert!(!super::is_websocket_key(bad), "{bad:?}");
        }
    }
}
