//! The `protocol` scenarios against cams at a URL: simulators started on
//! their own, with a token, reached only over the network; one over plain
//! HTTP and one over HTTPS with a self-signed certificate trusted through a
//! CA file (`--ca`).

use std::path::Path;
use std::time::Duration;

use cam_hil::report::{Reporter, TextReporter};
use cam_hil::scenario::Scenario;
use cam_hil::suite::{self, Selection};
use cam_hil::target::{Endpoint, TargetSpec};
use cam_sim::{SimConfig, Simulator, TlsFiles};

struct Quiet;
impl Reporter for Quiet {
    fn event(&mut self, _: &cam_hil::run_event::RunEvent) {}
}

/// A cam with a token and its own keep-alive period (shorter than the
/// protocol's 15 s, so the keepalive scenario does not wait that long);
/// with `tls`, serving a self-signed certificate whose PEM is returned.
async fn cam(dir: &Path, tls: bool) -> (Simulator, Option<std::path::PathBuf>) {
    let files = tls.then(|| cam_hil::tls::self_signed(dir).unwrap());
    let config = SimConfig {
        token: Some("s3cret".into()),
        snapshot_dir: dir.join("sdcard"),
        keepalive: Duration::from_millis(200),
        tls: files.clone().map(|(cert, key)| TlsFiles { cert, key }),
        ..SimConfig::default()
    };
    (Simulator::start(config).await.unwrap(), files.map(|(cert, _)| cert))
}

fn protocol_scenarios() -> Vec<Scenario> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let files = suite::discover(&[dir]).unwrap();
    let s = suite::load_all(&files, &Selection { tags: vec!["protocol".into()], ..Selection::default() }).unwrap();
    assert!(s.len() >= 10, "protocol scenarios: {}", s.len());
    s
}

async fn run_all(scenarios: &[Scenario], target: TargetSpec) {
    let mut text = Vec::new();
    let (summary, _) = suite::run(scenarios, &target, &mut TextReporter::new(&mut text)).await;
    assert_eq!(summary.failed, 0, "{}", String::from_utf8_lossy(&text));
    assert_eq!(summary.passed, scenarios.len());
}

#[tokio::test]
async fn protocol_scenarios_pass_against_a_cam_at_a_url() {
    let dir = tempfile::tempdir().unwrap();
    let (cam, _) = cam(dir.path(), false).await;
    let plain: Vec<Scenario> = protocol_scenarios().into_iter().filter(|s| !s.needs.tls).collect();
    run_all(&plain, TargetSpec::Url(Endpoint::new(cam.url(), Some("s3cret".into())))).await;
}

#[tokio::test]
async fn every_protocol_scenario_passes_over_https_with_a_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let (cam, ca) = cam(dir.path(), true).await;
    assert!(cam.url().starts_with("https://"));
    let target = TargetSpec::Url(Endpoint::new(cam.url(), None)).with_credentials(Some("s3cret".into()), ca);
    run_all(&protocol_scenarios(), target).await;
}

#[tokio::test]
async fn an_untrusted_certificate_fails_at_setup() {
    let dir = tempfile::tempdir().unwrap();
    let (cam, _) = cam(dir.path(), true).await;
    let other = tempfile::tempdir().unwrap();
    let (wrong_ca, _) = cam_hil::tls::self_signed(other.path()).unwrap();
    let target =
        TargetSpec::Url(Endpoint::new(cam.url(), None)).with_credentials(Some("s3cret".into()), Some(wrong_ca));
    let scenarios: Vec<Scenario> = protocol_scenarios().into_iter().filter(|s| s.needs.tls).collect();
    let (summary, reports) = suite::run(&scenarios, &target, &mut Quiet).await;
    assert_eq!(summary.passed, 0);
    let (step, message) = reports[0].failure().unwrap();
    assert_eq!(step, "setup");
    assert!(message.to_lowercase().contains("certificate"), "{message}");
}

