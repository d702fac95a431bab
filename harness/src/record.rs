//! `cam-hil record`: records frames from a live cam into a new fixture
//! folder (`frame_NNNNN.jpg` + `manifest.csv`), ready for replay.
//!
//! The recorder polls `GET /snapshot.jpg` `fps` times a second for
//! `duration`. A frame it already has is skipped: same `X-Frame-Seq`, or,
//! for a cam without that header, the same bytes. Capture times come from
//! `X-Frame-Ts` where the cam sends it, else from when the frame arrived.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::client::Http;
use crate::target::Endpoint;

/// What to record.
#[derive(Debug, Clone)]
pub struct Recording {
    /// The cam.
    pub endpoint: Endpoint,
    /// How long to record.
    pub duration: Duration,
    /// Polls of `/snapshot.jpg` per second.
    pub fps: f64,
    /// The new fixture folder (must not exist, or be empty).
    pub dir: PathBuf,
    /// Show a progress bar on stderr.
    pub progress: bool,
}

/// What was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    /// Frames written.
    pub frames: usize,
    /// Polls answered with a frame already recorded.
    pub repeats: usize,
    /// Polls answered 503 (no frame yet).
    pub empty: usize,
}

fn header_u64(resp: &reqwest::Response, name: &str) -> Option<u64> {
    resp.headers().get(name)?.to_str().ok()?.trim().parse().ok()
}

fn prepare(dir: &Path) -> Result<(), String> {
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        if entries.next().is_some() {
            return Err(format!("{} is not empty: record into a new folder", dir.display()));
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))
}

/// Records as `rec` says.
///
/// # Errors
/// The folder is not new, the cam is unreachable or refuses (401, …), or a
/// file cannot be written. Frames written before an error stay, with their
/// manifest.
pub async fn record(rec: &Recording) -> Result<Recorded, String> {
    prepare(&rec.dir)?;
    let http = Http::new(&rec.endpoint)?;
    let fps = if rec.fps > 0.0 && rec.fps.is_finite() { rec.fps } else { 10.0 };
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / fps));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let bar = if rec.progress {
        let bar = ProgressBar::new(rec.duration.as_millis() as u64);
        bar.set_style(
            ProgressStyle::with_template("{spinner} recording [{bar:30}] {elapsed}/{duration} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let start = Instant::now();
    let mut manifest = String::from("file,t_ms,src_frame\n");
    let mut summary = Recorded { frames: 0, repeats: 0, empty: 0 };
    let (mut last_seq, mut last_bytes, mut first_ts): (Option<u64>, Vec<u8>, Option<u64>) = (None, Vec::new(), None);
    let result = loop {
        tick.tick().await;
        if start.elapsed() >= rec.duration {
            break Ok(());
        }
        bar.set_position(start.elapsed().as_millis() as u64);
        let resp = match http.request(reqwest::Method::GET, "/snapshot.jpg").send().await {
            Ok(r) => r,
            Err(e) => break Err(format!("GET /snapshot.jpg: {e}")),
        };
        match resp.status().as_u16() {
            200 => {}
            503 => {
                summary.empty += 1;
                continue;
            }
            code => break Err(format!("GET /snapshot.jpg answered {code}")),
        }
        let (seq, ts) = (header_u64(&resp, "x-frame-seq"), header_u64(&resp, "x-frame-ts"));
        let received_ms = start.elapsed().as_millis() as u64;
        let bytes = match resp.bytes().await {
            Ok(b) => b.to_vec(),
            Err(e) => break Err(format!("GET /snapshot.jpg: body: {e}")),
        };
        let repeat = match (seq, last_seq) {
            (Some(s), Some(l)) => s == l,
            _ => bytes == last_bytes,
        };
        if repeat {
            summary.repeats += 1;
            continue;
        }
        let t_ms = match ts {
            Some(ts) => ts - *first_ts.get_or_insert(ts),
            None => received_ms - *first_ts.get_or_insert(received_ms),
        };
        let file = format!("frame_{:05}.jpg", summary.frames);
        if let Err(e) = std::fs::write(rec.dir.join(&file), &bytes) {
            break Err(format!("{}: {e}", rec.dir.join(&file).display()));
        }
        let _ = writeln!(manifest, "{file},{t_ms},{}", seq.unwrap_or(summary.frames as u64));
        summary.frames += 1;
        bar.set_message(format!("{} frames", summary.frames));
        (last_seq, last_bytes) = (seq, bytes);
    };
    bar.finish_and_clear();
    let path = rec.dir.join("manifest.csv");
    std::fs::write(&path, manifest).map_err(|e| format!("{}: {e}", path.display()))?;
    result.map(|()| summary)
}
