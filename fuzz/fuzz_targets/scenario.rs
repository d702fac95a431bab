//! Any text as a scenario file: parsed or refused with an error that points
//! into the text (line and column), never a panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Err(e) = cam_hil::scenario::parse(Path::new("fuzz.toml"), text) {
        assert!(!e.message.is_empty());
        assert!(e.line >= 1 && e.line <= text.lines().count().max(1) + 1, "line {} of {text:?}", e.line);
    }
});
