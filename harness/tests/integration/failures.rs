//! Scenarios that must fail do, with a message that names the step, what
//! was expected and what arrived; malformed scenario files are refused
//! before anything runs, naming file, line and column.

use std::path::{Path, PathBuf};

use cam_hil::runner::{self, RunEnv, ScenarioReport};
use cam_hil::scenario;
use cam_hil::target::TargetSpec;
use rstest::rstest;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

async fn run(name: &str) -> ScenarioReport {
    let s = scenario::load(&data(name)).unwrap_or_else(|e| panic!("{e}"));
    let target = TargetSpec::Sim.open(&s.needs).await.expect("simulator starts");
    runner::run(&s, target.as_ref(), &RunEnv::default()).await
}

#[tokio::test]
async fn an_event_that_never_comes_fails_naming_the_step() {
    let report = run("never.toml").await;
    let (step, message) = report.failure().expect("the scenario must fail");
    assert_eq!(step, "step 2 `wants motion` (expect_events, line 8)");
    assert!(message.contains("expected exactly 1 `motion` event(s), 0 arrived"), "{message}");
}

#[tokio::test]
async fn a_wrong_ack_fails_showing_both() {
    let report = run("wrong_ack.toml").await;
    let (step, message) = report.failure().expect("the scenario must fail");
    assert!(step.starts_with("step 1 (send, line 4)"), "{step}");
    assert!(message.contains(r#"got ack {"counters":"reset","ok":true}"#), "{message}");
    assert!(message.contains("$.counters: expected \"cleared\""), "{message}");
}

#[tokio::test]
async fn an_unexpected_event_fails_expect_no_event() {
    let report = run("unexpected_event.toml").await;
    let (step, message) = report.failure().expect("the scenario must fail");
    assert!(step.contains("`quiet please`"), "{step}");
    assert!(message.starts_with("expected no event, 1 arrived"), "{message}");
    assert!(message.contains(r#""frame":11"#), "{message}");
}

const SQUARE: &str = "fixture = \"../../../fixtures/synthetic_bright_square\"\n";

#[rstest]
#[case::unknown_step_key("[[step]]\nreplay = {}\nwait = 3\n", 4, "unknown field `wait`")]
#[case::unknown_top_key("fixtur = \"x\"\n[[step]]\nreplay = {}\n", 2, "unknown field `fixtur`")]
#[case::two_actions("[[step]]\nreplay = {}\nsend = { cmd = \"reset\" }\n", 2, "more than one action")]
#[case::no_action("[[step]]\nname = \"idle\"\n", 2, "has no action")]
#[case::frame_past_the_end("[[step]]\nreplay = { from = 5, to = 20 }\n", 3, "frames 5..=20 are not in the fixture")]
#[case::bad_regex(
    "[[step]]\nsend = { cmd = \"status\" }\nexpect_ack = { ok = { regex = \"(\" } }\n",
    4,
    "bad matcher: ok: bad regex"
)]
#[case::bad_range(
    "[[step]]\nexpect_events = { fields = { change = { range = [1] } } }\n",
    3,
    "`range` must be [low, high]"
)]
#[case::orphan_ack("[[step]]\nreplay = {}\nexpect_ack = { ok = true }\n", 2, "`expect_ack` belongs with `send`")]
#[case::bad_toml("[[step]\nreplay = {}\n", 2, "")]
#[case::bad_threshold("[config]\nthreshold = 2.0\n[[step]]\nreplay = {}\n", 3, "threshold must be in [0, 1]")]
#[case::quiet_span_longer_than_its_timeout(
    "[[step]]\ntimeout_ms = 2000\nexpect_no_event = { for_ms = 2000 }\n",
    4,
    "`for_ms` 2000 is not shorter than the step's timeout of 2000 ms"
)]
#[case::recorded_pace_longer_than_its_timeout(
    "[[step]]\nreplay = { pace = \"recorded\", speed = 0.2 }\n",
    3,
    "at recorded pace (speed 0.2) frames 0..=19 take 19000 ms, not less than the step's timeout of 10000 ms"
)]
#[case::bad_detector_setting(
    "[config]\ndetector = { cell_delta = 300 }\n[[step]]\nreplay = {}\n",
    3,
    "`cell_delta` must be a whole number in 0–255"
)]
#[case::unknown_detector_setting("[config]\ndetector = { cell_size = 8 }\n[[step]]\nreplay = {}\n", 3, "cell_size")]
fn malformed_scenarios_name_the_line(#[case] body: &str, #[case] line: usize, #[case] message: &str) {
    let path = data("inline.toml");
    let src = format!("{SQUARE}{body}");
    let e = scenario::parse(&path, &src).expect_err("must be refused");
    assert_eq!(e.line, line, "{e}");
    assert!(e.message.contains(message), "{e}");
    assert!(e.to_string().starts_with(&format!("{}:{line}:", path.display())), "{e}");
}

