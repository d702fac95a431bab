//! A check is only worth having if it fails when it should: the `protocol`
//! scenario `bright_square.toml` against simulators that each break one
//! behaviour (`cam-sim --fault`), reached as cams at a URL.

use std::path::Path;
use std::time::Duration;

use cam_hil::runner::{self, ClipCache};
use cam_hil::scenario;
use cam_hil::target::{Endpoint, Target, TargetSpec};
use cam_sim::{Faults, SimConfig, Simulator};
use rstest::rstest;

#[rstest]
#[case::events_never_sent(
    Faults { drop_events: true, ..Faults::default() },
    "the target acked 1 frame(s) as motion (frames 11) but the SSE stream delivered only 0"
)]
#[case::events_without_ids(Faults { omit_ids: true, ..Faults::default() }, "`motion` event without `id:`")]
#[case::events_sent_twice(
    Faults { duplicate_events: true, ..Faults::default() },
    "`motion` event id 1 does not increase (previous 1)"
)]
#[tokio::test]
async fn a_cam_breaking_one_rule_fails_the_protocol_scenario(
    #[case] faults: Faults,
    #[case] expected: &str,
) {
    let dir = tempfile::tempdir().unwrap();
    let config = SimConfig {
        faults,
        snapshot_dir: dir.path().into(),
        ..SimConfig::default()
    };
    let cam = Simulator::start(config).await.unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/bright_square.toml");
    let mut s = scenario::load(&path).unwrap();
    assert!(s.tags.contains(&"protocol".to_string()));
    // An event that never comes can only be noticed by its deadline.
    s.steps
        .iter_mut()
        .for_each(|step| step.timeout = Duration::from_millis(500));
    let target: Box<dyn Target> = TargetSpec::Url(Endpoint {
        base: cam.url(),
        token: None,
    })
    .open()
    .await
    .unwrap();
    let report = runner::run(&s, target.as_ref(), &ClipCache::default()).await;
    let (step, message) = report.failure().expect("a broken cam must fail");
    assert!(
        step.starts_with("step 2 (expect_events"),
        "{step}: {message}"
    );
    assert!(message.contains(expected), "{message}");
}

#[tokio::test]
async fn the_same_scenario_passes_on_a_cam_without_faults() {
    let cam = Simulator::start(SimConfig::default()).await.unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/bright_square.toml");
    let s = scenario::load(&path).unwrap();
    let target = TargetSpec::Url(Endpoint {
        base: cam.url(),
        token: None,
    })
    .open()
    .await
    .unwrap();
    let report = runner::run(&s, target.as_ref(), &ClipCache::default()).await;
    assert!(report.passed(), "{:?}", report.failure());
}
