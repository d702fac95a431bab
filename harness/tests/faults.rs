//! Seeded fault plans (`[config] fault_plan`): the harness holds up under
//! the faults real networks produce, and still notices a cam that loses
//! events under them.

use std::path::Path;

use cam_hil::report::Reporter;
use cam_hil::runner::ScenarioReport;
use cam_hil::scenario::Scenario;
use cam_hil::suite::{self, Selection, Summary};
use cam_hil::target::{Endpoint, TargetSpec};
use cam_hil::timeline::Channel;
use cam_sim::{Fault, FaultPlan, SimConfig, Simulator};

struct Quiet;
impl Reporter for Quiet {
    fn scenario(&mut self, _: &ScenarioReport) {}
    fn summary(&mut self, _: &Summary) {}
}

fn load(file: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios").join(file);
    suite::load_all(&[path], &Selection::default()).unwrap().remove(0)
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
    let ids: Vec<u64> = reports[0].events.iter().filter_map(|e| e.id.as_deref()?.parse().ok()).collect();
    assert_eq!(ids, (1..=209).collect::<Vec<_>>(), "every id once, in order");
}

/// The same plan against a cam that ignores `Last-Event-ID`: the events
/// sent while the client was away are lost, and the scenario says so.
#[tokio::test]
async fn a_cam_that_ignores_last_event_id_fails_under_cuts() {
    let mut scenario = load("faults_sse_cuts.toml");
    let plan = scenario.needs.fault_plan.take().expect("the scenario has a plan");
    // Loopback delivers a resumed stream in well under a second: the lost
    // events are not coming, so wait 2 s instead of the file's 20.
    for step in &mut scenario.steps {
        step.timeout = step.timeout.min(std::time::Duration::from_secs(2));
    }
    let dir = tempfile::tempdir().unwrap();
    for (faults, should_pass) in [(vec![], true), (vec![Fault::IgnoreLastEventId], false)] {
        let config = SimConfig {
            snapshot_dir: dir.path().join("sd"),
            retry_ms: 20,
            fault_plan: plan.clone(),
            faults: faults.into(),
            ..SimConfig::default()
        };
        let cam = Simulator::start(config).await.unwrap();
        let target = TargetSpec::Url(Endpoint::new(cam.url(), None));
        let (summary, reports) = suite::run(std::slice::from_ref(&scenario), &target, &mut Quiet).await;
        assert_eq!(summary.passed == 1, should_pass, "{:?}", reports[0].steps.last());
        if !should_pass {
            let failure = reports[0].steps.iter().find_map(|s| s.failure.clone()).unwrap();
            assert!(failure.contains("the SSE stream delivered only"), "{failure}");
        }
    }
}

#[tokio::test]
async fn a_fault_plan_needs_the_simulator() {
    let scenario = load("faults_sse_cuts.toml");
    let cam = Simulator::start(SimConfig::default()).await.unwrap();
    let target = TargetSpec::Url(Endpoint::new(cam.url(), None));
    let (summary, reports) = suite::run(std::slice::from_ref(&scenario), &target, &mut Quiet).await;
    assert_eq!(summary.failed, 1);
    assert!(reports[0].setup_failure.as_deref().unwrap_or("").contains("runs on the simulator only"), "{reports:?}");
}

#[test]
fn fault_plans_parse_from_the_command_line() {
    let plan: FaultPlan = "seed=7, sse_cut_chance=0.1,ack_delay_ms=500".parse().unwrap();
    assert_eq!((plan.seed, plan.sse_cut_chance, plan.ack_delay_ms), (7, 0.1, 500));
    assert_eq!("seed=3".parse::<FaultPlan>().unwrap(), FaultPlan { seed: 3, ..FaultPlan::default() });
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
    let failure = steps[1].failure.as_deref().unwrap();
    assert!(steps[1].label.contains("a quick status"), "{}", steps[1].label);
    assert!(failure.contains(r#"sent {"cmd":"status"}: no reply before the step's timeout"#), "{failure}");
}
