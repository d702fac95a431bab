//! The firmware's own code on the emulated board (`qemu:` targets): the
//! `qemu-virt` build of `firmware/` booted on `qemu-system-riscv32 -machine
//! virt`, one QEMU per scenario.
//!
//! - the differential check: the highway transcript from the emulated
//!   firmware equals the simulator's (same events, counts, frames, capture
//!   times, and `change` at the printed precision): both run one core;
//! - deliberately broken firmware builds fail the scenario of the row they
//!   break;
//! - QEMU ending mid-scenario is a vanished board.
//!
//! They need `target/firmware/cam-fw-qemu.elf` (and, for the broken builds,
//! `cam-fw-qemu-break-*.elf`): `bash ci/firmware-qemu.sh --broken`, and
//! `qemu-system-riscv32` on PATH. Without them the tests say so and pass,
//! unless `CAMHIL_REQUIRE_QEMU` is set, as it is in CI.

use std::path::{Path, PathBuf};

use cam_hil::qemu::QemuSpec;
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

#[tokio::test]
async fn the_highway_transcript_of_the_firmware_equals_the_simulators() {
    let Some(board) = emulated("cam-fw-qemu.elf") else { return };
    let (sim, fw) = tokio::join!(run("highway", &TargetSpec::Sim), run("highway", &board));
    assert!(sim.passed(), "simulator: {:?}", sim.failure());
    assert!(fw.passed(), "emulated firmware: {:?}", fw.failure());
    assert_eq!(fw.events.len(), 209, "events from the firmware");
    let (sim, fw) = (sim.transcript(), fw.transcript());
    if sim != fw {
        let first = sim.lines().zip(fw.lines()).position(|(a, b)| a != b);
        panic!("transcripts differ (first at line {first:?}):\n--- simulator\n{sim}\n--- firmware\n{fw}");
    }
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
        "acked 4 frame(s) as motion (frames 11, 16, 17, 18) but the SSE stream delivered only 1",
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
