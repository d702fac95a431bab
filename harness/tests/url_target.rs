//! The `protocol` scenarios against a cam at a URL: a simulator started on
//! its own, with a token, reached only over the network.

use std::path::Path;

use cam_hil::report::{Reporter, TextReporter};
use cam_hil::suite::{self, Selection};
use cam_hil::target::{Endpoint, TargetSpec};
use cam_sim::{SimConfig, Simulator};

struct Quiet;
impl Reporter for Quiet {
    fn scenario(&mut self, _: &cam_hil::runner::ScenarioReport) {}
    fn summary(&mut self, _: &suite::Summary) {}
}

async fn cam_with_token() -> (Simulator, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    // A cam with its own keep-alive period, shorter than the protocol's 15 s
    // so the keepalive scenario does not wait that long.
    let config = SimConfig {
        token: Some("s3cret".into()),
        snapshot_dir: dir.path().into(),
        keepalive: std::time::Duration::from_millis(200),
        ..SimConfig::default()
    };
    (Simulator::start(config).await.unwrap(), dir)
}

fn protocol_scenarios() -> Vec<cam_hil::scenario::Scenario> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let files = suite::discover(&[dir]).unwrap();
    let s = suite::load_all(
        &files,
        &Selection {
            tags: vec!["protocol".into()],
        },
    )
    .unwrap();
    assert!(s.len() >= 6, "protocol scenarios: {}", s.len());
    s
}

#[tokio::test]
async fn protocol_scenarios_pass_against_a_cam_at_a_url() {
    let (cam, _dir) = cam_with_token().await;
    let target = TargetSpec::Url(Endpoint {
        base: cam.url(),
        token: Some("s3cret".into()),
    });
    let mut text = Vec::new();
    let (summary, _) = suite::run(
        &protocol_scenarios(),
        &target,
        &mut TextReporter::new(&mut text),
    )
    .await;
    assert_eq!(summary.failed, 0, "{}", String::from_utf8_lossy(&text));
}

#[tokio::test]
async fn a_wrong_token_fails_every_scenario_at_setup() {
    let (cam, _dir) = cam_with_token().await;
    let target = TargetSpec::Url(Endpoint {
        base: cam.url(),
        token: Some("wrong".into()),
    });
    let scenarios = protocol_scenarios();
    let (summary, reports) = suite::run(&scenarios, &target, &mut Quiet).await;
    assert_eq!(summary.passed, 0);
    for r in reports {
        let (step, message) = r.failure().unwrap();
        assert_eq!(step, "setup");
        assert!(message.contains("401"), "{message}");
    }
}
