//! The firmware's own code on the emulated board (`qemu:` targets): the
//! `qemu-virt` build of `firmware/` booted on `qemu-system-riscv32 -machine
//! virt`, one QEMU per scenario.
//!
//! - the differential checks: the highway transcript from the emulated
//!   firmware equals the simulator's (same events, counts, frames, capture
//!   times, and `change` at the printed precision): both run one core; and
//!   so does the background model's (`scenarios/background.toml`);
//! - the firmware scores labelled clips frame for frame as the core does
//!   (`cam-hil eval --target`);
//! - deliberately broken firmware builds fail the scenario of the row they
//!   break;
//! - the dashboard the firmware serves works in headless Chromium;
//! - the firmware sends each response whole, without waiting for the
//!   client's ACK (a capture of the board's traffic), and a refusal of
//!   malformed HTTP before it resets the connection;
//! - QEMU is gone when its machine is dropped, and QEMU ending is seen on
//!   the console as a board that vanished.
//!
//! They need `target/firmware/cam-fw-qemu.elf` (and, for the broken builds,
//! `cam-fw-qemu-break-*.elf`): `bash ci/firmware-qemu.sh --broken`, and
//! `qemu-system-riscv32` on PATH. Without them the tests say so and pass,
//! unless `CAMHIL_REQUIRE_QEMU` is set, as it is in CI.

use std::path::{Path, PathBuf};
use std::time::Duration;

use cam_hil::qemu::{self, Machine, QemuSpec};
use cam_hil::runner::{self, RunEnv, ScenarioReport};
use cam_hil::scenario;
use cam_hil::target::{Endpoint, TargetSpec};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The emulated board with `elf` (under `target/firmware/`), or `None` when
/// it (or QEMU) is missing and not required.
fn emulated(elf: &str) -> Option<TargetSpec> {
    let spec = QemuSpec::new(root().join("target/firmware").join(elf));
    match spec.check() {
        Ok(()) => Some(TargetSpec::Qemu(spec, Endpoint::new("", None))),
        Err(e) => {
            assert!(std::env::var_os("CAMHIL_REQUIRE_QEMU").is_none(), "{e}");
            eprintln!("skipped: {e}");
            None
        }
    }
}

async fn run(name: &str, target: &TargetSpec) -> ScenarioReport {
    let s = scenario::load(&root().join(format!("scenarios/{name}.toml"))).expect("valid scenario");
    let opened = target.open(&s.needs).await.unwrap_or_else(|e| panic!("{e}"));
    runner::run(&s, opened.as_ref(), &RunEnv::default()).await
}

/// Runs scenario `name` on the simulator and on the emulated board: both
/// must pass with the same transcript (events, counts, frames, capture
/// times, `change` at the printed precision). Returns the firmware's report
/// and the transcript, or `None` without the emulated board.
async fn same_on_the_firmware_as_on_the_simulator(name: &str) -> Option<(ScenarioReport, String)> {
    let board = emulated("cam-fw-qemu.elf")?;
    let (sim, fw) = tokio::join!(run(name, &TargetSpec::Sim), run(name, &board));
    assert!(sim.passed(), "simulator: {:?}", sim.failure());
    assert!(fw.passed(), "emulated firmware: {:?}", fw.failure());
    let (sim_transcript, fw_transcript) = (sim.transcript(), fw.transcript());
    if sim_transcript != fw_transcript {
        let first = sim_transcript.lines().zip(fw_transcript.lines()).position(|(a, b)| a != b);
        panic!(
            "transcripts differ (first at line {first:?}):\n--- simulator\n{sim_transcript}\n--- firmware\n{fw_transcript}"
        );
    }
    Some((fw, sim_transcript))
}

#[tokio::test]
async fn the_highway_transcript_of_the_firmware_equals_the_simulators() {
    let Some((fw, _)) = same_on_the_firmware_as_on_the_simulator("highway").await else { return };
    assert_eq!(fw.events.iter().filter(|e| e.name == "motion").count(), 284, "motion events from the firmware");
}

