//! The board target against the virtual board (`cam-sim --console-pty`):
//! the address comes from the console, scenarios pass over it, a panic on
//! the console fails the scenario with the lines around it, and a port that
//! vanishes is a clear failure. Flashing needs real hardware and is not
//! exercised here.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use cam_hil::board::{Board, ConsoleLine};
use cam_hil::report::{Reporter, TextReporter};
use cam_hil::runner::{self, RunEnv};
use cam_hil::scenario::{self, Scenario};
use cam_hil::suite::{self, Selection};
use cam_hil::target::{Endpoint, TargetSpec};
use cam_sim::{Fault, SimConfig, Simulator};
use serialport::{SerialPort, TTYPort};

struct Quiet;
impl Reporter for Quiet {
    fn event(&mut self, _: &cam_hil::run_event::RunEvent) {}
}

async fn virtual_board(config: SimConfig) -> (Simulator, TargetSpec, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = SimConfig { console_pty: true, snapshot_dir: dir.path().into(), ..config };
    let sim = Simulator::start(config).await.unwrap();
    let port = sim.console_path().unwrap().display().to_string();
    let target = TargetSpec::Board(Arc::new(Board::new(port, 115_200)), Endpoint::new("", None));
    (sim, target, dir)
}

fn scenarios(tags: &[&str]) -> Vec<Scenario> {
    let files = suite::discover(&[Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")]).unwrap();
    let selection = Selection { tags: tags.iter().map(|t| t.to_string()).collect(), ..Selection::default() };
    suite::load_all(&files, &selection).unwrap().into_iter().filter(|s| !s.needs.token && !s.needs.tls).collect()
}

#[tokio::test]
async fn scenarios_pass_on_the_virtual_board() {
    let (_sim, target, _dir) =
        virtual_board(SimConfig { keepalive: Duration::from_millis(200), ..SimConfig::default() }).await;
    let scenarios = scenarios(&["protocol", "console"]);
    assert!(scenarios.iter().any(|s| s.needs.console));
    let mut text = Vec::new();
    let (summary, reports) = suite::run(&scenarios, &target, &mut TextReporter::new(&mut text)).await;
    assert_eq!(summary.failed, 0, "{}", String::from_utf8_lossy(&text));
    assert!(reports[0].target.starts_with("board /dev/"), "{}", reports[0].target);
}

#[tokio::test]
async fn a_panic_on_the_console_fails_the_scenario_with_the_lines_around_it() {
    let (_sim, target, _dir) =
        virtual_board(SimConfig { faults: [Fault::ConsolePanic].into(), ..SimConfig::default() }).await;
    let s = scenario::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/bright_square.toml")).unwrap();
    let t = target.open(&s.needs).await.unwrap();
    let report = runner::run(&s, t.as_ref(), &RunEnv::default()).await;
    let (step, message) =
        report.failure().unwrap_or_else(|| panic!("a panic must fail the scenario: {:#?}", report.timeline.entries));
    // The panic comes with frame 5, in step 1; the harness reads the console
    // beside the HTTP replies, as from a board, so under load it may see
    // the lines only after a later step (step 3 once, in a CI run).
    assert!(step.starts_with("step "), "{step}");
    assert!(message.starts_with("the board's console shows a panic:"), "{message}");
    assert!(message.contains("| ====================== PANIC ======================"), "{message}");
    assert!(message.contains("| fault injection: console-panic"), "{message}");
}

#[tokio::test]
async fn a_port_that_vanishes_is_reported() {
    let (mut master, slave) = TTYPort::pair().unwrap();
    let board = Board::new(slave.name().unwrap(), 115_200);
    master.write_all(b"rst:0x1 (POWERON)\r\ncam-fw: listening on http://127.0.0.1:9\r\n").unwrap();
    let mut session = board.session(Duration::from_secs(5)).await.unwrap();
    assert_eq!(session.url, "http://127.0.0.1:9");
    assert_eq!(session.boot_end, 2);
    drop((master, slave));
    loop {
        match session.lines.recv().await.unwrap() {
            ConsoleLine::Gone(_) => break,
            ConsoleLine::Line(..) => continue,
        }
    }
    let e = board.session(Duration::from_secs(1)).await.unwrap_err();
    assert!(e.contains("vanished"), "{e}");
}

#[tokio::test]
async fn a_board_that_never_listens_is_reported() {
    let (_master, slave) = TTYPort::pair().unwrap();
    let board = Board::new(slave.name().unwrap(), 115_200);
    let e = board.session(Duration::from_millis(200)).await.unwrap_err();
    assert!(e.contains("printed no `cam-fw: listening on …` line within"), "{e}");
    let e = Board::new("/dev/no-such-port", 115_200).session(Duration::from_millis(200)).await.unwrap_err();
    assert!(e.starts_with("cannot open board port /dev/no-such-port"), "{e}");
}

#[tokio::test]
async fn expect_console_skips_a_target_without_a_console() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Simulator::start(SimConfig { snapshot_dir: dir.path().into(), ..SimConfig::default() }).await.unwrap();
    let s = scenario::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/console.toml")).unwrap();
    let target = TargetSpec::Url(Endpoint::new(sim.url(), None));
    let (_, reports) = suite::run(std::slice::from_ref(&s), &target, &mut Quiet).await;
    let why = reports[0].skipped.as_deref().unwrap_or_else(|| panic!("skipped: {:?}", reports[0].failed()));
    assert!(why.contains("reads the serial console; this target has none"), "{why}");
}

#[test]
fn the_cli_runs_on_a_board() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (_sim, target, _dir) = runtime.block_on(virtual_board(SimConfig::default()));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cam-hil"))
        .args(["run", "scenarios/console.toml", "scenarios/bright_square.toml", "--target", &target.to_string()])
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.ends_with("2 passed, 0 failed, 0 skipped\n"), "{stdout}");
}

