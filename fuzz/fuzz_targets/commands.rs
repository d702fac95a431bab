//! Any text frame through the cam's command handling: never a panic, the
//! ack is always one JSON object, and a refused command changes nothing.
#![no_main]

use cam_core::storage::NoStorage;
use cam_core::{Ack, Cam};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let mut cam = Cam::default();
    let before = cam.status();
    let ack = cam.handle_text(text, 1_700_000_000, &mut NoStorage("fuzz"));
    let json: serde_json::Value = serde_json::from_str(&ack.to_json()).expect("the ack is JSON");
    assert!(json.is_object(), "{json}");
    if matches!(ack, Ack::Refused { .. } | Ack::Error { .. }) {
        assert_eq!(cam.status(), before, "a refused command changed the cam: {text:?}");
    }
});