#[tokio::test]
async fn a_tls_scenario_needs_an_https_cam() {
    let dir = tempfile::tempdir().unwrap();
    let (cam, _) = cam(dir.path(), false).await;
    let target = TargetSpec::Url(Endpoint::new(cam.url(), Some("s3cret".into())));
    let scenarios: Vec<Scenario> = protocol_scenarios().into_iter().filter(|s| s.needs.tls).collect();
    let (summary, reports) = suite::run(&scenarios, &target, &mut Quiet).await;
    assert_eq!((summary.failed, summary.skipped), (0, 1));
    assert!(reports[0].skipped.as_deref().unwrap().contains("needs a cam serving https://"));
}

#[tokio::test]
async fn a_wrong_token_fails_every_scenario_at_setup() {
    let dir = tempfile::tempdir().unwrap();
    let (cam, _) = cam(dir.path(), false).await;
    let target = TargetSpec::Url(Endpoint::new(cam.url(), Some("wrong".into())));
    let scenarios: Vec<Scenario> = protocol_scenarios().into_iter().filter(|s| !s.needs.tls).collect();
    let (summary, reports) = suite::run(&scenarios, &target, &mut Quiet).await;
    assert_eq!(summary.passed, 0);
    for r in reports {
        let (step, message) = r.failure().unwrap();
        assert_eq!(step, "setup");
        assert!(message.contains("401"), "{message}");
    }
}

/// The token is a secret: no text, JUnit or HTML report of a run that used
/// it (as a bearer header, in `?token=`, on the WebSocket), passing or
/// failing, contains it.
#[tokio::test]
async fn the_token_appears_in_no_report() {
    const TOKEN: &str = "tok-91e2c7d4";
    let dir = tempfile::tempdir().unwrap();
    let config = SimConfig { token: Some(TOKEN.into()), snapshot_dir: dir.path().join("sd"), ..SimConfig::default() };
    let cam = Simulator::start(config).await.unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files =
        ["../scenarios/auth.toml", "../scenarios/snapshot.toml", "../scenarios/resume.toml", "tests/data/never.toml"]
            .map(|f| root.join(f));
    let scenarios = suite::load_all(&files, &Selection::default()).unwrap();
    let mut text = Vec::new();
    let target = TargetSpec::Url(Endpoint::new(cam.url(), Some(TOKEN.into())));
    let (summary, reports) = suite::run(&scenarios, &target, &mut TextReporter::new(&mut text)).await;
    let text = String::from_utf8(text).unwrap();
    assert_eq!((summary.passed, summary.failed), (3, 1), "{text}");
    let xml = cam_hil::report::junit::to_xml(&reports).unwrap();
    cam_hil::report::html::write(dir.path(), &reports, &summary).unwrap();
    let page = std::fs::read_to_string(dir.path().join("index.html")).unwrap();
    assert!(page.contains("/events") && xml.contains("timeline:"), "the reports hold the requests");
    for (what, body) in [("text", &text), ("JUnit", &xml), ("HTML", &page)] {
        assert!(!body.contains(TOKEN), "the token leaked into the {what} report");
    }
}

/// Something answers at the URL, but not a cam (a web server that says
/// "hello" to everything): the run fails at setup, where `GET /events`
/// is not an SSE stream, saying what was wrong, and never reports a pass.
#[tokio::test]
async fn a_target_that_speaks_another_protocol_fails_with_a_clear_message() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(|| async { "hello" });
    tokio::spawn(async move { axum::serve(listener, app).await });
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let scenarios = suite::load_all(&[root.join("../scenarios/bright_square.toml")], &Selection::default()).unwrap();
    let target = TargetSpec::Url(Endpoint::new(format!("http://{addr}"), None));
    let (summary, reports) = suite::run(&scenarios, &target, &mut Quiet).await;
    assert_eq!(summary.failed, 1);
    let (step, message) = reports[0].failure().unwrap();
    assert_eq!(step, "setup");
    assert_eq!(
        message,
        r#"GET /events answered with Content-Type "text/plain; charset=utf-8", not text/event-stream: the target does not speak SSE"#
    );
}