#[tokio::test]
async fn scenarios_spread_over_two_boards() {
    let config = || SimConfig { keepalive: Duration::from_millis(200), ..SimConfig::default() };
    let (_a, board_a, _da) = virtual_board(config()).await;
    let (_b, board_b, _db) = virtual_board(config()).await;
    let scenarios = scenarios(&["protocol", "console"]);
    let (summary, reports) =
        suite::run_on(&scenarios, &[board_a, board_b], &suite::RunOptions::default(), &mut Quiet).await;
    assert_eq!(summary.failed, 0, "{:?}", reports.iter().find_map(|r| r.failure()));
    let boards: std::collections::BTreeSet<String> =
        reports.iter().map(|r| r.target.split(" at ").next().unwrap().to_string()).collect();
    assert_eq!(boards.len(), 2, "both boards ran scenarios: {boards:?}");
}

#[tokio::test]
async fn a_vanished_board_is_retired_and_the_other_carries_on() {
    let (_b, board_b, _db) =
        virtual_board(SimConfig { keepalive: Duration::from_millis(200), ..SimConfig::default() }).await;
    // Board A: a console that names a cam, then goes away.
    let (mut master, slave) = TTYPort::pair().unwrap();
    let a = Arc::new(Board::new(slave.name().unwrap(), 115_200));
    master.write_all(b"cam-fw: listening on http://127.0.0.1:9\r\n").unwrap();
    let mut session = a.session(Duration::from_secs(5)).await.unwrap();
    drop((master, slave));
    while !matches!(session.lines.recv().await.unwrap(), ConsoleLine::Gone(_)) {}
    let board_a = TargetSpec::Board(a, Endpoint::new("", None));

    let scenarios = scenarios(&["protocol"]);
    let (summary, reports) =
        suite::run_on(&scenarios, &[board_a, board_b], &suite::RunOptions::default(), &mut Quiet).await;
    assert_eq!(summary.failed, 1, "only the scenario that met board A fails");
    assert_eq!(summary.passed, scenarios.len() - 1);
    let (_, message) = reports.iter().find_map(|r| r.failure()).unwrap();
    assert!(message.contains("vanished"), "{message}");
}

/// Line noise on the console (invalid UTF-8, NULs, a 64 KiB run without a
/// newline, half an escape sequence) neither stops the harness from
/// finding the `listening on` line nor from reading lines after it.
#[tokio::test]
async fn garbage_on_the_console_is_read_as_lines_and_skipped() {
    use rand::{RngExt, SeedableRng};
    let (mut master, slave) = TTYPort::pair().unwrap();
    let board = Board::new(slave.name().unwrap(), 115_200);
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let mut noise: Vec<u8> = (0..4096).map(|_| rng.random()).collect();
    noise.retain(|b| *b != b'\n');
    // The pty holds a few KiB: write while the harness reads.
    let writer = std::thread::spawn(move || {
        master.write_all(&noise).unwrap();
        master.write_all(b"\r\n\xff\xfe\x00\x1b[3\r\n").unwrap();
        for _ in 0..64 {
            master.write_all(&[b'x'; 1024]).unwrap();
        }
        master.write_all(b"\r\ncam-fw: listening on http://127.0.0.1:9\r\n").unwrap();
        master
    });
    let mut session = board.session(Duration::from_secs(5)).await.unwrap();
    let mut master = writer.join().unwrap();
    assert_eq!(session.url, "http://127.0.0.1:9");
    master.write_all(b"\xc3\x28 after\r\ncam-fw: motion id=1 frame=2 change=0.5000 count=1\r\n").unwrap();
    let mut seen = Vec::new();
    while !seen.iter().any(|l: &String| l.starts_with("cam-fw: motion")) {
        match session.lines.recv().await.unwrap() {
            ConsoleLine::Line(_, _, text) => seen.push(text),
            ConsoleLine::Gone(e) => panic!("{e}"),
        }
    }
    assert!(seen.iter().any(|l| l == "\u{FFFD}( after"), "invalid UTF-8 is shown as U+FFFD");
}
