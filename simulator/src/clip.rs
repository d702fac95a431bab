//! Recorded footage: a clip folder of `frame_NNNNN.jpg` files with a
//! `manifest.csv` of capture times and, where ground truth exists, a
//! `labels.csv` (`fixtures/README.md`). Also the simulator's own capture
//! loop, which replays a clip at its recorded timing.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cam_core::camera::{Camera, CapturedFrame};
use cam_core::fixture::{self, CsvError};

use crate::shared::{Shared, unix_now_ms};

/// One frame of a clip.
#[derive(Debug, Clone)]
pub struct ClipFrame {
    /// File name inside the clip folder.
    pub file: String,
    /// Capture time in ms from the clip's first frame.
    pub t_ms: u64,
    /// The JPEG bytes.
    pub jpeg: Vec<u8>,
    /// Ground truth (`labels.csv` `motion` column) where the clip has it.
    pub label: Option<bool>,
}

/// A recorded clip loaded in memory.
#[derive(Debug, Clone)]
pub struct Clip {
    /// The clip folder.
    pub dir: PathBuf,
    /// Its frames in manifest order (index 0 is the first row).
    pub frames: Vec<ClipFrame>,
}

/// Why a clip could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ClipError {
    /// A file of the clip could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// `manifest.csv` or `labels.csv` is malformed.
    #[error("{path}: {source}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// Line and message.
        source: CsvError,
    },
    /// The manifest lists no frame.
    #[error("{0}: manifest.csv lists no frame")]
    Empty(PathBuf),
}

fn read(path: &Path) -> Result<Vec<u8>, ClipError> {
    std::fs::read(path).map_err(|source| ClipError::Io { path: path.into(), source })
}

fn read_text(path: &Path) -> Result<String, ClipError> {
    std::fs::read_to_string(path).map_err(|source| ClipError::Io { path: path.into(), source })
}

impl Clip {
    /// Loads `dir/manifest.csv`, every frame it lists, and `dir/labels.csv`
    /// if present (labels are matched to frames by file name).
    ///
    /// # Errors
    /// A missing or malformed manifest, a listed frame that cannot be read,
    /// a malformed `labels.csv`.
    pub fn load(dir: impl AsRef<Path>) -> Result<Self, ClipError> {
        let dir = dir.as_ref().to_path_buf();
        let manifest_path = dir.join("manifest.csv");
        let rows = fixture::parse_manifest(&read_text(&manifest_path)?)
            .map_err(|source| ClipError::Csv { path: manifest_path, source })?;
        if rows.is_empty() {
            return Err(ClipError::Empty(dir));
        }
        let labels_path = dir.join("labels.csv");
        let labels: std::collections::HashMap<String, bool> = if labels_path.exists() {
            fixture::parse_labels(&read_text(&labels_path)?)
                .map_err(|source| ClipError::Csv { path: labels_path, source })?
                .into_iter()
                .collect()
        } else {
            Default::default()
        };
        let frames = rows
            .into_iter()
            .map(|row| {
                Ok(ClipFrame {
                    jpeg: read(&dir.join(&row.file))?,
                    label: labels.get(&row.file).copied(),
                    file: row.file,
                    t_ms: row.t_ms,
                })
            })
            .collect::<Result<_, ClipError>>()?;
        Ok(Self { dir, frames })
    }

    /// The folder name, e.g. `cdnet_highway`.
    pub fn name(&self) -> String {
        self.dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    }
}

/// A [`Camera`] that plays a clip at its recorded timing divided by
/// `speed`, stamping each frame with the wall-clock time it is "captured".
#[derive(Debug)]
pub struct ClipCamera {
    clip: Clip,
    speed: f64,
    looping: bool,
    next: usize,
    start: tokio::time::Instant,
}

impl ClipCamera {
    /// Plays `clip` from its first frame, `speed` times as fast as
    /// recorded (values ≤ 0 are taken as 1); `looping` starts over after
    /// the last frame.
    pub fn new(clip: Clip, speed: f64, looping: bool) -> Self {
        let speed = if speed > 0.0 && speed.is_finite() { speed } else { 1.0 };
        Self { clip, speed, looping, next: 0, start: tokio::time::Instant::now() }
    }
}

impl Camera for ClipCamera {
    type Error = std::convert::Infallible;

    async fn capture(&mut self) -> Result<Option<CapturedFrame>, Self::Error> {
        if self.next == self.clip.frames.len() {
            if !self.looping {
                return Ok(None);
            }
            // Start over one mean frame interval after the last frame.
            let frames = &self.clip.frames;
            let span = frames[frames.len() - 1].t_ms - frames[0].t_ms;
            let gap = span / (frames.len() as u64 - 1).max(1);
            self.start += Duration::from_secs_f64((span + gap) as f64 / 1000.0 / self.speed);
            self.next = 0;
        }
        let frame = &self.clip.frames[self.next];
        self.next += 1;
        let offset = Duration::from_secs_f64(frame.t_ms as f64 / 1000.0 / self.speed);
        // Pacing to the recorded frame rate, as a real sensor would.
        tokio::time::sleep_until(self.start + offset).await;
        Ok(Some(CapturedFrame { jpeg: frame.jpeg.clone(), ts_ms: unix_now_ms() }))
    }
}

/// The capture loop: every frame the camera yields goes through the cam
/// until the camera ends. Undecodable frames are logged and skipped.
pub async fn capture_loop<C: Camera>(mut camera: C, shared: Arc<Shared>) -> Result<(), C::Error> {
    while let Some(frame) = camera.capture().await? {
        match shared.ingest(frame.jpeg, frame.ts_ms).await {
            Ok(Ok(o)) if o.event.is_some() => {
                tracing::debug!(frame = o.frame, change = o.change, "motion")
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "capture loop: frame refused"),
            Err(e) => tracing::error!(error = %e, "capture loop: frame task failed"),
        }
    }
    Ok(())
}
