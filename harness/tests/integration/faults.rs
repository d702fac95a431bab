//! Seeded fault plans (`[config] fault_plan`): the harness holds up under
//! the faults real networks produce, and still notices a cam that loses
//! events under them.

use std::path::Path;

use cam_core::event_log::EventId;
use cam_hil::report::Reporter;
use cam_hil::runner::ScenarioReport;
use cam_hil::scenario::Scenario;
use cam_hil::suite::{self, Selection};
use cam_hil::target::{Endpoint, TargetSpec};
use cam_hil::timeline::Channel;
use cam_sim::{Fault, FaultPlan, SimConfig, Simulator};

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

fn cuts(report: &ScenarioReport) -> usize {
    report.timeline.entries.iter().filter(|e| e.channel == Channel::Sse && e.text.starts_with("error")).count()
}

#[tokio::test]
async fn random_stream_cuts_lose_and_duplicate_nothing() {
    let scenario = load("faults_sse_cuts.toml");
    let (summary, reports) = suite::run(std::slice::from_ref(&scenario), &TargetSpec::Sim, &mut Quiet).await;
    assert_eq!(summary.failed, 0, "{:?}", reports[0].steps.last());
    let n = cuts(&reports[0]);
    assert!(n >= 10, "the plan cut the stream {n} times");
    let ids: Vec<EventId> = reports[0].events.iter().filter_map(|e| EventId::parse(e.id.as_deref()?)).collect();
    let boot = ids[0].boot;
    assert_eq!(ids, (1..=209).map(|seq| EventId { boot, seq }).collect::<Vec<_>>(), "every id once, in order");
}

/// The same plan against a cam that ignores `Last-Event-ID`: the events
/// sent while the client was away are lost, and the scenario says so.
#[tokio::test]
async fn a_cam_that_ignores_last_event_id_fails_under_cuts() {
    let mut scenario = load("faults_sse_cuts.toml");
    let plan = scenario.needs.fault_plan.take().expect("the scenario has a plan");
    // Loopback delivers a resumed stream in well under a second: the lost
    // events are not coming, so wait 2 s instead of the file's 20.
    cap_timeouts(&mut scenario, std::time::Duration::from_secs(2));
    let dir = tempfile::tempdir().unwrap();
    for (faults, should_pass) in [(vec![], true), (vec![Fault::IgnoreLastEventId], false)] {
        let config = SimConfig {
            snapshot_dir: dir.path().join("sd"),
            retry_ms: 20,
            fault_plan: cam_hil::target::sim::sim_plan(&plan),
            faults: faults.into(),
            ..SimConfig::default()
        };
        let cam = Simulator::start(config).await.unwrap();
        let target = TargetSpec::Url(Endpoint::new(cam.url(), None));
        let (summary, reports) = suite::run(std::slice::from_ref(&scenario), &target, &mut Quiet).await;
        assert_eq!(summary.passed == 1, should_pass, "{:?}", reports[0].steps.last());
        if !should_pass {
            let failure = reports[0].steps.iter().find_map(|s| s.failure.clone()).unwrap();
            assert!(failure.message.contains("the SSE stream delivered only"), "{failure}");
        }
    }
}

#[tokio::test]
async fn a_fault_plan_needs_the_simulator() {
    let scenario = load("faults_sse_cuts.toml");
    let cam = Simulator::start(SimConfig::default()).await.unwrap();
    let target = TargetSpec::Url(Endpoint::new(cam.url(), None));
    let (summary, reports) = suite::run(std::slice::from_ref(&scenario), &target, &mut Quiet).await;
    assert_eq!((summary.failed, summary.skipped), (0, 1), "skipped, not failed");
    assert!(reports[0].skipped.as_deref().unwrap_or("").contains("cannot inject them"), "{reports:?}");
}