#[tokio::test]
async fn the_background_model_on_the_firmware_gives_the_simulators_transcript() {
    // The C3 judges cells in i32, the desktop in i16 (`cam_core::detector`,
    // `Lane`): the same events, frames and `change` on both.
    let Some((_, transcript)) = same_on_the_firmware_as_on_the_simulator("background").await else { return };
    assert!(transcript.contains("frame 36 "), "{transcript}");
}

/// `cam-hil eval --target qemu:…`: the firmware scores the light switch and
/// the box left behind frame for frame as the core does, at the defaults
/// and with the background model (i32 judging on the C3), and its console
/// says what every frame cost; a build that drops its SSE events cannot be
/// scored, and the error says why.
#[tokio::test]
async fn the_firmware_scores_the_clips_as_the_core_does() {
    use cam_core::DetectorConfig;
    use cam_core::settings::DetectorChange;
    use cam_hil::eval::{self, target};
    use cam_hil::report::TextReporter;
    use cam_hil::suite::RunOptions;
    let Some(board) = emulated("cam-fw-qemu.elf") else { return };
    let Some(broken) = emulated("cam-fw-qemu-break-drop-events.elf") else { return };
    let clips: Vec<footage::Clip> = ["wallflower_lightswitch_off", "synthetic_left_object"]
        .iter()
        .map(|n| footage::Clip::load(root().join("fixtures").join(n)).unwrap())
        .collect();
    let dirs: Vec<(&Path, usize)> = clips.iter().map(|c| (c.dir.as_path(), c.frames.len())).collect();
    let t = cam_core::protocol::DEFAULT_THRESHOLD;
    let options = RunOptions { jobs: 2, ..RunOptions::default() };
    let background = DetectorChange { background: Some(true), ..DetectorChange::default() };
    for change in [None, Some(background)] {
        let mut config = DetectorConfig::default();
        if let Some(c) = change {
            c.apply(&mut config);
        }
        let mut quiet = TextReporter::new(std::io::sink());
        let seen = target::run(&dirs, t, change, std::slice::from_ref(&board), &options, &mut quiet).await;
        for (clip, seen) in clips.iter().zip(seen) {
            // What every frame cost the emulated CPU, from its console.
            let numbers: Vec<u64> = seen.costs.iter().map(|c| c.frame).collect();
            assert_eq!(numbers, (1..=clip.frames.len() as u64).collect::<Vec<_>>(), "{}", clip.name());
            assert!(seen.costs.iter().all(|c| c.cycles > 100_000 && c.instret.is_some()), "{:?}", seen.costs);
            let seen = seen.frames.unwrap_or_else(|e| panic!("{}: {e}", clip.name()));
            let core = eval::run(clip, config, t).unwrap();
            let differ = target::disagreements(&core, &seen);
            assert!(differ.is_empty(), "{} with {change:?}: {differ:?}", clip.name());
        }
    }
    let mut quiet = TextReporter::new(std::io::sink());
    let seen = target::run(&dirs[..1], t, None, &[broken], &RunOptions::default(), &mut quiet).await;
    let e = seen[0].frames.as_ref().expect_err("a build that drops events cannot be scored");
    assert!(e.contains("but the SSE stream delivered only 0 `motion` event(s)"), "{e}");
}

/// Each broken build, the scenario of its row, and what the failure says.
const BROKEN: &[(&str, &str, &str)] = &[
    (
        "cam-fw-qemu-break-drop-events.elf",
        "bright_square",
        "acked 1 frame(s) as motion (frames 11) but the SSE stream delivered only 0",
    ),
    (
        "cam-fw-qemu-break-ignore-last-event-id.elf",
        "resume",
        "the cam greeted the client as new and forgot its place: 3 acked motion event(s) never arrived: ids ",
    ),
];

#[rstest::rstest]
#[tokio::test]
async fn a_broken_firmware_build_fails_its_scenario(#[values(0, 1)] case: usize) {
    let (elf, name, expected) = BROKEN[case];
    let Some(good) = emulated("cam-fw-qemu.elf") else { return };
    let Some(broken) = emulated(elf) else { return };
    let passed = run(name, &good).await;
    assert!(passed.passed(), "{name} on the working build: {:?}", passed.failure());
    let report = run(name, &broken).await;
    let (step, message) = report.failure().unwrap_or_else(|| panic!("{name} must fail on {elf}"));
    assert!(message.contains(expected), "{name} on {elf} failed at {step} with:\n{message}");
}

