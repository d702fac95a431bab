//! The JUnit and HTML reports of a real run: one passing and one failing
//! scenario on the simulator.

use std::path::Path;

use cam_hil::report::{Reporter, filmstrip, html, junit};
use cam_hil::runner::ScenarioReport;
use cam_hil::suite::{self, Selection, Summary};
use cam_hil::target::TargetSpec;

struct Quiet;
impl Reporter for Quiet {
    fn event(&mut self, _: &cam_hil::run_event::RunEvent) {}
}

async fn run() -> (Summary, Vec<ScenarioReport>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = [root.join("../scenarios/highway.toml"), root.join("tests/data/never.toml")];
    let scenarios = suite::load_all(&files, &Selection::default()).unwrap();
    suite::run(&scenarios, &TargetSpec::Sim, &mut Quiet).await
}

#[tokio::test]
async fn junit_has_a_case_per_scenario_and_the_failure() {
    let (_, reports) = run().await;
    let xml = junit::to_xml(&reports).unwrap();
    let parsed = quick_junit::Report::deserialize_from_str(&xml).expect("valid JUnit XML");
    assert_eq!(parsed.tests, 2);
    assert_eq!(parsed.failures, 1);
    let cases = &parsed.test_suites[0].test_cases;
    let failing = cases.iter().find(|c| c.name.as_str() == "expects an event that never comes").unwrap();
    let quick_junit::TestCaseStatus::NonSuccess { message, description, .. } = &failing.status else {
        panic!("{:?}", failing.status)
    };
    assert!(message.as_ref().unwrap().as_str().starts_with("step 2 `wants motion` (expect_events, line 8)"));
    assert!(description.as_ref().unwrap().as_str().contains("timeline:"));
    let passing = cases.iter().find(|c| c.name.as_str().starts_with("highway")).unwrap();
    assert!(matches!(passing.status, quick_junit::TestCaseStatus::Success { .. }));
}

#[tokio::test]
async fn html_report_has_plots_timelines_and_the_failure() {
    let (summary, reports) = run().await;
    let dir = tempfile::tempdir().unwrap();
    html::write(dir.path(), &reports, &summary).unwrap();
    let page = std::fs::read_to_string(dir.path().join("index.html")).unwrap();
    // Failures first in the table, each scenario with its plot and timeline.
    let (fail_at, pass_at) =
        (page.find("expects an event that never comes").unwrap(), page.find("highway: no event").unwrap());
    assert!(fail_at < pass_at);
    assert_eq!(page.matches("<svg").count(), 2, "a change plot per scenario that injected frames");
    assert!(page.contains("labelled motion"), "ground truth shaded for the labelled clip");
    assert!(page.contains("<details open><summary>timeline"), "a failed scenario's timeline is open");
    assert!(page.contains("expected exactly 1 `motion` event(s), 0 arrived"));
    assert!(page.contains("frame 0 -&gt; seq 1"), "timeline text is escaped");
    assert!(!page.contains("<script"), "a static page");
}

