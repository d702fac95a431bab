//! `cam-hil run` as a user runs it: exit codes, filters, listing, shards,
//! repeats, parallel jobs, fail-fast.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use footage::Clip;

fn cam_hil(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cam-hil"))
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .output()
        .expect("cam-hil runs");
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    (out.status.code().unwrap_or(-1), text(out.stdout), text(out.stderr))
}

/// The line of the Markdown table in `out` for `clip` whose next cells
/// start with `detector`.
fn table_row(out: &str, clip: &str, detector: &str) -> String {
    out.lines()
        .find(|l| l.starts_with(&format!("| {clip} | {detector}")))
        .unwrap_or_else(|| panic!("{clip} {detector}: {out}"))
        .to_string()
}

fn listed(args: &[&str]) -> BTreeSet<String> {
    let mut all = vec!["run", "--list"];
    all.extend_from_slice(args);
    let (code, out, err) = cam_hil(&all);
    assert_eq!(code, 0, "{err}");
    out.lines().map(|l| l.split("  ").next().unwrap().to_string()).collect()
}

#[test]
fn exit_codes() {
    let (code, out, _) = cam_hil(&["run", "scenarios/still.toml"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.ends_with("1 passed, 0 failed, 0 skipped\n"), "{out}");

    let (code, out, _) = cam_hil(&["run", "scenarios/reset.toml", "harness/tests/data/never.toml"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL expects an event that never comes"), "{out}");
    assert!(out.ends_with("1 passed, 1 failed, 0 skipped\n"), "{out}");

    let (code, out, err) = cam_hil(&["run", "harness/tests/data/malformed.toml"]);
    assert_eq!(code, 2, "{out}");
    assert!(err.contains("malformed.toml:7:1: unknown field `expect_evnts`"), "{err}");
    assert!(out.is_empty(), "nothing may run: {out}");

    // Port 9 (discard) on loopback: nothing listens there.
    let (code, out, err) = cam_hil(&["run", "--tag", "protocol", "--target", "url:http://127.0.0.1:9"]);
    assert_eq!(code, 2, "{out}");
    assert!(err.contains("unreachable"), "{err}");
    assert!(out.is_empty(), "nothing may run: {out}");

    let (code, _, err) = cam_hil(&["run", "--tag", "no-such-tag"]);
    assert_eq!(code, 2);
    assert!(err.contains("no scenario selected"), "{err}");

    // Out-of-range recording options are refused before anything is done.
    for (flag, value, why) in [
        ("--duration", "inf", "seconds above 0 and at most 604800 (a week)"),
        ("--duration", "0", "seconds above 0"),
        ("--fps", "1e10", "polls a second above 0 and at most 1000"),
        ("--fps", "0", "polls a second above 0"),
    ] {
        let mut args = vec!["record", "--from", "http://127.0.0.1:9", "target/never-recorded", flag, value];
        if flag == "--fps" {
            args.extend(["--duration", "1"]);
        }
        let (code, _, err) = cam_hil(&args);
        assert_eq!(code, 2, "{flag} {value}: {err}");
        assert!(err.contains(why), "{flag} {value}: {err}");
    }
    assert!(!Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/never-recorded").exists());
}

#[test]
fn filters_and_listing() {
    let all = listed(&[]);
    assert!(all.len() >= 17, "{all:?}");
    let protocol = listed(&["--tag", "protocol"]);
    let rest = listed(&["--skip-tag", "protocol"]);
    assert!(protocol.is_disjoint(&rest));
    assert_eq!(&protocol | &rest, all);
    assert_eq!(listed(&["-k", "ws_"]).len(), 3);
    assert!(listed(&["-k", "highway"]).contains("scenarios/highway.toml"));
}

#[test]
fn shards_partition_the_suite() {
    let all = listed(&[]);
    let shards: Vec<BTreeSet<String>> = (1..=3).map(|i| listed(&["--shard", &format!("{i}/3")])).collect();
    for (i, a) in shards.iter().enumerate() {
        assert!(!a.is_empty());
        for b in &shards[i + 1..] {
            assert!(a.is_disjoint(b));
        }
    }
    assert_eq!(shards.iter().fold(BTreeSet::new(), |acc, s| &acc | s), all);
    let (code, _, err) = cam_hil(&["run", "--shard", "4/3"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn repeat_and_jobs() {
    let (code, out, _) = cam_hil(&["run", "-k", "ws_", "--repeat", "3", "--jobs", "3"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.ends_with("9 passed, 0 failed, 0 skipped\n"), "{out}");
    for k in 1..=3 {
        assert_eq!(out.matches(&format!("#{k} (scenarios/")).count(), 3, "{out}");
    }
}

#[test]
fn fail_fast_starts_nothing_after_a_failure() {
    let (code, out, _) = cam_hil(&[
        "run",
        "--fail-fast",
        "harness/tests/data/never.toml",
        "scenarios/reset.toml",
        "scenarios/still.toml",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.ends_with("0 passed, 1 failed, 2 skipped\n"), "{out}");
}

#[test]
fn tag_filter_runs_only_those() {
    let (code, out, _) = cam_hil(&["run", "--tag", "storage"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.ends_with("1 passed, 0 failed, 0 skipped\n"), "{out}");
}

#[test]
fn junit_and_html_report_files() {
    let dir = tempfile::tempdir().unwrap();
    let (junit, report) = (dir.path().join("out/junit.xml"), dir.path().join("report"));
    let (code, out, err) = cam_hil(&[
        "run",
        "scenarios/still.toml",
        "--junit",
        junit.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(std::fs::read_to_string(&junit).unwrap().contains("<testcase name=\"a still scene raises no event\""));
    assert!(std::fs::read_to_string(report.join("index.html")).unwrap().contains("a still scene raises no event"));
}

#[test]
fn eval_writes_a_report_with_scores_and_plots() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report");
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures");
    let (code, stdout, stderr) = cam_hil(&[
        "eval",
        "--report",
        report.to_str().unwrap(),
        &format!("{fixtures}/synthetic_walker"),
        &format!("{fixtures}/synthetic_lighting"),
        &format!("{fixtures}/pets2009_vtest"),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("| synthetic_walker | 0.003 | 1 | 1/1 | 1.00 | 1.00 | 1.00 |"), "{stdout}");
    // Every frame right: no line of wrong frames.
    assert!(!stdout.contains("Frames wrong"), "{stdout}");
    let page = std::fs::read_to_string(report.join("index.html")).unwrap();
    for clip in ["synthetic_walker", "synthetic_lighting", "pets2009_vtest"] {
        assert!(page.contains(&format!(r#"<section id="{clip}">"#)), "{clip} has its section");
    }
    // A change plot per clip, a precision/recall curve per labelled clip.
    assert_eq!(page.matches(": change per frame").count(), 3);
    assert_eq!(page.matches("precision / recall over thresholds").count(), 2);
    assert!(page.contains("no labelled frame (labels.csv)"));
    // The walker's one event, on frames labelled motion.
    assert!(page.contains(r#"<td class="num">1</td><td class="num">1/1</td>"#), "walker row");
    // Each labelled clip says which frames it got wrong: here none.
    assert_eq!(page.matches("<p class=\"meta\">Frames wrong: none</p>").count(), 2, "{page}");

    // The typing figure's first keystroke moves four cells, under the
    // default threshold: named on stdout and in the report.
    let typing_report = dir.path().join("typing");
    let typing = format!("{fixtures}/synthetic_typing");
    let (code, stdout, stderr) = cam_hil(&["eval", "--report", typing_report.to_str().unwrap(), &typing]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("Frames wrong (indices in the clip):\n\n- synthetic_typing: missed frame 15\n"),
        "{stdout}"
    );
    let page = std::fs::read_to_string(typing_report.join("index.html")).unwrap();
    assert!(page.contains("<p class=\"meta\">Frames wrong: missed frame 15</p>"), "{page}");

    let (code, _, stderr) = cam_hil(&["eval", "--threshold", "5", &typing]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("expected a fraction of the cells from 0 to 1"), "{stderr}");

    let (code, _, stderr) = cam_hil(&["eval", "--report", report.to_str().unwrap(), "/nonexistent/clip"]);
    assert_eq!(code, 2, "{stderr}");
}

/// `cam-hil eval --target`: the same table as in process, measured on a
/// cam (here the simulator over HTTP), progress on stderr; what works only
/// in process is refused, and an unreachable cam stops the run before it
/// starts.
#[test]
fn eval_on_a_target_prints_the_in_process_table() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report");
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures");
    let clips: Vec<String> = ["synthetic_typing", "wallflower_lightswitch_off", "pets2009_vtest"]
        .iter()
        .map(|n| format!("{fixtures}/{n}"))
        .collect();
    let clips: Vec<&str> = clips.iter().map(String::as_str).collect();
    let (code, in_process, stderr) = cam_hil(&[&["eval"], &clips[..]].concat());
    assert_eq!(code, 0, "{stderr}");
    let args = [&["eval", "--target", "sim", "--jobs", "2", "--report", report.to_str().unwrap()], &clips[..]].concat();
    let (code, on_target, stderr) = cam_hil(&args);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(on_target, in_process);
    assert!(on_target.contains("- wallflower_lightswitch_off: false alarm on frame 89"), "{on_target}");
    assert!(stderr.contains("PASS eval synthetic_typing"), "{stderr}");
    assert!(stderr.ends_with("cam-hil: the target gave the core's outcome on every frame\n"), "{stderr}");
    let page = std::fs::read_to_string(report.join("index.html")).unwrap();
    // The settings the cam reported, which the core ran at.
    assert!(page.contains("threshold 0.003 · on sim: {&quot;absorb_frames&quot;:10,&quot;background&quot;:false,&quot;cell_delta&quot;:16,"), "{page}");
    assert_eq!(page.matches(": change per frame").count(), 3);

    for only_in_process in [["--loco"], ["--no-lighting-rules"]] {
        let args = [&["eval", "--target", "sim"], &only_in_process[..], &clips[..1]].concat();
        let (code, _, stderr) = cam_hil(&args);
        assert_eq!(code, 2, "{only_in_process:?}: {stderr}");
        assert!(stderr.contains("cannot be used with"), "{stderr}");
    }
    let (code, stdout, stderr) = cam_hil(&["eval", "--target", "url:http://127.0.0.1:1", clips[0]]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stderr.contains("127.0.0.1:1"), "{stderr}");
}

/// `cam-hil eval --loco`: every family is tuned on the other clips and
/// scored on the one left out, in one table; a baseline that flags every
/// frame scores 0 on the clip where nothing moves, and bad baseline scores
/// are refused with the reason.
#[test]
fn eval_loco_scores_each_clip_with_settings_tuned_on_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures");
    let clips = ["synthetic_walker", "synthetic_lighting", "synthetic_exposure"];
    let always: serde_json::Map<String, serde_json::Value> = clips
        .iter()
        .map(|c| {
            (c.to_string(), serde_json::json!((0..60).map(|i| if i == 0 { 0.0 } else { 0.5 }).collect::<Vec<f64>>()))
        })
        .collect();
    // "spiky" scores 0.0002 on every labelled motion frame, and on the
    // walker also on still frame 50: a false event at any threshold that
    // finds the motion. The seed raises no false event on these clips, so
    // tuned with the floor on event precision it must flag nothing where
    // the walker is tuned on; tuned without, it takes the false event.
    let spiky: serde_json::Map<String, serde_json::Value> = clips
        .iter()
        .map(|c| {
            let clip = Clip::load(format!("{fixtures}/{c}")).unwrap();
            let score: Vec<f64> = clip
                .frames
                .iter()
                .enumerate()
                .map(|(i, f)| if f.label == Some(true) || (*c == "synthetic_walker" && i == 50) { 0.0002 } else { 0.0 })
                .collect();
            (c.to_string(), serde_json::json!(score))
        })
        .collect();
    let baselines = dir.path().join("baselines.json");
    let json = serde_json::json!({ "always": { "x=1": always }, "spiky": { "y=2": spiky } });
    std::fs::write(&baselines, json.to_string()).unwrap();
    let paths: Vec<String> = clips.iter().map(|c| format!("{fixtures}/{c}")).collect();
    let mut args = vec!["eval", "--loco", "--baselines", baselines.to_str().unwrap()];
    args.extend(paths.iter().map(String::as_str));
    let (code, stdout, stderr) = cam_hil(&args);
    assert_eq!(code, 0, "{stderr}");
    let row = |clip: &str, family: &str| table_row(&stdout, clip, &format!("{family} | "));
    for clip in clips {
        for family in ["camhil defaults", "camhil seed", "camhil", "always"] {
            row(clip, family);
        }
    }
    // Frame precision, recall, F1 of a detector that flags every frame on
    // a clip where nothing moves.
    assert!(
        row("synthetic_lighting", "always")
            .contains("| x=1, threshold=0.00005, hysteresis=0.3 | 0.000 | 1.000 | 0.000 |"),
        "{stdout}"
    );
    assert!(row("synthetic_lighting", "camhil").contains("| 1.000 | 1.000 | 1.000 | 0 |"), "{stdout}");
    assert!(row("synthetic_lighting", "camhil").ends_with("| yes |"), "{stdout}");
    assert!(stdout.contains("camhil's frame F1 is at or above every baseline's on 3 of 3 clips."), "{stdout}");
    // Tuned with the floor on the walker (and the lighting clip), spiky
    // flags nothing and misses the exposure clip's motion; where the
    // walker is left out, it finds it and takes its own false event.
    assert!(
        row("synthetic_exposure", "spiky")
            .contains("| y=2, threshold=0.0002, hysteresis=0.3 | 1.000 | 0.000 | 0.000 |"),
        "{stdout}"
    );
    assert!(row("synthetic_walker", "spiky").contains("| y=2, threshold=0.00005, hysteresis=0.3 |"), "{stdout}");
    // No threshold keeps "always" from a false event on the lighting clip:
    // tuned on it, its row says the floor was not kept.
    assert!(row("synthetic_exposure", "always").contains("| x=1, threshold=0.00005, hysteresis=0.3, floor not kept |"));
    // Tuned without the floor it finds the exposure clip's motion, above
    // camhil's score there, and its mean over the clips left out is the
    // higher one.
    let exposure = table_row(&stdout, "synthetic_exposure", "camhil | ");
    let camhil_f1 = exposure.split(" | ").nth(5).unwrap();
    assert!(
        stdout.contains(&format!(
            "Against the baselines tuned on mean frame F1 alone (no floor on event precision), it is at or above every baseline's on 2 of 3 clips; below on synthetic_exposure (camhil {camhil_f1}; spiky 1.000)."
        )),
        "{stdout}"
    );
    assert!(stdout.contains("\n| always (mean frame F1 alone) | "), "{stdout}");
    assert!(stdout.contains("\n| spiky (mean frame F1 alone) | "), "{stdout}");
    // Tuned on the walker and the lighting clip alone, camhil's threshold
    // is low enough for one false alarm in the exposure clip's settling.
    assert!(
        stdout.contains(
            "camhil's event precision is at or above the seed detector's on 2 of 3 clips; below on synthetic_exposure (0.500 against 1.000)."
        ),
        "{stdout}"
    );
    // Where: the exposure clip's wrong frames under each family's choice.
    // Camhil's are its exposure false alarm (the event above); only clips
    // camhil got wrong are listed.
    assert!(
        stdout.contains(
            "\n- synthetic_exposure: camhil: false alarms on frames 30\u{2013}31; always: false alarms on frames 1\u{2013}39, 49\u{2013}59; spiky: missed frames 40\u{2013}48\n"
        ),
        "{stdout}"
    );
    assert!(!stdout.contains("- synthetic_walker: camhil:"), "{stdout}");
    assert!(
        stdout.contains("Tuned on every clip:") && stdout.contains("\n| always | x=1 (floor not kept) | "),
        "{stdout}"
    );
    // Tuned on three easy clips, camhil's choice is not the cam's defaults.
    assert!(stdout.contains("The cam's defaults are not camhil's choice tuned on every clip"), "{stdout}");

    std::fs::write(&baselines, r#"{"always": {"x=1": {"synthetic_walker": [0.5]}}}"#).unwrap();
    let (code, _, stderr) = cam_hil(&args);
    assert_eq!(code, 2);
    assert!(stderr.contains("has 1 frames of synthetic_walker, not 60"), "{stderr}");
}

/// `cam-hil eval --baselines` without `--loco`: the baselines tuned on the
/// clips given, their rows beside camhil's in one table, the same in
/// process and on a cam; a scores file that cannot be used stops the run
/// before any cam does.
#[test]
fn eval_prints_the_baselines_beside_camhil_in_process_and_on_a_target() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures");
    let clips = ["synthetic_walker", "synthetic_lighting"];
    // A baseline whose score is the label itself (1 on the walker's
    // labelled frames), and one that flags every frame after the first.
    let walker = Clip::load(format!("{fixtures}/synthetic_walker")).unwrap();
    let truth: Vec<f64> = walker.frames.iter().map(|f| if f.label == Some(true) { 1.0 } else { 0.0 }).collect();
    let baselines = dir.path().join("baselines.json");
    let json = serde_json::json!({
        "oracle": { "x=1": { "synthetic_walker": truth, "synthetic_lighting": vec![0.0; 60] } },
        "always": { "y=2": { "synthetic_walker": (0..60).map(|i| f64::from(i > 0)).collect::<Vec<_>>(),
                              "synthetic_lighting": (0..60).map(|i| f64::from(i > 0)).collect::<Vec<_>>() } },
    });
    std::fs::write(&baselines, json.to_string()).unwrap();
    let paths: Vec<String> = clips.iter().map(|c| format!("{fixtures}/{c}")).collect();
    let mut args = vec!["eval", "--baselines", baselines.to_str().unwrap()];
    args.extend(paths.iter().map(String::as_str));
    let (code, in_process, stderr) = cam_hil(&args);
    assert_eq!(code, 0, "{stderr}");
    assert!(in_process.starts_with("| clip | detector | threshold |"), "{in_process}");
    let row = |clip: &str, detector: &str| table_row(&in_process, clip, detector);
    // Frame precision, recall and F1 last.
    assert!(row("synthetic_walker", "camhil |").ends_with("| 1.00 | 1.00 | 1.00 |"), "{in_process}");
    assert!(row("synthetic_walker", "oracle (x=1, threshold=").ends_with("| 1.00 | 1.00 | 1.00 |"), "{in_process}");
    assert!(row("synthetic_lighting", "always (y=2, threshold=").ends_with("| 0.00 | 1.00 | 0.00 |"), "{in_process}");
    // Tuned with the seed's event precision as the floor: no threshold
    // keeps "always" from a false event on the lighting clip, and its row
    // says so; the oracle keeps to it (`table_row` fails, printing the
    // table, when no row starts so).
    row("synthetic_lighting", "always (y=2, threshold=0.00005, hysteresis=0.3, floor not kept)");
    row("synthetic_walker", "oracle (x=1, threshold=0.00005, hysteresis=0.3) |");

    // The HTML report shows them under camhil's row, with their scores.
    let report = dir.path().join("report");
    let mut with_report = args.clone();
    with_report.extend(["--report", report.to_str().unwrap()]);
    assert_eq!(cam_hil(&with_report).0, 0);
    let page = std::fs::read_to_string(report.join("index.html")).unwrap();
    let oracle = page.find("<tr class=\"baseline\"><td>oracle (x=1, threshold=").expect("the oracle's row");
    assert!(
        page[oracle..]
            .split("</tr>")
            .next()
            .unwrap()
            .ends_with("<td class=\"num\">1.00</td><td class=\"num\">1.00</td><td class=\"num\">1.00</td>"),
        "{page}"
    );
    // Under the walker's row, before the lighting clip's.
    assert!(page.find("<a href=\"#synthetic_walker\">").unwrap() < oracle);
    assert!(oracle < page.find("<a href=\"#synthetic_lighting\">").unwrap());

    let mut on_sim = vec!["eval", "--target", "sim"];
    on_sim.extend(&args[1..]);
    let (code, on_target, stderr) = cam_hil(&on_sim);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(on_target, in_process);

    std::fs::write(&baselines, r#"{"oracle": {}}"#).unwrap();
    let (code, out, stderr) = cam_hil(&on_sim);
    assert_eq!(code, 2, "{out}");
    assert!(stderr.contains("baseline scores: oracle has no settings to tune"), "{stderr}");
    assert!(!stderr.contains("PASS eval"), "no cam ran: {stderr}");
}

/// `--fault-plan` puts any selected scenario under a plan, every scenario
/// under a plan prints it, and `--seed` re-seeds it.
#[test]
fn a_fault_plan_from_the_command_line_is_applied_and_printed() {
    let (code, out, err) = cam_hil(&["run", "scenarios/still.toml", "--fault-plan", "seed=3,latency_ms=1,cut=rst"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("  fault plan: seed=3,cut=rst,latency_ms=1 (replay it: --fault-plan"), "{out}");
    let (code, out, _) = cam_hil(&["run", "scenarios/still.toml", "--fault-plan", "latency_ms=1", "--seed", "9"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("fault plan: seed=9,latency_ms=1"), "{out}");
    let (code, _, err) = cam_hil(&["run", "scenarios/still.toml", "--fault-plan", "latency=1"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown field `latency`"), "{err}");
}

/// `cam-hil run --target url:… --tag faults`, as a user puts their own cam
/// under the fault plans: against a correct cam reached only over the
/// network, every `faults` scenario passes but the one that needs a reset,
/// which is skipped with the reason.
#[test]
fn every_faults_scenario_runs_against_a_cam_at_a_url() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // A cam that asks its clients back after 20 ms, so the cuts cost little.
    let config = cam_sim::SimConfig { retry_ms: 20, snapshot_dir: dir.path().into(), ..Default::default() };
    let cam = rt.block_on(cam_sim::Simulator::start(config)).unwrap();
    let target = format!("url:{}", cam.url());
    let (code, out, err) = cam_hil(&["run", "--target", &target, "--tag", "faults"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.ends_with("6 passed, 0 failed, 1 skipped\n"), "{out}");
    assert!(out.contains("SKIP a reboot mid-replay"), "{out}");
    assert!(out.contains("cannot be reset"), "{out}");
    drop(cam);
}
