//! WebSocket commands and their acks as typed values.
//!
//! Source: seed chapter "Two-way control with WebSockets" (`snapshot_now`,
//! `reset`, `bad json`, `unknown command`) and `docs/protocol.md`
//! ("`GET /control`", `set_threshold`, `status`). Applying a command to the
//! cam's state is [`crate::Cam::apply`].

use alloc::string::String;

use serde::Serialize;
use serde_json::Value;

pub use crate::settings::{BadSetting, DetectorChange, DetectorSettings};

/// A command received as a WebSocket text frame on `GET /control`.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `{"cmd":"snapshot_now"}`: save the latest frame under `/sdcard/snaps/`.
    SnapshotNow,
    /// `{"cmd":"reset"}`: set the trigger count to 0.
    Reset,
    /// `{"cmd":"set_threshold","value":x}`; `None` when `value` is missing or
    /// not a number (answered with `bad threshold`).
    SetThreshold(Option<f64>),
    /// `{"cmd":"status"}`.
    Status,
    /// `{"cmd":"set_detector", …}` with any of the keys of
    /// [`crate::settings::DETECTOR_KEYS`] (other keys are ignored); `Err`
    /// when a given value is out of range or mistyped (answered with
    /// `bad detector setting`).
    SetDetector(Result<DetectorChange, BadSetting>),
}

/// Why a text frame is not a command. Each has its own ack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// Not JSON at all → `{"error":"bad json"}`.
    BadJson,
    /// JSON, but not an object with a known `cmd` → `{"error":"unknown command"}`.
    UnknownCommand,
}

impl Command {
    /// Parses one text frame.
    ///
    /// # Errors
    /// [`ParseError::BadJson`] for text that is not JSON,
    /// [`ParseError::UnknownCommand`] for any JSON that is not an object with
    /// a known `cmd` string (arrays, numbers, `{"cmd":"fly"}`, …).
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let value: Value = serde_json::from_str(text).map_err(|_| ParseError::BadJson)?;
        let obj = value.as_object().ok_or(ParseError::UnknownCommand)?;
        match obj.get("cmd").and_then(Value::as_str) {
            Some("snapshot_now") => Ok(Command::SnapshotNow),
            Some("reset") => Ok(Command::Reset),
            Some("status") => Ok(Command::Status),
            Some("set_detector") => Ok(Command::SetDetector(DetectorChange::from_object(obj))),
            Some("set_threshold") => Ok(Command::SetThreshold(obj.get("value").and_then(Value::as_f64))),
            _ => Err(ParseError::UnknownCommand),
        }
    }
}

/// The ack sent back (as one JSON text frame) for each text frame received.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Ack {
    /// `{"ok":true,"saved":"/sdcard/snaps/manual-<unix s>.jpg"}`.
    Saved {
        /// Always `true`.
        ok: bool,
        /// Path of the saved JPEG on the cam's storage.
        saved: String,
    },
    /// `{"ok":false,"reason":…}`: `no frame yet`, `bad threshold`, or a
    /// storage failure (`storage: <message>`).
    Refused {
        /// Always `false`.
        ok: bool,
        /// Why.
        reason: String,
    },
    /// `{"ok":true,"counters":"reset"}`.
    CountersReset {
        /// Always `true`.
        ok: bool,
        /// Always `"reset"`.
        counters: &'static str,
    },
    /// `{"ok":true,"threshold":x}`.
    Threshold {
        /// Always `true`.
        ok: bool,
        /// The threshold now in force, in `[0, 1]`.
        threshold: f64,
    },
    /// `{"ok":true,"threshold":x,"trigger_count":n,"frames":m}`.
    Status {
        /// Always `true`.
        ok: bool,
        /// Motion threshold on `change`, in `[0, 1]`.
        threshold: f64,
        /// Motion events since the last reset.
        trigger_count: u64,
        /// Frames processed since the last HIL reset.
        frames: u64,
    },
    /// `{"ok":true,"detector":{"cell_px":8,"cell_delta":16,…}}`: every key of
    /// [`crate::settings::DETECTOR_KEYS`] ([`DetectorSettings`]).
    Detector {
        /// Always `true`.
        ok: bool,
        /// The settings now in force.
        detector: DetectorSettings,
    },
    /// `{"error":"bad json"}` or `{"error":"unknown command"}`.
    Error {
        /// What was wrong with the text frame.
        error: &'static str,
    },
}

impl Ack {
    /// `{"ok":false,"reason":reason}`.
    pub fn refused(reason: impl Into<String>) -> Self {
        Ack::Refused { ok: false, reason: reason.into() }
    }

    /// The ack for a text frame that did not parse.
    pub fn for_parse_error(e: ParseError) -> Self {
        Ack::Error {
            error: match e {
                ParseError::BadJson => "bad json",
                ParseError::UnknownCommand => "unknown command",
            },
        }
    }

    /// The JSON text of the ack frame.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_set_detector() {
        let c = Command::parse(r#"{"cmd":"set_detector","cell_delta":20,"compensate_lighting":false}"#);
        let change =
            DetectorChange { cell_delta: Some(20), compensate_lighting: Some(false), ..DetectorChange::default() };
        assert_eq!(c, Ok(Command::SetDetector(Ok(change))));
        for bad in [
            r#"{"cmd":"set_detector","cell_px":2}"#,
            r#"{"cmd":"set_detector","cell_delta":"x"}"#,
            r#"{"cmd":"set_detector","lightswitch":0}"#,
            r#"{"cmd":"set_detector","compensate_lighting":1}"#,
        ] {
            assert!(matches!(Command::parse(bad), Ok(Command::SetDetector(Err(_)))), "{bad}");
        }
    }

    #[test]
    fn parses_known_commands() {
        assert_eq!(Command::parse(r#"{"cmd":"snapshot_now"}"#), Ok(Command::SnapshotNow));
        assert_eq!(Command::parse(r#"{"cmd":"reset","x":1}"#), Ok(Command::Reset));
        assert_eq!(Command::parse(r#"{"cmd":"set_threshold","value":0.2}"#), Ok(Command::SetThreshold(Some(0.2))));
        assert_eq!(Command::parse(r#"{"cmd":"set_threshold","value":"high"}"#), Ok(Command::SetThreshold(None)));
    }

    #[test]
    fn bad_json_and_unknown_commands() {
        assert_eq!(Command::parse("{oops"), Err(ParseError::BadJson));
        assert_eq!(Command::parse(""), Err(ParseError::BadJson));
        for text in [r#"{"cmd":"fly"}"#, "[1,2]", "3", r#""reset""#, "{}", r#"{"cmd":7}"#] {
            assert_eq!(Command::parse(text), Err(ParseError::UnknownCommand), "{text}");
        }
    }

    #[test]
    fn acks_serialise_to_the_protocol_shapes() {
        assert_eq!(Ack::for_parse_error(ParseError::BadJson).to_json(), r#"{"error":"bad json"}"#);
        assert_eq!(Ack::CountersReset { ok: true, counters: "reset" }.to_json(), r#"{"ok":true,"counters":"reset"}"#);
        assert_eq!(Ack::refused("no frame yet").to_json(), r#"{"ok":false,"reason":"no frame yet"}"#);
    }
}
