//! The docs that describe the detector keys against their one definition
//! (`core/src/settings.rs`): the "Parameters" table of `docs/detector.md`
//! and the `set_detector` row of `docs/protocol.md`.

use cam_core::Cam;
use cam_core::settings::markdown_table;
use cam_core::storage::NoStorage;

const BEGIN: &str = "<!-- detector-keys:begin -->\n";
const END: &str = "<!-- detector-keys:end -->";

fn read_doc(name: &str) -> String {
    let path = format!("{}/../docs/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn detector_md_has_the_generated_table() {
    let doc = read_doc("detector.md");
    let start = doc.find(BEGIN).expect("docs/detector.md has no `<!-- detector-keys:begin -->` line") + BEGIN.len();
    let len = doc[start..].find(END).expect("docs/detector.md has no `<!-- detector-keys:end -->` after the begin");
    let expected = markdown_table();
    assert!(
        doc[start..start + len] == expected,
        "docs/detector.md differs from the detector keys in core/src/settings.rs; \
         between the markers it should read:\n{BEGIN}{expected}{END}\n"
    );
}

#[test]
fn protocol_md_shows_the_real_set_detector_ack() {
    let doc = read_doc("protocol.md");
    let row = doc
        .lines()
        .find(|l| l.starts_with(r#"| `{"cmd":"set_detector""#))
        .expect(r#"docs/protocol.md has no `{"cmd":"set_detector"…` row"#);
    let ack = Cam::default().handle_text(r#"{"cmd":"set_detector"}"#, 0, &mut NoStorage("test")).to_json();
    assert!(row.contains(&format!("`{ack}`")), "the set_detector row of docs/protocol.md should show the ack `{ack}`");
}