#[test]
fn a_manifest_with_a_header_and_no_rows_is_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    std::fs::write(dir.path().join("empty/manifest.csv"), "file,t_ms,src_frame\n").unwrap();
    let path = dir.path().join("s.toml");
    let e = scenario::parse(&path, "fixture = \"empty\"\n[[step]]\nreplay = {}\n").unwrap_err();
    assert_eq!((e.line, e.col), (1, 11), "{e}");
    assert!(e.message.contains("manifest.csv lists no frame (a header and no rows)"), "{e}");
    let e = scenario::parse(&path, "[[step]]\nreplay = { fixture = \"empty\", to = 0 }\n").unwrap_err();
    assert_eq!(e.line, 2, "{e}");
    assert!(e.message.contains("lists no frame"), "{e}");
}

#[tokio::test]
async fn a_failure_is_typed_with_where_what_was_expected_and_what_came() {
    let report = run("wrong_ack.toml").await;
    let (_, failure) = report.failed().expect("the scenario must fail");
    let m = failure.mismatch_values().unwrap_or_else(|| panic!("a mismatch: {failure:?}"));
    assert_eq!((m.path.as_str(), m.expected.as_str(), m.actual.as_str()), ("$.counters", "\"cleared\"", "\"reset\""));
    let report = run("never.toml").await;
    let (_, failure) = report.failed().unwrap();
    assert_eq!(failure.kind.name(), "mismatch", "{failure:?}");
}

#[tokio::test]
async fn a_latest_frame_that_is_another_fixture_frame_is_named() {
    let src = "fixture = \"../../../fixtures/synthetic_bright_square\"\n\
               [[step]]\nreplay = { from = 0, to = 11 }\n[[step]]\nexpect_latest_frame = { frame = 2 }\n";
    let s = scenario::parse(&data("inline.toml"), src).unwrap();
    let target = TargetSpec::Sim.open(&s.needs).await.unwrap();
    let report = runner::run(&s, target.as_ref(), &RunEnv::default()).await;
    let (step, failure) = report.failed().expect("frame 11 is the latest, not 2");
    assert!(step.contains("expect_latest_frame"), "{step}");
    let m = failure.mismatch_values().unwrap();
    // Frames 10 to 14 of the clip are the same picture: the first is named.
    assert_eq!(m.actual, "fixture frame 10", "{failure}");
}

#[test]
fn a_missing_fixture_is_refused() {
    let e = scenario::parse(&data("inline.toml"), "fixture = \"nope\"\n[[step]]\nreplay = {}\n").unwrap_err();
    assert_eq!((e.line, e.col), (1, 11));
    assert!(e.message.contains("cannot read ") && e.message.contains("manifest.csv: No such file"), "{e}");
}

#[tokio::test]
async fn events_during_labelled_stillness_fail_expect_labels() {
    let report = run("labels_wallflower.toml").await;
    let (step, message) = report.failure().expect("the scenario must fail");
    assert!(step.contains("expect_labels"), "{step}");
    assert!(message.contains("nothing moves in wallflower_lightswitch_off frames 89..=159 (label 0)"), "{message}");
}