/// The fault scenarios that run quickest, on the firmware: resets through
/// QEMU's monitor (`system_reset`), SSE streams reset by the harness's
/// fault proxy, frames it mangles. The firmware passes them; a build that
/// ignores `Last-Event-ID` loses events under the cuts and fails, named.
#[tokio::test]
async fn the_fault_scenarios_hold_on_the_firmware() {
    let Some(board) = emulated("cam-fw-qemu.elf") else { return };
    for name in ["faults_reboot", "faults_sse_resets", "faults_frames"] {
        let report = run(name, &board).await;
        assert!(report.passed(), "{name} on the emulated firmware: {:?}", report.failed());
    }
    let reboot = run("faults_reboot", &board).await;
    assert!(reboot.events.iter().any(|e| e.name == "restart"), "QEMU's reset was announced");
    let Some(broken) = emulated("cam-fw-qemu-break-ignore-last-event-id.elf") else { return };
    let report = run("faults_sse_resets", &broken).await;
    let (_, failure) = report.failed().expect("a firmware that ignores Last-Event-ID fails under cuts");
    assert!(failure.message.contains("never arrived") || failure.message.contains("delivered only"), "{failure}");
}

/// Whether process `pid` exists (signal 0 checks without sending).
fn alive(pid: u32) -> bool {
    // SAFETY: kill with signal 0 only checks that the process exists.
    unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
}

