//! Seeded fault plans (`[config] fault_plan`), applied by the harness from
//! the outside (its fault proxy, its replay, the target's reset): a correct
//! cam passes them on any target, and a cam that loses events under them
//! fails, named.

use std::path::Path;

use cam_core::event_log::EventId;
use cam_hil::report::Reporter;
use cam_hil::runner::ScenarioReport;
use cam_hil::scenario::Scenario;
use cam_hil::suite::{self, Selection};
use cam_hil::target::{Endpoint, TargetSpec};
use cam_hil::timeline::Channel;
use std::sync::Arc;

use cam_sim::{Fault, SimConfig, Simulator};

struct Quiet;
impl Reporter for Quiet {
    fn event(&mut self, _: &cam_hil::run_event::RunEvent) {}
}

fn load(file: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios").join(file);
    suite::load_all(&[path], &Selection::default()).unwrap().remove(0)
}

/// Caps every step's timeout at `limit` (where a failure is the point,
/// waiting the file's full timeout only slows the test).
fn cap_timeouts(scenario: &mut Scenario, limit: std::time::Duration) {
    for step in &mut scenario.steps {
        step.timeout = step.timeout.min(limit);
    }
}

/// The fault proxy's cuts, from the timeline.
fn cuts(report: &ScenarioReport) -> Vec<String> {
    report
        .timeline
        .entries
        .iter()
        .filter(|e| e.channel == Channel::Fault && e.text.contains(" cut by "))
        .map(|e| e.text.clone())
        .collect()
}

#[tokio::test]
async fn random_stream_cuts_lose_and_duplicate_nothing() {
    // At random, after one event in ten, on a cam that tells its clients to
    // come back after 20 ms: many cuts, none costing a buffer.
    let mut scenario = load("faults_sse_cuts.toml");
    for step in &mut scenario.steps {
        if step.action.kind() == "replay" {
            let fixture = scenario.fixture.clone().unwrap();
            let pace = cam_hil::steps::replay::Pace::Acked;
            step.action = Box::new(cam_hil::steps::replay::Replay { clip: fixture, from: 0, to: 307, pace });
        }
    }
    let plan = cam_hil::faults::FaultPlan { seed: 7, sse_cut_chance: 0.1, ..Default::default() };
    scenario.needs.fault_plan = Some(plan);
    let (summary, reports) = suite::run(std::slice::from_ref(&scenario), &TargetSpec::Sim, &mut Quiet).await;
    assert_eq!(summary.failed, 0, "{:?}", reports[0].failed());
    let cuts = cuts(&reports[0]);
    assert!(cuts.len() >= 10, "the plan cut the stream {} times", cuts.len());
    assert!(cuts.iter().any(|c| c.contains("in the middle of an event")), "{cuts:?}");
    assert!(cuts.iter().any(|c| c.contains("between two events")), "{cuts:?}");
    let ids: Vec<EventId> = reports[0]
        .events
        .iter()
        .filter(|e| e.name != "hello")
        .filter_map(|e| EventId::parse(e.id.as_deref()?))
        .collect();
    let acked: Vec<EventId> = reports[0].frames.iter().filter_map(|f| EventId::parse(f.reply.id.as_deref()?)).collect();
    assert!(!acked.is_empty());
    assert_eq!(ids, acked, "every acked id once, in order");
    assert_eq!(reports[0].fault_plan.as_deref(), Some("seed=7,sse_cut_chance=0.1"));
}