#[tokio::test]
async fn a_box_the_background_model_never_absorbs_fails_expect_no_event() {
    // scenarios/background.toml passes because the box is absorbed; this
    // is the same clip with absorption put off.
    let report = run("never_absorbed.toml").await;
    let (step, message) = report.failure().expect("the scenario must fail");
    assert!(step.contains("expect_no_event"), "{step}");
    assert!(message.contains("expected no event, 60 arrived"), "{message}");
    assert!(message.contains(r#""frame":41"#), "{message}");
}

#[tokio::test]
async fn labelled_motion_without_an_event_fails_expect_labels() {
    let report = run("labels_missed.toml").await;
    let (_, message) = report.failure().expect("the scenario must fail");
    assert!(
        message.contains(
            "something moves in synthetic_bright_square frames 10..=10 (label 1) but no frame raised an event"
        ),
        "{message}"
    );
    assert!(message.contains("frames 15..=15"), "{message}");
}

#[tokio::test]
async fn a_latency_bound_fails_with_the_figure() {
    let report = run("too_slow.toml").await;
    let (_, message) = report.failure().expect("the scenario must fail");
    assert!(message.starts_with("event id ") && message.contains("-1 for frame 11 arrived "), "{message}");
    assert!(message.ends_with("ms after its injection (limit 0.001 ms)"), "{message}");
    assert_eq!(report.latency().map(|l| l.0), Some(1), "the figure is reported");
}

#[rstest]
#[case::error_inside_the_included_file("shared/bad.steps.toml", "bad.steps.toml:4:1: unknown field `expect_evnts`")]
#[case::include_cycle("shared/cycle.steps.toml", "includes nested more than 8 deep")]
#[case::scenario_keys_in_a_steps_file("shared/scenario_like.steps.toml", "an included file holds only [[step]] tables")]
#[case::missing_file("shared/nope.steps.toml", "cannot read")]
fn include_errors_name_the_right_file(#[case] include: &str, #[case] expected: &str) {
    let src = format!("{SQUARE}[[step]]\ninclude = \"{include}\"\n");
    let e = scenario::parse(&data("inline.toml"), &src).expect_err("must be refused");
    assert!(e.to_string().contains(expected), "{e}");
}

#[test]
fn an_include_step_holds_nothing_else() {
    let src = format!("{SQUARE}[[step]]\ninclude = \"shared/bad.steps.toml\"\nname = \"x\"\n");
    let e = scenario::parse(&data("inline.toml"), &src).unwrap_err();
    assert!(e.message.contains("an `include` step holds nothing else"), "{e}");
}

#[test]
fn included_steps_are_numbered_in_order_and_name_their_file() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/reset.toml");
    let s = scenario::load(&path).unwrap();
    let labels: Vec<String> = s.steps.iter().map(|s| s.label()).collect();
    assert_eq!(
        labels[0],
        "step 1 `still scene, then the square appears` (replay, shared/square_appears.steps.toml line 7)"
    );
    assert_eq!(labels[1], "step 2 (expect_events, shared/square_appears.steps.toml line 11)");
    assert!(labels[2].starts_with("step 3 (send, line "), "{}", labels[2]);
}

#[test]
fn a_fixture_frame_missing_from_its_folder_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/synthetic_bright_square/frame_00000.jpg");
    std::fs::copy(src, dir.path().join("frame_00000.jpg")).unwrap();
    std::fs::write(
        dir.path().join("manifest.csv"),
        "file,t_ms,src_frame\nframe_00000.jpg,0,0\nframe_00001.jpg,200,1\n",
    )
    .unwrap();
    let text = format!("fixture = {:?}\n[[step]]\nreplay = {{}}\n", dir.path().display().to_string());
    let e = scenario::parse(&data("inline.toml"), &text).unwrap_err();
    assert_eq!(e.line, 1, "{e}");
    assert!(e.message.contains("frame_00001.jpg"), "names the missing frame: {e}");
}

/// `expect_console` with `if_console = true` needs no console: on a cam
/// without one it passes at once; given a console (the simulator's, on a
/// pseudo-terminal) it waits for the line, and fails without it.
#[tokio::test]
async fn an_expect_console_step_if_console_waits_only_where_there_is_one() {
    let src = |regex: &str, if_console: bool| {
        format!(
            "fixture = \"../../../fixtures/synthetic_bright_square\"\n\
             [[step]]\nreplay = {{ from = 0, to = 11 }}\n\
             [[step]]\nexpect_console = {{ regex = '{regex}', if_console = {if_console} }}\ntimeout_ms = 2000\n"
        )
    };
    let run = |s: scenario::Scenario, console: bool| async move {
        let mut needs = s.needs.clone();
        needs.console |= console;
        let target = TargetSpec::Sim.open(&needs).await.unwrap();
        runner::run(&s, target.as_ref(), &RunEnv::default()).await
    };
    let seen = "^cam-fw: motion id=[0-9a-f]{8}-\\d+ frame=11 ";
    let never = "^cam-fw: motion id=[0-9a-f]{8}-\\d+ frame=99 ";
    let optional = scenario::parse(&data("inline.toml"), &src(never, true)).unwrap();
    assert!(!optional.needs.console);
    let report = run(optional, false).await;
    assert!(report.passed(), "no console, nothing to wait for: {:?}", report.failure());
    let required = scenario::parse(&data("inline.toml"), &src(seen, false)).unwrap();
    assert!(required.needs.console);
    let report = run(scenario::parse(&data("inline.toml"), &src(seen, true)).unwrap(), true).await;
    assert!(report.passed(), "{:?}", report.failure());
    let report = run(scenario::parse(&data("inline.toml"), &src(never, true)).unwrap(), true).await;
    let (step, message) = report.failure().expect("a console without the line");
    assert!(step.contains("expect_console") && message.contains("no console line matching"), "{step}: {message}");
}
