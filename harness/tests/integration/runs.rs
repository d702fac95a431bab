//! Runs that go wrong around the scenarios: a panic inside one, a run
//! killed or stopped halfway, progress while a step waits, and a cam that
//! answers HTTP/1.0 and closes after every response.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use cam_hil::outcome::FailureKind;
use cam_hil::scenario::Needs;
use cam_hil::suite::{self, RunOptions, Selection};
use cam_hil::target::{ConsoleTap, Endpoint, OpenTarget, Opening, Serves, Target, TargetSpec};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Quiet;
impl cam_hil::report::Reporter for Quiet {
    fn event(&mut self, _: &cam_hil::run_event::RunEvent) {}
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn load(paths: &[&str]) -> Vec<cam_hil::scenario::Scenario> {
    let files: Vec<PathBuf> = paths.iter().map(|p| root().join(p)).collect();
    suite::load_all(&files, &Selection::default()).unwrap()
}

/// A simulator whose storage access panics, and which panics while opening
/// for a scenario named `panics while opening`: harness code going wrong
/// in the middle of a run.
struct Panicky;

struct PanickyStorage(Box<dyn Target>);

impl Target for PanickyStorage {
    fn endpoint(&self) -> &Endpoint {
        self.0.endpoint()
    }
    fn read_file(&self, cam_path: &str) -> Result<Option<Vec<u8>>, String> {
        panic!("storage exploded reading {cam_path}");
    }
    fn describe(&self) -> String {
        format!("panicky {}", self.0.describe())
    }
    fn take_console(&self) -> Option<ConsoleTap> {
        self.0.take_console()
    }
}

impl OpenTarget for Panicky {
    fn name(&self) -> String {
        "panicky".into()
    }
    fn serves(&self) -> Serves {
        TargetSpec::Sim.serves()
    }
    fn open<'a>(&'a self, needs: &'a Needs) -> Opening<'a> {
        Box::pin(async move {
            if needs.keepalive == Some(std::time::Duration::from_millis(4321)) {
                panic!("the opener itself exploded");
            }
            let sim = TargetSpec::Sim.open(needs).await?;
            Ok(Box::new(PanickyStorage(sim)) as Box<dyn Target>)
        })
    }
}

#[tokio::test]
async fn a_panic_fails_its_scenario_with_message_and_location_and_the_run_goes_on() {
    let mut scenarios = load(&["scenarios/snapshot_file.toml", "scenarios/still.toml", "scenarios/reset.toml"]);
    // The third scenario's target panics while it opens.
    scenarios[2].needs.keepalive = Some(std::time::Duration::from_millis(4321));
    let target = TargetSpec::Custom(cam_hil::target::CustomTarget(Arc::new(Panicky)));
    let (summary, reports) = suite::run_on(&scenarios, &[target], &RunOptions::default(), &mut Quiet).await;
    assert_eq!((summary.passed, summary.failed), (1, 2), "{reports:#?}");

    let (step, failure) = reports[0].failed().expect("the snapshot scenario fails");
    assert!(step.contains("expect_snapshot"), "{step}");
    let FailureKind::Panicked { location } = &failure.kind else { panic!("{failure:?}") };
    assert!(location.contains("runs.rs:"), "{location}");
    assert!(failure.message.contains("storage exploded reading /sdcard/snaps/"), "{failure}");
    assert!(reports[0].steps.len() > 1 && reports[0].steps[0].failure.is_none(), "the steps before it are kept");
    assert!(!reports[0].timeline.entries.is_empty(), "the timeline is kept");

    assert!(reports[1].passed(), "the run went on: {:?}", reports[1].failed());

    let (step, failure) = reports[2].failed().expect("the scenario whose target panicked fails");
    assert_eq!(step, "setup");
    assert!(matches!(failure.kind, FailureKind::Panicked { .. }), "{failure:?}");
    assert!(failure.message.contains("the opener itself exploded"), "{failure}");
}

/// `cam-hil run --message-format json` on the two scenarios of
/// `tests/data/interrupt/`: the first passes at once, the second waits a
/// minute. Returns the child and a reader of its JSON lines.
fn start_interruptible(out: &Path) -> (std::process::Child, impl Iterator<Item = Value>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cam-hil"))
        .args(["run", "--message-format", "json", "harness/tests/data/interrupt"])
        .arg("--junit")
        .arg(out.join("junit.xml"))
        .arg("--report")
        .arg(out.join("report"))
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map(|l| serde_json::from_str::<Value>(&l.unwrap()).expect("every line is JSON"));
    (child, lines)
}

/// Reads JSON lines until one has `type` and `event` as given (and the
/// `name`, if given); the lines read.
fn until(lines: &mut impl Iterator<Item = Value>, kind: &str, event: &str, name: Option<&str>) -> Vec<Value> {
    let mut seen = Vec::new();
    for v in lines.by_ref() {
        let hit = v["type"] == kind && v["event"] == event && name.is_none_or(|n| v["name"] == n);
        seen.push(v);
        if hit {
            return seen;
        }
    }
    panic!("the run ended without a {kind} {event} line: {seen:#?}");
}

#[test]
fn progress_streams_while_a_step_waits_and_a_killed_run_leaves_its_reports() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, mut lines) = start_interruptible(dir.path());
    until(&mut lines, "test", "ok", Some("a quick status check"));
    // The waiting step's begin arrives while it waits: progress streams.
    let seen = until(&mut lines, "step", "started", Some("a step that waits a minute"));
    let started = seen.last().unwrap();
    assert_eq!(started["label"], "step 1 `quiet for a minute` (expect_no_event, line 5)");
    assert_eq!(started["waits_for"], "the stream to catch up, then 60000 ms without an event");
    assert!(child.try_wait().unwrap().is_none(), "the run is still going");
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).expect("written after the first scenario");
    assert!(junit.contains("tests=\"1\""), "{junit}");
    assert!(junit.contains("<testcase name=\"a quick status check\""), "{junit}");
    let html = std::fs::read_to_string(dir.path().join("report/index.html")).unwrap();
    assert!(html.contains("a quick status check"), "the HTML report too");
}

