//! `cam-hil record` against a simulator replaying a fixture: the recording
//! is a valid fixture of the cam's frames, and replays through a scenario.

use std::path::Path;
use std::time::Duration;

use cam_hil::record::{Recording, record};
use cam_hil::runner::{self, RunEnv};
use cam_hil::scenario;
use cam_hil::target::{Endpoint, TargetSpec};
use cam_sim::clip::{ClipCamera, capture_loop};
use cam_sim::{SimConfig, Simulator};
use footage::Clip;

fn square_clip() -> Clip {
    Clip::load(Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/synthetic_bright_square")).unwrap()
}

#[tokio::test]
async fn records_a_live_cam_into_a_replayable_fixture() {
    let sd = tempfile::tempdir().unwrap();
    let cam = Simulator::start(SimConfig { snapshot_dir: sd.path().into(), ..SimConfig::default() }).await.unwrap();
    // 200 ms between frames at speed 4: a new frame every 50 ms, looping.
    tokio::spawn(capture_loop(ClipCamera::new(square_clip(), 4.0, true), cam.shared().clone()));

    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("recorded");
    let rec = Recording {
        endpoint: Endpoint::new(cam.url(), None),
        duration: Duration::from_millis(1500),
        fps: 50.0,
        dir: dir.clone(),
        progress: false,
    };
    let got = record(&rec).await.unwrap();
    assert!(got.frames >= 10, "{got:?}");

    // A valid fixture: every frame is one the cam captured, in order, with
    // increasing capture times and no frame twice in a row.
    let clip = Clip::load(&dir).unwrap();
    assert_eq!(clip.frames.len(), got.frames);
    let source = square_clip();
    for f in &clip.frames {
        assert!(source.frames.iter().any(|s| s.jpeg == f.jpeg), "{} is not a cam frame", f.file);
    }
    let manifest = std::fs::read_to_string(dir.join("manifest.csv")).unwrap();
    let seqs: Vec<u64> = manifest.lines().skip(1).map(|l| l.rsplit(',').next().unwrap().parse().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert!(clip.frames.windows(2).all(|w| w[0].t_ms < w[1].t_ms));

    // Ready for replay: a scenario over the recording sees the square come and go.
    let toml = "fixture = \"recorded\"\n[[step]]\nreplay = {}\n[[step]]\nexpect_events = { min = 1 }\n";
    let path = out.path().join("replay.toml");
    std::fs::write(&path, toml).unwrap();
    let s = scenario::load(&path).unwrap();
    let target = TargetSpec::Sim.open(&s.needs).await.unwrap();
    let report = runner::run(&s, target.as_ref(), &RunEnv::default()).await;
    assert!(report.passed(), "{:?}", report.failure());
}

#[tokio::test]
async fn refuses_a_folder_that_is_not_new_and_an_unreachable_cam() {
    let out = tempfile::tempdir().unwrap();
    std::fs::write(out.path().join("keep.txt"), "x").unwrap();
    let rec = Recording {
        endpoint: Endpoint::new("http://127.0.0.1:9", None),
        duration: Duration::from_millis(100),
        fps: 10.0,
        dir: out.path().into(),
        progress: false,
    };
    assert!(record(&rec).await.unwrap_err().contains("is not empty"));
    let rec = Recording { dir: out.path().join("new"), ..rec };
    assert!(record(&rec).await.unwrap_err().contains("GET /snapshot.jpg"));
}