#[test]
fn escaping() {
    assert_eq!(html::escape(r#"<a href="x">&</a>"#), "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;");
}

/// Runs scenario `files` on the simulator.
async fn run_files(files: &[std::path::PathBuf]) -> (Summary, Vec<ScenarioReport>) {
    let scenarios = suite::load_all(files, &Selection::default()).unwrap();
    suite::run(&scenarios, &TargetSpec::Sim, &mut Quiet).await
}

/// Every `frames/…` image the page references, in page order (deduplicated).
fn thumbnails(page: &str) -> Vec<String> {
    let mut srcs: Vec<String> = regex::Regex::new(r#"<img src="(frames/[^"]+)""#)
        .unwrap()
        .captures_iter(page)
        .map(|c| c[1].to_string())
        .collect();
    let mut seen = std::collections::HashSet::new();
    srcs.retain(|s| seen.insert(s.clone()));
    srcs
}

/// The fixture indices of the outlined (event) cells of `clip` on the page.
fn marked(page: &str, clip: &str) -> Vec<usize> {
    let re = format!(r#"<figure class="thumb (?:event|during)"[^>]*><img src="frames/{clip}-(\d+)\.jpg""#);
    regex::Regex::new(&re).unwrap().captures_iter(page).map(|c| c[1].parse().unwrap()).collect()
}

#[tokio::test]
async fn html_report_shows_what_the_cam_saw_around_events_and_failures() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = [
        root.join("../scenarios/highway.toml"),
        root.join("tests/data/unexpected_event.toml"),
        root.join("tests/data/never.toml"),
    ];
    let (summary, reports) = run_files(&files).await;
    let dir = tempfile::tempdir().unwrap();
    html::write(dir.path(), &reports, &summary).unwrap();
    let page = std::fs::read_to_string(dir.path().join("index.html")).unwrap();

    // Every thumbnail is on disk, a small JPEG.
    let srcs = thumbnails(&page);
    assert!(!srcs.is_empty());
    for src in &srcs {
        let bytes = std::fs::read(dir.path().join(src)).unwrap_or_else(|e| panic!("{src}: {e}"));
        assert_eq!(image::guess_format(&bytes).unwrap(), image::ImageFormat::Jpeg, "{src}");
        let img = image::load_from_memory(&bytes).unwrap();
        assert!(img.width() <= filmstrip::THUMB_WIDTH && img.width() > 0, "{src}: {}px", img.width());
    }
    assert!(!page.contains("no thumbnail"), "every fixture frame is readable");

    // The passing scenario: a strip per motion event (capped), each event's
    // frame outlined and tagged with its id, its neighbours around it.
    let highway = reports.iter().find(|r| r.name.starts_with("highway")).unwrap();
    let events: Vec<_> = highway.events.iter().filter(|e| e.name == "motion").collect();
    assert!(events.len() > filmstrip::MAX_EVENT_STRIPS);
    assert!(page.contains(&format!("what the cam saw: {} motion event(s)", events.len())));
    assert!(page.contains(&format!("… {} more motion event(s) not shown", events.len() - filmstrip::MAX_EVENT_STRIPS)));
    let expected: Vec<usize> = events[..filmstrip::MAX_EVENT_STRIPS]
        .iter()
        .map(|e| highway.frames[filmstrip::event_frame(&highway.frames, e).expect("matched")].index)
        .collect();
    assert_eq!(marked(&page, "cdnet_highway"), expected, "each strip outlines its event's frame");
    let first = events[0];
    assert!(page.contains(&format!("event id {}", first.id.as_deref().unwrap())));
    for k in expected[0] - filmstrip::EVENT_CONTEXT..=expected[0] + filmstrip::EVENT_CONTEXT {
        assert!(srcs.contains(&format!("frames/cdnet_highway-{k}.jpg")), "frame {k} around the first event");
    }
    assert!(page.contains("gt motion") && page.contains("motion ack"), "labels and motion acks tagged");

    // The failing scenarios: an open strip up to the failure.
    assert!(
        page.contains(
            "<details class=\"film\" open><summary>what the cam saw up to the failure of step 2 `quiet please`"
        )
    );
    assert!(
        page.contains(
            "<details class=\"film\" open><summary>what the cam saw up to the failure of step 2 `wants motion`"
        )
    );
    assert_eq!(
        marked(&page, "synthetic_bright_square"),
        [10, 10],
        "the unexpected event's frame (the square's first), in the failure strip and in its event strip"
    );
    // The last FAILURE_BEFORE frames before each failing step (which sent
    // none): 4..=9 for `wants motion`, 5..=10 for `quiet please`.
    let square: std::collections::BTreeSet<usize> = srcs
        .iter()
        .filter_map(|s| s.strip_prefix("frames/synthetic_bright_square-")?.strip_suffix(".jpg")?.parse().ok())
        .collect();
    assert_eq!(square, (10 - filmstrip::FAILURE_BEFORE..=10).collect());
    assert!(
        regex::Regex::new(r"events that arrived from [0-9.]+ ms to the step's end: none").unwrap().is_match(&page),
        "`wants motion`: nothing came"
    );
    let report = reports.iter().find(|r| r.name == "expects silence during motion").unwrap();
    let event = report.events.iter().find(|e| e.name == "motion").unwrap();
    assert!(
        page.contains(&format!("event id {} `motion` at {:.1} ms (", event.id.as_deref().unwrap(), event.at_ms)),
        "`quiet please`: the event it judged, with when it arrived"
    );
    assert!(!page.contains("<script"));
}

/// A scenario folder with a copy of the bright-square clip (`clip/`) and
/// `s.toml` replaying frames 0..=12 (one event, on frame 10).
fn square_copy() -> tempfile::TempDir {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("clip");
    std::fs::create_dir(&clip).unwrap();
    for f in std::fs::read_dir(root.join("../fixtures/synthetic_bright_square")).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), clip.join(f.file_name())).unwrap();
    }
    std::fs::write(
        dir.path().join("s.toml"),
        "name = \"square copy\"\nfixture = \"clip\"\n[[step]]\nreplay = { from = 0, to = 12 }\n[[step]]\nexpect_events = { count = 1 }\n",
    )
    .unwrap();
    dir
}

