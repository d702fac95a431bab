//! Every scenario file under `scenarios/` against the in-process simulator,
//! one test case per file (those checking a cam's connection limits are
//! skipped there: the simulator has none).

use std::path::PathBuf;

use cam_hil::report::scenario_text;
use cam_hil::runner::{self, RunEnv};
use cam_hil::scenario;
use cam_hil::target::TargetSpec;
use rstest::rstest;

#[rstest]
#[tokio::test]
async fn scenario_passes_on_the_simulator(#[files("../scenarios/*.toml")] path: PathBuf) {
    let s = scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let target = match TargetSpec::Sim.open(&s.needs).await {
        Ok(t) => t,
        // Skipped on the simulator: a cam's own connection limits.
        Err(e) if e.unmet => return assert!(s.needs.connection_limits, "{e}"),
        Err(e) => panic!("simulator starts: {e}"),
    };
    let report = runner::run(&s, target.as_ref(), &RunEnv::default()).await;
    assert!(report.passed(), "{}", scenario_text(&report));
}