#[test]
fn sigterm_and_ctrl_c_stop_the_run_cleanly_and_write_the_reports() {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let dir = tempfile::tempdir().unwrap();
        let (mut child, mut lines) = start_interruptible(dir.path());
        until(&mut lines, "step", "started", Some("a step that waits a minute"));
        // SAFETY: kill(2) on our own child's pid.
        assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, signal) }, 0);
        let rest: Vec<Value> = lines.collect();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(130), "signal {signal}");
        let last = rest.last().expect("a closing line");
        assert_eq!(
            (&last["type"], &last["event"], &last["interrupted"]),
            (&"suite".into(), &"failed".into(), &true.into())
        );
        assert_eq!((&last["passed"], &last["cancelled"]), (&1.into(), &1.into()), "{last}");
        let junit = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
        assert!(junit.contains("<testcase name=\"a quick status check\""), "{junit}");
    }
}

/// A cam on a small framework: HTTP/1.0 status lines, a connection closed
/// after every response (the body ends with it), `/control` refused
/// without a token, and `GET /events` a stream that stays open.
async fn http10_cam() -> (String, tokio::task::JoinHandle<()>) {
    canned_cam("HTTP/1.0 401 Unauthorized\r\nContent-Type: application/json\r\n\r\n{\"error\":\"unauthorized\"}").await
}

/// [`http10_cam`] answering every other request with `other`.
async fn canned_cam(other: &'static str) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match conn.read(&mut byte).await {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let head = String::from_utf8_lossy(&head).to_string();
                let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
                let authorized = head.to_lowercase().contains("authorization: bearer s3cret");
                let reply = match path.as_str() {
                    "/events" if authorized => {
                        let _ = conn
                            .write_all(concat!(
                                "HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\n\r\n",
                                "event: hello\nid: 00000001-0\nretry: 1000\ndata: {\"boot\":\"00000001\",\"newest\":0}\n\n"
                            ).as_bytes())
                            .await;
                        // Keep the stream open until the client goes.
                        let _ = conn.read(&mut byte).await;
                        return;
                    }
                    "/hil/reset" | "/status" if authorized => {
                        "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"ok\":true}"
                    }
                    _ => other,
                };
                let _ = conn.write_all(reply.as_bytes()).await;
                let _ = conn.shutdown().await;
            });
        }
    });
    (url, task)
}

#[tokio::test]
async fn a_cam_answering_http_1_0_and_closing_each_connection_is_understood() {
    let (url, _cam) = http10_cam().await;
    let endpoint = Endpoint::new(url.clone(), Some("s3cret".into()));
    let refused = cam_hil::client::Control::connect(
        &endpoint,
        &cam_hil::client::Credentials { auth: cam_hil::client::Auth::None, in_query: false },
    )
    .await
    .expect_err("the upgrade is refused");
    assert_eq!(refused.status, Some(401), "{refused:?}");
    assert!(refused.message.starts_with("refused: 401"), "{refused:?}");

    let src = r#"
name = "a microdot-like cam"
[config]
auth = true
[[step]]
ws_connect = { no_token = true }
expect_status = 401
[[step]]
http = { path = "/status" }
expect_status = 200
expect_json = { ok = true }
[[step]]
http = { path = "/status", no_token = true }
expect_status = 401
expect_json = { error = "unauthorized" }
"#;
    let s = cam_hil::scenario::parse(&root().join("scenarios/inline.toml"), src).unwrap();
    let target = TargetSpec::Url(endpoint);
    let (summary, reports) = suite::run(std::slice::from_ref(&s), &target, &mut Quiet).await;
    assert_eq!(summary.passed, 1, "{:?}", reports[0].failed());
    let refusal = reports[0].timeline.entries.iter().find(|e| e.text.starts_with("refused: 401"));
    assert!(refusal.is_some(), "{:#?}", reports[0].timeline.entries);
}

/// A cam that answers malformed requests 500, or upgrades whatever asks:
/// `bad_input` fails it, saying what came back.
#[rstest::rstest]
#[case::a_500_for_a_bad_request_line("HTTP/1.1 500 Internal Server Error\r\n\r\n", "bad_request_line", "500")]
#[case::an_upgrade_with_a_bad_key("HTTP/1.1 101 Switching Protocols\r\n\r\n", "ws_bad_key", "101")]
#[tokio::test]
async fn bad_input_fails_a_cam_that_answers_it_badly(
    #[case] reply: &'static str,
    #[case] kind: &str,
    #[case] got: &str,
) {
    let (url, _cam) = canned_cam(reply).await;
    let src = format!("[config]\nauth = true\n[[step]]\nbad_input = {{ kind = \"{kind}\" }}\n");
    let s = cam_hil::scenario::parse(&root().join("scenarios/inline.toml"), &src).unwrap();
    let target = TargetSpec::Url(Endpoint::new(url, Some("s3cret".into())));
    let (_, reports) = suite::run(std::slice::from_ref(&s), &target, &mut Quiet).await;
    let (_, failure) =
        reports[0].failed().unwrap_or_else(|| panic!("the cam answers badly: {:#?}", reports[0].timeline.entries));
    let m = failure.mismatch_values().unwrap_or_else(|| panic!("{failure:?}"));
    assert!(m.actual.contains(got), "{m}");
    assert_eq!(m.expected, "a 4xx or a close");
}