#[tokio::test]
async fn a_frame_gone_or_corrupt_after_the_run_is_a_placeholder() {
    let data = square_copy();
    let (summary, reports) = run_files(&[data.path().join("s.toml")]).await;
    assert!(reports[0].passed(), "{:?}", reports[0].failure());
    // After the run: the event's frame is deleted, the one before it garbled.
    let clip = data.path().join("clip");
    std::fs::remove_file(clip.join("frame_00010.jpg")).unwrap();
    std::fs::write(clip.join("frame_00009.jpg"), b"not a jpeg at all").unwrap();

    let out = tempfile::tempdir().unwrap();
    html::write(out.path(), &reports, &summary).unwrap();
    let page = std::fs::read_to_string(out.path().join("index.html")).unwrap();
    assert!(page.contains("no thumbnail: frame_00010.jpg: "), "the deleted frame is named");
    assert!(page.contains("no thumbnail: not a decodable JPEG"), "the garbled frame says so");
    assert!(
        regex::Regex::new(
            r#"<figure class="thumb event"[^>]*><div class="missing"[^>]*>no thumbnail: frame_00010.jpg"#
        )
        .unwrap()
        .is_match(&page),
        "the event's frame is still outlined"
    );
    // The other frames of the strip still have their thumbnails.
    let srcs = thumbnails(&page);
    assert_eq!(srcs, ["frames/clip-7.jpg", "frames/clip-8.jpg", "frames/clip-11.jpg", "frames/clip-12.jpg"]);
    for src in &srcs {
        assert!(out.path().join(src).is_file());
    }
    assert!(!out.path().join("frames/clip-10.jpg").exists());
}

#[tokio::test]
async fn a_failure_before_any_frame_says_none_was_injected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.toml");
    std::fs::write(&path, "name = \"no frames\"\n[[step]]\nexpect_events = { count = 1 }\n").unwrap();
    let (summary, reports) = run_files(&[path]).await;
    assert!(!reports[0].passed());
    let out = tempfile::tempdir().unwrap();
    html::write(out.path(), &reports, &summary).unwrap();
    let page = std::fs::read_to_string(out.path().join("index.html")).unwrap();
    assert!(page.contains("what the cam saw up to the failure of step 1"));
    assert!(page.contains("no frame was injected in this scenario."));
    assert!(!out.path().join("frames").exists(), "no thumbnail written");
}

#[tokio::test]
async fn an_event_without_an_id_is_matched_by_frame_sequence() {
    let data = square_copy();
    let (_, reports) = run_files(&[data.path().join("s.toml")]).await;
    let r = &reports[0];
    let event = r.events.iter().find(|e| e.name == "motion").unwrap();
    let by_id = filmstrip::event_frame(&r.frames, event).unwrap();
    assert_eq!(r.frames[by_id].index, 10);
    // A cam without ids: the latest frame with the event's sequence number
    // sent no later than the event arrived.
    let mut frames = r.frames.clone();
    for f in &mut frames {
        f.reply.id = None;
    }
    let mut anonymous = event.clone();
    anonymous.id = None;
    assert_eq!(filmstrip::event_frame(&frames, &anonymous), Some(by_id));
    anonymous.at_ms = frames[by_id].sent_ms - 1.0;
    assert_eq!(filmstrip::event_frame(&frames, &anonymous), None, "not from a frame sent after it arrived");
    assert_eq!(filmstrip::around(&frames, 0, 3), 0..4);
    assert_eq!(filmstrip::around(&frames, frames.len() - 1, 3), frames.len() - 4..frames.len());
}

/// A scenario the target cannot run is a skip with its reason in every
/// report: the text line, JUnit's `<skipped message=…>`, the HTML badge; a
/// mismatch shows expected and actual side by side.
#[tokio::test]
async fn skips_and_side_by_side_mismatches_in_every_report() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = [root.join("../scenarios/limits.toml"), root.join("tests/data/wrong_ack.toml")];
    let (summary, reports) = run_files(&files).await;
    assert_eq!((summary.passed, summary.failed, summary.skipped), (0, 1, 1));
    let skipped = reports.iter().find(|r| r.skipped.is_some()).unwrap();
    let why = skipped.skipped.as_deref().unwrap();
    assert!(why.contains("connection limits"), "{why}");

    let text = cam_hil::report::scenario_text(skipped);
    assert!(text.starts_with("SKIP ") && text.contains(why), "{text}");
    assert_eq!(cam_hil::report::summary_text(&summary, false), "0 passed, 1 failed, 1 skipped");

    let xml = junit::to_xml(&reports).unwrap();
    let parsed = quick_junit::Report::deserialize_from_str(&xml).unwrap();
    let case = parsed.test_suites[0].test_cases.iter().find(|c| c.name.as_str() == skipped.name).unwrap();
    let quick_junit::TestCaseStatus::Skipped { message, .. } = &case.status else { panic!("{:?}", case.status) };
    assert_eq!(message.as_ref().map(|m| m.as_str()), Some(why));

    let page = html::page(&reports, &summary);
    assert!(page.contains(r#"<span class="badge skip">SKIP</span>"#), "a skip badge");
    assert!(page.contains(&format!("skipped: {}", html::escape(why))), "with its reason");
    assert!(page.contains(r#"<table class="diff">"#), "expected and actual side by side");
    assert!(page.contains("<code>$.counters</code>"), "at the JSON path");

    let failing = reports.iter().find(|r| r.skipped.is_none()).unwrap();
    let text = cam_hil::report::scenario_text(failing);
    assert!(text.contains("    at       $.counters\n    expected \"cleared\"\n    actual   \"reset\"\n"), "{text}");
}