/// The same plan against a cam that ignores `Last-Event-ID`: the events
/// sent while the client was away are lost, and the scenario says so. The
/// cam is at a URL: the harness's faults need nothing of it.
#[tokio::test]
async fn a_cam_that_ignores_last_event_id_fails_under_cuts() {
    let mut scenario = load("faults_sse_cuts.toml");
    // The frames as fast as acked (a cam that answers `retry: 20` keeps up).
    for step in &mut scenario.steps {
        if step.action.kind() == "replay" {
            let fixture = scenario.fixture.clone().unwrap();
            let pace = cam_hil::steps::replay::Pace::Acked;
            step.action = Box::new(cam_hil::steps::replay::Replay { clip: fixture, from: 0, to: 307, pace });
        }
    }
    // Loopback delivers a resumed stream in well under a second: the lost
    // events are not coming, so wait 2 s instead of the file's 30.
    cap_timeouts(&mut scenario, std::time::Duration::from_secs(2));
    let dir = tempfile::tempdir().unwrap();
    for (faults, should_pass) in [(vec![], true), (vec![Fault::IgnoreLastEventId], false)] {
        let config = SimConfig {
            snapshot_dir: dir.path().join("sd"),
            retry_ms: 20,
            faults: faults.into(),
            ..SimConfig::default()
        };
        let cam = Simulator::start(config).await.unwrap();
        let target = TargetSpec::Url(Endpoint::new(cam.url(), None));
        let (summary, reports) = suite::run(std::slice::from_ref(&scenario), &target, &mut Quiet).await;
        assert_eq!(summary.passed == 1, should_pass, "{:?}", reports[0].failed());
        if !should_pass {
            let (_, failure) = reports[0].failed().unwrap();
            assert!(failure.message.contains("the cam greeted the client as new and forgot its place"), "{failure}");
            assert!(failure.message.contains("never arrived: ids "), "the missing events are named: {failure}");
        }
    }
}

/// A cam at a URL has no reset line: a scenario that resets the cam is
/// skipped there, with the reason; network faults run.
#[tokio::test]
async fn a_url_target_skips_resets_and_runs_network_faults() {
    let cam = Simulator::start(SimConfig { retry_ms: 20, ..SimConfig::default() }).await.unwrap();
    let target = TargetSpec::Url(Endpoint::new(cam.url(), None));
    let scenarios = [load("faults_reboot.toml"), load("faults_sse_resets.toml")];
    let (summary, reports) = suite::run(&scenarios, &target, &mut Quiet).await;
    assert_eq!((summary.passed, summary.failed, summary.skipped), (1, 0, 1), "{reports:#?}");
    assert!(reports[0].skipped.as_deref().unwrap_or("").contains("cannot be reset"), "{:?}", reports[0].skipped);
    let resets = cuts(&reports[1]);
    assert!(resets.iter().all(|c| c.contains("cut by Rst")) && resets.len() >= 2, "{resets:?}");
    assert!(reports[1].passed(), "{:?}", reports[1].failed());
}

/// A simulator with deliberate protocol breaks, that the harness can reset.
struct BrokenSim(Vec<Fault>);

impl cam_hil::target::OpenTarget for BrokenSim {
    fn name(&self) -> String {
        format!("sim with {:?}", self.0)
    }
    fn serves(&self) -> cam_hil::target::Serves {
        TargetSpec::Sim.serves()
    }
    fn open<'a>(&'a self, needs: &'a cam_hil::scenario::Needs) -> cam_hil::target::Opening<'a> {
        Box::pin(async move {
            let base = SimConfig { faults: self.0.clone().into(), ..SimConfig::default() };
            cam_hil::target::sim::open_with(base, needs).await.map_err(|message| cam_hil::target::TargetError {
                target: self.name(),
                message,
                unmet: false,
                gone: false,
            })
        })
    }
}

