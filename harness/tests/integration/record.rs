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

/// A cam whose `GET /snapshot.jpg` answers each poll with the next frame of
/// `frames`: `(X-Frame-Seq, X-Frame-Ts or none)`, the body a JPEG, then the
/// last one again.
async fn scripted_cam(frames: Vec<(u64, Option<u64>)>) -> String {
    use axum::http::header::HeaderMap;
    let jpeg = square_clip().frames[0].jpeg.clone();
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let app = axum::Router::new().route(
        "/snapshot.jpg",
        axum::routing::get(move || {
            let (jpeg, next) = (jpeg.clone(), next.clone());
            let frames = frames.clone();
            async move {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst).min(frames.len() - 1);
                let (seq, ts) = frames[i];
                let mut headers = HeaderMap::new();
                headers.insert("x-frame-seq", seq.into());
                if let Some(ts) = ts {
                    headers.insert("x-frame-ts", ts.into());
                }
                (headers, jpeg)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[rstest::rstest]
#[case::a_cam_that_restarted(vec![(1, Some(5_000)), (2, Some(5_200)), (3, Some(100))], "frame 2: its capture time (100 ms) is before the first frame's (5000 ms): did the cam restart?")]
#[case::a_clock_going_back(vec![(1, Some(5_000)), (2, Some(5_400)), (3, Some(5_200))], "frame 2: its capture time (200 ms into the recording) goes back from the last frame's (400 ms)")]
#[case::x_frame_ts_gone(vec![(1, Some(5_000)), (2, Some(5_200)), (3, None)], "frame 2: the cam sent no X-Frame-Ts, as it did for the first frame")]
#[tokio::test]
async fn capture_times_that_go_back_stop_the_recording_and_keep_the_frames_before(
    #[case] frames: Vec<(u64, Option<u64>)>,
    #[case] error: &str,
) {
    let url = scripted_cam(frames).await;
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("recorded");
    let rec = Recording {
        endpoint: Endpoint::new(&url, None),
        duration: Duration::from_secs(30),
        fps: 200.0,
        dir: dir.clone(),
        progress: false,
    };
    let e = record(&rec).await.unwrap_err();
    assert!(e.starts_with(error), "{e}");
    // The two frames before are a valid fixture.
    let clip = Clip::load(&dir).unwrap();
    let times: Vec<u64> = clip.frames.iter().map(|f| f.t_ms).collect();
    assert_eq!(times.len(), 2);
    assert_eq!(times[0], 0);
}

#[tokio::test]
async fn polls_a_second_out_of_range_are_refused_before_anything_is_written() {
    let out = tempfile::tempdir().unwrap();
    for fps in [0.0, -1.0, f64::NAN, 1e10] {
        let rec = Recording {
            endpoint: Endpoint::new("http://127.0.0.1:9", None),
            duration: Duration::from_millis(100),
            fps,
            dir: out.path().join("new"),
            progress: false,
        };
        let e = record(&rec).await.unwrap_err();
        assert!(e.contains("polls a second must be above 0 and at most 1000"), "{e}");
        assert!(!out.path().join("new").exists());
    }
}