#[tokio::test]
async fn qemu_is_stopped_with_its_machine_and_its_end_is_a_vanished_board() {
    use cam_hil::board::ConsoleLine;
    let Some(TargetSpec::Qemu(spec, _)) = emulated("cam-fw-qemu.elf") else { return };
    let (machine, _session) = Machine::boot(&spec, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let pid = machine.pid();
    assert!(alive(pid));
    drop(machine);
    assert!(!alive(pid), "QEMU {pid} outlived its machine");

    // QEMU ending under a session: the console says the board is gone.
    let (machine, mut session) = Machine::boot(&spec, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    // SAFETY: signalling the QEMU this test started.
    assert_eq!(unsafe { libc::kill(machine.pid() as libc::pid_t, libc::SIGKILL) }, 0);
    loop {
        match session.lines.recv().await.expect("the console reports the end") {
            ConsoleLine::Gone(why) => break assert!(why.contains("closed"), "{why}"),
            ConsoleLine::Line(..) => continue,
        }
    }
}

/// One HTTP response the board sent, as seen in a capture of its traffic.
#[derive(Debug)]
struct Response {
    /// The status line.
    status: String,
    /// Head and body, in bytes (the head's `Content-Length` plus the head).
    length: usize,
    /// Bytes of it the board had sent when the client first acknowledged
    /// any of it (`length` when it was whole before).
    sent_before_ack: usize,
}

/// The board's responses (on port 80, with a `Content-Length`) in a pcap
/// file, each with how much of it was on the wire before the client's first
/// ACK of it. Frames in capture order; QEMU's `filter-dump` records both
/// directions of the user network.
fn responses_in(pcap: &Path) -> Vec<Response> {
    use etherparse::{SlicedPacket, TransportSlice};
    let file = std::fs::File::open(pcap).expect("the capture exists");
    let mut reader = pcap_file::pcap::PcapReader::new(file).expect("a pcap file");
    // Per client port: the response being sent (its index) and the board's
    // sequence number where it started.
    let mut open: std::collections::HashMap<u16, (usize, u32)> = Default::default();
    let mut responses: Vec<Response> = Vec::new();
    let mut heads = std::collections::HashSet::new();
    while let Some(packet) = reader.next_packet() {
        let packet = packet.expect("a whole capture record");
        let Ok(sliced) = SlicedPacket::from_ethernet(&packet.data) else { continue };
        let Some(TransportSlice::Tcp(tcp)) = sliced.transport else { continue };
        let payload = tcp.payload();
        if tcp.source_port() == qemu::GUEST_PORT {
            let client = tcp.destination_port();
            // A head seen before is a retransmission, not a new response.
            if payload.starts_with(b"HTTP/1.1 ") && heads.insert((client, tcp.sequence_number())) {
                let head_end = payload.windows(4).position(|w| w == b"\r\n\r\n").expect("the head in one segment") + 4;
                let head = std::str::from_utf8(&payload[..head_end]).expect("an ASCII head");
                let Some(length) = head
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: ").or_else(|| l.strip_prefix("content-length: ")))
                else {
                    continue;
                };
                let length = head_end + length.trim().parse::<usize>().expect("a number");
                let status = head.lines().next().unwrap_or_default().to_string();
                open.insert(client, (responses.len(), tcp.sequence_number()));
                responses.push(Response { status, length, sent_before_ack: 0 });
            }
            // Segments from before the response (retransmissions) say
            // nothing about it.
            if let Some(&(i, start)) = open.get(&client)
                && tcp.sequence_number().wrapping_sub(start) as i32 >= 0
            {
                let r = &mut responses[i];
                let end = tcp.sequence_number().wrapping_sub(start) as usize + payload.len();
                r.sent_before_ack = r.sent_before_ack.max(end.min(r.length));
                if r.sent_before_ack == r.length {
                    open.remove(&client);
                }
            }
        } else if tcp.destination_port() == qemu::GUEST_PORT && tcp.ack() {
            // The client acknowledged part of an unfinished response.
            if let Some(&(_, start)) = open.get(&tcp.source_port())
                && tcp.acknowledgment_number().wrapping_sub(start) as i32 > 0
            {
                open.remove(&tcp.source_port());
            }
        }
    }
    responses
}

/// The firmware sends each response whole without waiting for the client
/// (`firmware/app/src/tcp.rs`). In a capture of the board's traffic, every
/// reply to a reset, a frame and a status request is on the wire before the
/// client acknowledges any of it. With embassy-net's own flush, which
/// picoserve calls between a response's head and its body, the body waited
/// for that ACK: a round trip plus the client's delayed ACK per request.
#[tokio::test]
async fn the_firmware_sends_each_response_whole_before_the_client_acknowledges_it() {
    let Some(TargetSpec::Qemu(spec, _)) = emulated("cam-fw-qemu.elf") else { return };
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("board.pcap");
    let spec = QemuSpec { pcap: Some(pcap.clone()), ..spec };
    let (machine, _session) = Machine::boot(&spec, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let http = reqwest::Client::new();
    let url = machine.url();
    let clip = root().join("fixtures/synthetic_bright_square");
    let reset = http.post(format!("{url}/hil/reset")).send().await.unwrap();
    assert!(reset.status().is_success(), "{reset:?}");
    for (i, name) in ["frame_00000.jpg", "frame_00001.jpg", "frame_00002.jpg"].iter().enumerate() {
        let jpeg = std::fs::read(clip.join(name)).unwrap();
        let ack = http
            .post(format!("{url}/hil/frame"))
            .header("X-Frame-Ts", (1_763_596_800_000u64 + 200 * i as u64).to_string())
            .body(jpeg)
            .send()
            .await
            .unwrap();
        assert!(ack.status().is_success(), "{ack:?}");
        ack.text().await.unwrap();
    }
    let status = http.get(format!("{url}/status")).send().await.unwrap();
    assert!(status.status().is_success(), "{status:?}");
    status.text().await.unwrap();
    drop(machine);

    let responses = responses_in(&pcap);
    assert_eq!(responses.len(), 5, "a reset, three frames and a status reply: {responses:#?}");
    for r in &responses {
        assert_eq!(
            r.sent_before_ack,
            r.length,
            "`{}`: {} of its {} bytes sent, then it waited for the client's ACK",
            r.status.trim(),
            r.sent_before_ack,
            r.length
        );
    }
}

/// A request picoserve refuses (a bad request line, a header line without
/// `:`) gets its 400 and the reason before the firmware resets the
/// connection: the reset must not discard the reply it follows
/// (`firmware/app/src/tcp.rs`, `Prompt::abort`).
#[tokio::test]
async fn the_firmware_answers_malformed_http_with_a_400_before_it_resets() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Some(TargetSpec::Qemu(spec, _)) = emulated("cam-fw-qemu.elf") else { return };
    let (machine, _session) = Machine::boot(&spec, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    for (request, reason) in [
        (&b"NOT HTTP\r\n\r\n"[..], "Bad Request Line"),
        (&b"GET /status HTTP/1.1\r\nno colon here\r\n\r\n"[..], "Invalid Header line"),
    ] {
        let mut conn = tokio::net::TcpStream::connect(machine.addr).await.unwrap();
        conn.write_all(request).await.unwrap();
        let mut answer = Vec::new();
        // Up to the firmware's close or reset; what came before it counts.
        let read = tokio::time::timeout(Duration::from_secs(10), conn.read_to_end(&mut answer)).await;
        assert!(read.is_ok(), "no end to the answer within 10 s");
        let answer = String::from_utf8_lossy(&answer);
        let sent = String::from_utf8_lossy(request);
        assert!(answer.starts_with("HTTP/1.1 400 "), "{sent:?}: answered {answer:?}");
        assert!(answer.contains(reason), "{sent:?}: answered {answer:?}");
    }
}

#[path = "../../../simulator/tests/browser/mod.rs"]
mod browser;

/// The firmware's own dashboard in Chromium, on the emulated board: both
/// connections come up, motion events from footage posted to the firmware
/// appear, and the reset button's ack is shown. Leaves a screenshot at
/// `target/tmp/dashboard_firmware.png` (the README's picture).
#[tokio::test]
async fn the_firmware_serves_a_working_dashboard() {
    use browser::{Browser, browser, wait_for};
    use fantoccini::Locator;
    let Some(TargetSpec::Qemu(spec, _)) = emulated("cam-fw-qemu.elf") else { return };
    let Some(Browser { client, _driver, _profile }) = browser().await else { return };
    let (machine, _session) = Machine::boot(&spec, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    client.goto(&format!("{}/", machine.url())).await.unwrap();
    wait_for(&client, "//span[@id='sse-state' and text()='connected']").await;
    wait_for(&client, "//span[@id='ws-state' and text()='connected']").await;

    // The highway from just before its traffic, posted as the harness does
    // (its pool lets an idle connection go before the cam's 1 s does).
    let http = reqwest::Client::builder().pool_idle_timeout(Duration::from_millis(500)).build().unwrap();
    let clip = root().join("fixtures/cdnet_highway");
    let poster = tokio::spawn({
        let url = format!("{}/hil/frame", machine.url());
        async move {
            for k in 45..120 {
                let jpeg = std::fs::read(clip.join(format!("frame_{k:05}.jpg"))).unwrap();
                // Capture times as a camera with a wall clock would give them.
                let ts = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
                let post = http.post(&url).header("X-Frame-Ts", ts.to_string()).body(jpeg);
                let reply = post.send().await.unwrap_or_else(|e| panic!("frame {k}: {e:?}"));
                assert!(reply.status().is_success(), "frame {k}: {}", reply.status());
                // Read to its end, so the connection goes back to the pool
                // (an unread reply closes it: a new connection per frame).
                reply.bytes().await.unwrap();
            }
        }
    });
    if let Err(e) = poster.await {
        panic!("{e}\nconsole:\n{}", machine.log().join("\n"));
    }
    wait_for(&client, "//ul[@id='events']/li[5]").await;
    let first = client.find(Locator::Css("#events li")).await.unwrap().text().await.unwrap();
    assert!(first.contains("change 0.") && first.contains('#'), "{first}");
    wait_for(&client, "//img[@id='frame' and not(@hidden)]").await;
    client.find(Locator::Id("reset-btn")).await.unwrap().click().await.unwrap();
    wait_for(&client, "//div[@id='ack' and text()='Counter reset']").await;
    let png = client.screenshot().await.unwrap();
    std::fs::write(Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard_firmware.png"), png).unwrap();
    client.close().await.unwrap();
}