#[tokio::test]
async fn a_delayed_ack_fails_only_the_step_that_waited() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/slow_ack.toml");
    let scenarios = suite::load_all(&[path], &Selection::default()).unwrap();
    let (summary, reports) = suite::run(&scenarios, &TargetSpec::Sim, &mut Quiet).await;
    assert_eq!(summary.failed, 1);
    let steps = &reports[0].steps;
    assert_eq!(steps.len(), 2, "{steps:?}");
    assert!(steps[0].failure.is_none(), "the replay passed: {:?}", steps[0]);
    let failure = steps[1].failure.as_ref().map(|f| f.message.as_str()).unwrap();
    assert!(steps[1].label.contains("a quick status"), "{}", steps[1].label);
    assert!(failure.contains(r#"sent {"cmd":"status"}: no reply before the step's timeout"#), "{failure}");
}

fn load_data(file: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(file);
    suite::load_all(&[path], &Selection::default()).unwrap().remove(0)
}

/// Runs `scenario` on a simulator with `faults` (deliberate breaks), under
/// the scenario's fault plan applied by the harness.
async fn run_with(scenario: Scenario, faults: Vec<Fault>) -> ScenarioReport {
    let target = TargetSpec::Custom(cam_hil::target::CustomTarget(Arc::new(BrokenSim(faults))));
    suite::run(std::slice::from_ref(&scenario), &target, &mut Quiet).await.1.remove(0)
}

fn failure(report: &ScenarioReport) -> (String, String) {
    report.failure().unwrap_or_else(|| panic!("the scenario must fail: {:?}", report.steps))
}

#[tokio::test]
async fn a_reboot_scenario_sees_the_restart_and_the_new_boot() {
    let scenario = load("faults_reboot.toml");
    let report = run_with(scenario, vec![]).await;
    assert!(report.passed(), "{:?}", report.failure());
    let restarts: Vec<_> = report.events.iter().filter(|e| e.name == "restart").collect();
    assert_eq!(restarts.len(), 1);
    let ids: Vec<EventId> =
        report.events.iter().filter(|e| e.name != "hello").filter_map(|e| EventId::parse(e.id.as_deref()?)).collect();
    let (old, new) = (ids[0].boot, ids.last().unwrap().boot);
    assert_ne!(old, new);
    let want: Vec<EventId> = (1..=126)
        .map(|seq| EventId { boot: old, seq })
        .chain((0..=157).map(|seq| EventId { boot: new, seq }))
        .collect();
    assert_eq!(ids, want, "each boot's ids once, in order, the restart (seq 0) between");
}

/// A cam that reboots and says nothing: its ids move to a new boot without
/// a `restart` event. The boot in the id still gives it away.
#[tokio::test]
async fn a_reboot_the_cam_does_not_announce_fails_the_scenario() {
    let mut scenario = load("faults_reboot.toml");
    cap_timeouts(&mut scenario, std::time::Duration::from_secs(2));
    // With an `expect_restart` step the wait for the announcement fails.
    let report = run_with(scenario, vec![Fault::NoRestartEvent]).await;
    let (step, message) = failure(&report);
    assert!(step.contains("expect_restart"), "{step}");
    assert!(message.contains("the harness reset the cam, but no `restart` event came"), "{message}");
    // Without it, the new boot's ids give the reboot away.
    let mut scenario = load("faults_reboot.toml");
    scenario.steps.retain(|s| s.action.kind() != "expect_restart");
    let report = run_with(scenario, vec![Fault::NoRestartEvent]).await;
    let (step, message) = failure(&report);
    assert!(step.contains("the new boot counts"), "{step}");
    assert!(message.starts_with("SSE rules broken: `motion` event id "), "{message}");
    assert!(message.contains("and no `restart` event came between: a reboot the cam did not announce"), "{message}");
}

/// A scenario that does not expect a reboot fails at its next check when
/// one happens.
#[tokio::test]
async fn an_unexpected_reboot_fails_the_next_check() {
    let mut scenario = load("faults_reboot.toml");
    scenario.steps.retain(|s| s.action.kind() != "expect_restart");
    let (step, message) = failure(&run_with(scenario, vec![]).await);
    assert!(step.contains("the old boot"), "{step}");
    assert!(message.starts_with("the cam rebooted: `restart` event id "), "{message}");
    assert!(message.contains("add an `expect_restart` step"), "{message}");
}

/// `expect_restart` on a cam that did not reboot.
#[tokio::test]
async fn expecting_a_restart_that_does_not_come_fails() {
    let mut scenario = load("faults_reboot.toml");
    scenario.needs.fault_plan = Some(cam_hil::faults::FaultPlan::default());
    scenario.needs.reset = false;
    cap_timeouts(&mut scenario, std::time::Duration::from_millis(500));
    let (step, message) = failure(&run_with(scenario, vec![]).await);
    assert!(step.contains("expect_restart"), "{step}");
    assert_eq!(message, "no `restart` event within 500 ms: the stream shows no reboot");
}

/// Events made while the stream was away and gone in the reboot are named,
/// and pass only when the step allows that many.
#[tokio::test]
async fn events_lost_in_a_reboot_are_named_and_counted() {
    let scenario = load_data("reboot_loses_events.toml");
    let (step, message) = failure(&run_with(scenario, vec![]).await);
    assert!(step.contains("expect_restart"), "{step}");
    let re = regex::Regex::new(
        r"^3 acked motion event\(s\) never arrived: ids ([0-9a-f]{8})-2, ([0-9a-f]{8})-3, ([0-9a-f]{8})-4 in the reboot \(at most 0 may be\)$",
    )
    .unwrap();
    assert!(re.is_match(&message), "{message}");
    let mut allowing = load_data("reboot_loses_events.toml");
    let last = allowing.steps.last_mut().unwrap();
    last.action = Box::new(cam_hil::steps::expect_restart::ExpectRestart { max_lost: 3 });
    let report = run_with(allowing, vec![]).await;
    assert!(report.passed(), "{:?}", report.failure());
}

/// Latency, jitter, a throttle, byte cuts by RST, half-open spells and
/// refused connections at once: each bites, and nothing acked is lost.
#[tokio::test]
async fn every_network_fault_at_once_loses_nothing() {
    let report = run_with(load("faults_network.toml"), vec![]).await;
    assert!(report.passed(), "{:?}", report.failed());
    let notes: Vec<&str> =
        report.timeline.entries.iter().filter(|e| e.channel == Channel::Fault).map(|e| e.text.as_str()).collect();
    for what in ["cut by Rst after 300 bytes", "half-open for 300 ms", "refused ("] {
        assert!(notes.iter().any(|n| n.contains(what)), "no `{what}` among {notes:#?}");
    }
}

/// An ack the network loses: the step that waited for it fails, a timeout
/// naming what it waited for.
#[tokio::test]
async fn a_dropped_ack_fails_the_step_that_waited_for_it() {
    let src =
        "[config]\nfault_plan = { ack_drop_chance = 1.0 }\n[[step]]\ntimeout_ms = 300\nsend = { cmd = \"status\" }\n";
    let s =
        cam_hil::scenario::parse(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/inline.toml"), src).unwrap();
    let report = run_with(s, vec![]).await;
    let (_, failure) = report.failed().expect("no ack comes");
    assert_eq!(failure.kind, cam_hil::outcome::FailureKind::Timeout { waiting_for: "the reply".into() }, "{failure}");
    assert!(report.timeline.entries.iter().any(|e| e.text.contains("a text frame from the cam dropped")));
}

/// A stalled SSE reader holds up no ack, and gets every acked event once
/// it reads again.
#[tokio::test]
async fn a_stalled_reader_loses_and_duplicates_nothing() {
    let report = run_with(load("faults_stall.toml"), vec![]).await;
    assert!(report.passed(), "{:?}", report.failed());
    let stalls = report.timeline.entries.iter().filter(|e| e.channel == Channel::Fault && e.text.starts_with("stall"));
    assert_eq!(stalls.count(), 1);
}

/// Frames the harness truncates, corrupts, oversizes, duplicates, swaps
/// or sends with a repeated capture time: the cam answers each 200 or 4xx,
/// never 5xx, and a refused frame changes nothing.
#[tokio::test]
async fn frame_faults_are_refused_or_processed_and_a_refusal_changes_nothing() {
    let report = run_with(load("faults_frames.toml"), vec![]).await;
    assert!(report.passed(), "{:?}", report.failed());
    let refused = report.timeline.entries.iter().filter(|e| e.channel == Channel::Frame && e.text.contains("refused"));
    assert!(refused.count() >= 3, "the plan had frames refused");
    // A cam that answers a bad frame 200 (without an ack) fails.
    let report = run_with(load("faults_frames.toml"), vec![Fault::BadFrameOk]).await;
    let (_, failure) = report.failed().expect("a 200 without an ack fails");
    assert_eq!(failure.mismatch_values().map(|m| m.expected.as_str()), Some("a frame ack"), "{failure}");
}

/// A new client cut in the middle of its `hello` has no place yet: the
/// harness connects again before the first frame, so nothing is lost.
/// Cuts land in the middle of an event, after one event in twenty; the
/// first, seeded, in the `hello`. Every frame raises an event, so a
/// harness that did not wait for its place would miss those raised while
/// it came back.
#[tokio::test]
async fn a_client_cut_in_its_hello_connects_again_and_misses_nothing() {
    let src = r#"
name = "cut in the hello"
fixture = "../fixtures/cdnet_highway"
timeout_ms = 30000
[config]
fault_plan = { seed = 23, sse_cut_chance = 0.05, mid_event_share = 1.0 }
threshold = 0.001  # every frame of the clip is motion, from the first on
retry_ms = 20
[[step]]
replay = { from = 0, to = 80 }
[[step]]
expect_events = { event = "motion", min = 10 }
"#;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/inline.toml");
    let scenario = cam_hil::scenario::parse(&path, src).unwrap();
    let (summary, reports) = suite::run(std::slice::from_ref(&scenario), &TargetSpec::Sim, &mut Quiet).await;
    assert_eq!(summary.failed, 0, "{:?}", reports[0].failed());
    let cuts = cuts(&reports[0]);
    assert!(cuts[0].ends_with("in the middle of an event (0 event(s) delivered whole)"), "{cuts:?}");
    // The stream was cut before its first event, and the client's first
    // whole event is a `hello` on the next connection.
    let sse: Vec<&str> =
        reports[0].timeline.entries.iter().filter(|e| e.channel == Channel::Sse).map(|e| e.text.as_str()).collect();
    let first_error = sse.iter().position(|t| t.starts_with("error: ")).unwrap();
    let first_event = sse.iter().position(|t| t.starts_with("event ")).unwrap();
    assert!(first_error < first_event && sse[first_event].starts_with("event hello "), "{sse:#?}");
    let ids: Vec<EventId> = reports[0]
        .events
        .iter()
        .filter(|e| e.name == "motion")
        .filter_map(|e| EventId::parse(e.id.as_deref()?))
        .collect();
    let acked: Vec<EventId> = reports[0].frames.iter().filter_map(|f| EventId::parse(f.reply.id.as_deref()?)).collect();
    assert!(acked.len() >= 10, "{}", acked.len());
    assert_eq!(ids, acked, "every acked id once, in order");
}

/// A cam that hangs up on an oversized frame while the harness still
/// writes it (reset, or a broken pipe, depending on timing) refused it:
/// the replay takes that as a refusal, not as a transport failure.
#[tokio::test]
async fn a_cam_hanging_up_on_an_oversized_body_is_refusing_it() {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut head, mut byte) = (Vec::new(), [0u8; 1]);
                while !head.ends_with(b"\r\n\r\n") {
                    if conn.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                // Gone without reading the body: its bytes are still unread.
                drop(conn);
            });
        }
    });
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    for _ in 0..3 {
        let err = client.post(format!("http://{addr}/hil/frame")).body(vec![0u8; 4 << 20]).send().await.unwrap_err();
        assert!(cam_hil::client::is_connection_reset(&err), "{err:?}");
    }
}
