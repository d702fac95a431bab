//! `cam-hil record`: records frames from a live cam into a new fixture
//! folder (`frame_NNNNN.jpg` + `manifest.csv`), ready for replay.
//!
//! The recorder polls `GET /snapshot.jpg` `fps` times a second for
//! `duration`. A frame it already has is skipped: same `X-Frame-Seq`, or,
//! for a cam without that header, the same bytes. Capture times come from
//! `X-Frame-Ts` where the cam sends it, else from when the frame arrived.
//! They must not go back: a cam whose `X-Frame-Ts` goes back (it restarted
//! without a clock) or comes and goes stops the recording with an error,
//! and the frames before it stay, with their manifest.

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
    /// Polls of `/snapshot.jpg` per second: above 0, at most [`MAX_FPS`].
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

/// The most polls a second [`record`] makes.
pub const MAX_FPS: f64 = 1000.0;

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
/// `fps` is not above 0 and at most [`MAX_FPS`], the folder is not new,
/// the cam is unreachable or refuses (401, …), its capture times go back
/// or its `X-Frame-Ts` comes and goes, or a file cannot be written. Frames
/// written before an error stay, with their manifest.
pub async fn record(rec: &Recording) -> Result<Recorded, String> {
    if !(rec.fps > 0.0 && rec.fps <= MAX_FPS) {
        return Err(format!("fps {}: polls a second must be above 0 and at most {MAX_FPS}", rec.fps));
    }
    prepare(&rec.dir)?;
    let http = Http::new(&rec.endpoint)?;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rec.fps));
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
    let (mut last_seq, mut last_bytes): (Option<u64>, Vec<u8>) = (None, Vec::new());
    // The first frame's capture time, from the cam's clock or ours, and
    // the last frame's time in the manifest.
    let (mut first, mut last_t_ms): (Option<Clock>, u64) = (None, 0);
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
        let clock = match ts {
            Some(ts) => Clock::Cam(ts),
            None => Clock::Received(received_ms),
        };
        let t_ms = match clock.since(*first.get_or_insert(clock)) {
            Ok(t) if t >= last_t_ms => t,
            Ok(t) => {
                break Err(format!(
                    "frame {}: its capture time ({t} ms into the recording) goes back from the last frame's ({last_t_ms} ms): did the cam restart? Recording stopped",
                    summary.frames
                ));
            }
            Err(e) => break Err(format!("frame {}: {e}: recording stopped", summary.frames)),
        };
        last_t_ms = t_ms;
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

/// Where a frame's capture time came from: the cam's `X-Frame-Ts` (ms since
/// the Unix epoch, or since the cam booted) or when it arrived here (ms
/// since the recording started).
#[derive(Debug, Clone, Copy)]
enum Clock {
    Cam(u64),
    Received(u64),
}

impl Clock {
    /// Ms from `first` to this time.
    ///
    /// # Errors
    /// The two come from different clocks (the cam's `X-Frame-Ts` came or
    /// went), or this time is before `first`.
    fn since(self, first: Clock) -> Result<u64, String> {
        match (self, first) {
            (Clock::Cam(t), Clock::Cam(f)) | (Clock::Received(t), Clock::Received(f)) => {
                t.checked_sub(f).ok_or_else(|| {
                    format!("its capture time ({t} ms) is before the first frame's ({f} ms): did the cam restart?")
                })
            }
            (Clock::Received(_), Clock::Cam(_)) => {
                Err("the cam sent no X-Frame-Ts, as it did for the first frame".into())
            }
            (Clock::Cam(_), Clock::Received(_)) => {
                Err("the cam sent X-Frame-Ts, as it did not for the first frame".into())
            }
        }
    }
}
