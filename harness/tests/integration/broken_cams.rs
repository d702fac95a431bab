//! A check is only worth having if it fails when it should. Every
//! `protocol` scenario runs against simulators that each break one row of
//! `docs/protocol.md` (`cam-sim --fault`), reached as cams at a URL, and
//! must fail with the reason; the same scenarios pass on a cam without
//! faults (`url_target.rs`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cam_hil::runner::{self, RunEnv};
use cam_hil::scenario;
use cam_hil::suite::{self, Selection};
use cam_hil::target::{Endpoint, TargetSpec};
use cam_sim::{Fault, SimConfig, Simulator};
use rstest::rstest;

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

/// Each protocol scenario, a fault that breaks its row, and what the
/// failure must say.
const BREAKS: &[(&str, Fault, &str)] = &[
    ("bright_square", Fault::DropEvents, "acked 1 frame(s) as motion (frames 11) but the SSE stream delivered only 0"),
    ("bright_square", Fault::OmitIds, "`motion` event without `id:`"),
    ("bright_square", Fault::DuplicateEvents, "-1 does not increase (previous "),
    ("bright_square", Fault::NoRetry, "first event of connection 1 has no `retry:`"),
    ("bright_square", Fault::NoHello, "GET /events without Last-Event-ID answered but sent no `hello` event in time"),
    ("still", Fault::AlwaysMotion, "expected no event, 10 arrived"),
    ("reset", Fault::ResetKeepsCount, "$.count: expected 1, got 2"),
    ("snapshot", Fault::WrongContentTypes, "expected Content-Type image/jpeg"),
    ("bad_commands", Fault::CloseOnBadJson, "expected an ack, got close code 1000"),
    ("threshold", Fault::AcceptAnyThreshold, "$.ok: expected false, got true"),
    ("bad_frame", Fault::BadFrameOk, "expected status 400, got 200"),
    (
        "resume",
        Fault::IgnoreLastEventId,
        "the cam greeted the client as new and forgot its place: 3 acked motion event(s) never arrived: ids ",
    ),
    ("keepalive", Fault::NoKeepalive, "no `: keepalive` comment within"),
    ("auth", Fault::UnguardedEvents, "GET /events: expected status 401, got 200"),
    ("ws_limits", Fault::NoCloseCodes, "expected close code 1009, got the connection ended without a close frame"),
    ("ws_binary", Fault::IgnoreBinary, "no reply before the step's timeout"),
    ("ws_ping_close", Fault::AbruptClose, "close"),
];

#[rstest]
#[tokio::test]
async fn a_cam_breaking_one_row_fails_its_scenario(
    #[values(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16)] case: usize,
) {
    let (name, fault, expected) = BREAKS[case];
    let dir = tempfile::tempdir().unwrap();
    let mut s = scenario::load(&scenarios_dir().join(format!("{name}.toml"))).unwrap();
    assert!(s.tags.iter().any(|t| t == "protocol"), "{name} is not a protocol scenario");
    let config = SimConfig {
        faults: [fault].into(),
        snapshot_dir: dir.path().into(),
        token: s.needs.token.then(|| "t0ken".to_string()),
        keepalive: s.needs.keepalive.unwrap_or(Duration::from_secs(15)),
        ..SimConfig::default()
    };
    let cam = Simulator::start(config).await.unwrap();
    // What never comes can only be noticed at a deadline: keep them short.
    s.steps.iter_mut().for_each(|step| step.timeout = Duration::from_millis(800));
    let endpoint = Endpoint::new(cam.url(), s.needs.token.then(|| "t0ken".to_string()));
    let target = TargetSpec::Url(endpoint).open(&s.needs).await.unwrap();
    let report = runner::run(&s, target.as_ref(), &RunEnv::default()).await;
    let (step, message) = report.failure().unwrap_or_else(|| panic!("{name} must fail against {fault:?}"));
    assert!(message.contains(expected), "{name} with {fault:?} failed at {step} with:\n{message}");
}

/// Protocol scenarios shown to fail in other tests: `tls` against a cam
/// whose certificate is not trusted (`url_target.rs`).
const SHOWN_ELSEWHERE: &[&str] = &["tls"];

#[test]
fn every_protocol_scenario_is_shown_to_fail() {
    let files = suite::discover(&[scenarios_dir()]).unwrap();
    let protocol: BTreeSet<String> =
        suite::load_all(&files, &Selection { tags: vec!["protocol".into()], ..Selection::default() })
            .unwrap()
            .iter()
            .map(|s| s.path.file_stem().unwrap().to_string_lossy().into_owned())
            .collect();
    let covered: BTreeSet<String> =
        BREAKS.iter().map(|(n, _, _)| n.to_string()).chain(SHOWN_ELSEWHERE.iter().map(|n| n.to_string())).collect();
    assert_eq!(protocol, covered, "each protocol scenario needs a fault in BREAKS");
}
