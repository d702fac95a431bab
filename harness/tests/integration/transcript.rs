//! The recorded-footage event transcript of the highway clip, checked with
//! insta: every `motion` event with ids relative to the first and capture
//! times relative to fixture time 0, so it is independent of the wall clock.

use cam_hil::runner::{self, RunEnv};
use cam_hil::scenario;
use cam_hil::target::TargetSpec;

#[tokio::test]
async fn highway_transcript() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/highway.toml");
    let s = scenario::load(&path).expect("valid scenario");
    let target = TargetSpec::Sim.open(&s.needs).await.expect("simulator starts");
    let report = runner::run(&s, target.as_ref(), &RunEnv::default()).await;
    assert!(report.passed(), "{:?}", report.failure());
    insta::assert_snapshot!("highway_transcript", report.transcript());
}
