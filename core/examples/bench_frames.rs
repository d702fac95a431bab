//! Times the core detector over a clip's frames, as the OpenCV comparison
//! (`ci/bench_opencv.py`) does for OpenCV on the same frames: decode to
//! luma + grid + compare, per frame, best of `ROUNDS` passes.
//! `cargo run --release -p camhil-core --example bench_frames -- fixtures/cdnet_highway [seed|background]`
//! prints `frames=N us_per_frame=X motion_frames=M`: at the defaults; with
//! `seed`, the seed's detector (`DetectorConfig::seed`); with `background`,
//! the seed's settings with the background model
//! (`DetectorConfig::background`), which is what it adds to the seed.
use std::time::Instant;

use cam_core::protocol::{DEFAULT_THRESHOLD, SEED_THRESHOLD};
use cam_core::{Detector, DetectorConfig, fixture};

const ROUNDS: usize = 20;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir =
        std::path::PathBuf::from(std::env::args().nth(1).ok_or("usage: bench_frames CLIP_DIR [seed|background]")?);
    let (config, threshold) = match std::env::args().nth(2).as_deref() {
        None => (DetectorConfig::default(), DEFAULT_THRESHOLD),
        Some("seed") => (DetectorConfig::seed(), SEED_THRESHOLD),
        Some("background") => (DetectorConfig { background: true, ..DetectorConfig::seed() }, SEED_THRESHOLD),
        Some(other) => return Err(format!("unknown mode {other}: seed or background").into()),
    };
    let manifest = fixture::parse_manifest(&std::fs::read_to_string(dir.join("manifest.csv"))?)?;
    let frames: Vec<Vec<u8>> = manifest.iter().map(|r| std::fs::read(dir.join(&r.file))).collect::<Result<_, _>>()?;
    let mut best = f64::INFINITY;
    let mut events = 0usize;
    for _ in 0..ROUNDS {
        let mut detector = Detector::new(config);
        let start = Instant::now();
        events = 0;
        for f in &frames {
            let m = detector.process(std::hint::black_box(f))?;
            events += usize::from(m.change > threshold && !m.lighting);
        }
        best = best.min(start.elapsed().as_secs_f64() * 1e6 / frames.len() as f64);
    }
    println!("frames={} us_per_frame={best:.1} motion_frames={events}", frames.len());
    Ok(())
}