#[test]
fn fault_plans_parse_from_the_command_line() {
    let plan: FaultPlan = "seed=7, sse_cut_chance=0.1,ack_delay_ms=500".parse().unwrap();
    assert_eq!((plan.seed, plan.sse_cut_chance, plan.ack_delay_ms), (7, 0.1, 500));
    assert_eq!("seed=3".parse::<FaultPlan>().unwrap(), FaultPlan { seed: 3, ..FaultPlan::default() });
    let plan: FaultPlan =
        "stall_ms=100,stall_after_frames=3,stall_chance=0.5,frame_corrupt_chance=0.25".parse().unwrap();
    assert_eq!(
        (plan.stall_ms, plan.stall_after_frames, plan.stall_chance, plan.frame_corrupt_chance),
        (100, Some(3), 0.5, 0.25)
    );
    assert!("stall_chance=-0.1".parse::<FaultPlan>().unwrap_err().contains("not in [0, 1]"));
    assert!("sse_cut_chance=2".parse::<FaultPlan>().unwrap_err().contains("not in [0, 1]"));
    assert!("bogus=1".parse::<FaultPlan>().unwrap_err().contains("unknown fault plan key"));
    assert!("seed".parse::<FaultPlan>().unwrap_err().contains("expected key=value"));
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

/// Runs `scenario` on a simulator with its fault plan and `faults`.
async fn run_with(scenario: Scenario, faults: Vec<Fault>) -> ScenarioReport {
    run_on_sim(scenario, faults).await.0
}

/// [`run_with`], also giving back the simulator.
async fn run_on_sim(mut scenario: Scenario, faults: Vec<Fault>) -> (ScenarioReport, Simulator) {
    let plan = scenario.needs.fault_plan.take().expect("the scenario has a plan");
    let retry_ms = scenario.needs.retry_ms.take().unwrap_or(20);
    let dir = tempfile::tempdir().unwrap();
    let config = SimConfig {
        snapshot_dir: dir.path().join("sd"),
        retry_ms,
        fault_plan: cam_hil::target::sim::sim_plan(&plan),
        faults: faults.into(),
        ..SimConfig::default()
    };
    let cam = Simulator::start(config).await.unwrap();
    let target = TargetSpec::Url(Endpoint::new(cam.url(), None));
    (suite::run(std::slice::from_ref(&scenario), &target, &mut Quiet).await.1.remove(0), cam)
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
    let ids: Vec<EventId> = report.events.iter().filter_map(|e| EventId::parse(e.id.as_deref()?)).collect();
    let (old, new) = (ids[0].boot, ids.last().unwrap().boot);
    assert_ne!(old, new);
    let want: Vec<EventId> =
        (1..=83).map(|seq| EventId { boot: old, seq }).chain((0..=125).map(|seq| EventId { boot: new, seq })).collect();
    assert_eq!(ids, want, "each boot's ids once, in order, the restart (seq 0) between");
}

/// A cam that reboots and says nothing: its ids move to a new boot without
/// a `restart` event. The boot in the id still gives it away.
#[tokio::test]
async fn a_reboot_the_cam_does_not_announce_fails_the_scenario() {
    let mut scenario = load("faults_reboot.toml");
    cap_timeouts(&mut scenario, std::time::Duration::from_secs(2));
    let report = run_with(scenario, vec![Fault::NoRestartEvent]).await;
    let (step, message) = failure(&report);
    assert!(step.contains("expect_restart"), "{step}");
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
    assert!(step.contains("the new boot counts"), "{step}");
    assert!(message.starts_with("the cam rebooted: `restart` event id "), "{message}");
    assert!(message.contains("add an `expect_restart` step"), "{message}");
}

/// `expect_restart` on a cam that did not reboot.
#[tokio::test]
async fn expecting_a_restart_that_does_not_come_fails() {
    let mut scenario = load("faults_reboot.toml");
    scenario.needs.fault_plan = Some(cam_hil::faults::FaultPlan::default());
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

/// Stalls inside a step's timeout only slow the run; the count and the
/// rules above mean 0 lost, 0 duplicated.
#[tokio::test]
async fn stalls_lose_and_duplicate_nothing() {
    let (report, cam) = run_on_sim(load("faults_stall.toml"), vec![]).await;
    assert!(report.passed(), "{:?}", report.failure());
    let stalls = cam.shared().stalls_ended();
    assert!(stalls >= 5, "the plan stalled the cam {stalls} times");
}

/// A stall longer than the step's timeout fails that step, naming the
/// frame that got no answer.
#[tokio::test]
async fn a_stall_longer_than_the_step_fails_it_clearly() {
    let (step, message) = failure(&run_with(load_data("long_stall.toml"), vec![]).await);
    assert!(step.starts_with("step 1 (replay"), "{step}");
    assert_eq!(message, "frame 5 (frame_00005.jpg): POST /hil/frame: no answer before the step's timeout (1000 ms)");
}

/// A reboot drops the control WebSocket; a command sent on it says so.
#[tokio::test]
async fn a_command_on_the_websocket_a_reboot_dropped_says_why_it_failed() {
    let mut scenario = load("faults_reboot.toml");
    scenario.steps.retain(|s| s.action.kind() != "ws_connect");
    let (step, message) = failure(&run_with(scenario, vec![]).await);
    assert!(step.contains("the new boot's state"), "{step}");
    assert!(
        message
            .starts_with(r#"sent {"cmd":"status"}: expected an ack, got the connection ended without a close frame"#),
        "{message}"
    );
    assert!(
        message.ends_with("(the cam rebooted, which dropped the WebSocket: add `ws_connect = {}` first)"),
        "{message}"
    );
}
