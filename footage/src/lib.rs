//! # camhil-footage: recorded clips in memory
//!
//! A clip is a folder of `frame_NNNNN.jpg` files with a `manifest.csv` of
//! capture times and, where ground truth exists, a `labels.csv`
//! (`fixtures/README.md` describes the format and every clip in
//! `fixtures/`). [`Clip::load`] reads one into memory; the simulator replays
//! it as a camera, the harness sends its frames to a cam and `cam-hil eval`
//! scores the detector against its labels. The CSV parsing itself is
//! `cam_core::fixture`, shared with the no_std side.
//!
//! ```no_run
//! let clip = footage::Clip::load("fixtures/synthetic_bright_square")?;
//! let moving = clip.frames.iter().filter(|f| f.label == Some(true)).count();
//! println!("{}: {} frames, {moving} labelled motion", clip.name(), clip.frames.len());
//! # Ok::<(), footage::ClipError>(())
//! ```

use std::path::{Path, PathBuf};

pub use cam_core::fixture::ManifestRow;
use cam_core::fixture::{self, CsvError};

/// One frame of a clip.
#[derive(Debug, Clone)]
pub struct ClipFrame {
    /// File name inside the clip folder, e.g. `frame_00000.jpg`.
    pub file: String,
    /// Capture time in ms from the clip's first frame (`manifest.csv`
    /// `t_ms`; never decreases from one frame to the next).
    pub t_ms: u64,
    /// The JPEG bytes, as stored.
    pub jpeg: Vec<u8>,
    /// Ground truth (`labels.csv` `motion` column: 1 is `true`, something
    /// moves) where the clip has a label for this file; `None` without
    /// `labels.csv`, without a row for this file, or with its `motion`
    /// cell empty (a frame nobody could judge).
    pub label: Option<bool>,
}

/// A recorded clip loaded in memory.
#[derive(Debug, Clone)]
pub struct Clip {
    /// The clip folder, as given to [`Clip::load`].
    pub dir: PathBuf,
    /// Its frames in manifest order (index 0 is the first row); never empty.
    pub frames: Vec<ClipFrame>,
}

/// Why a clip could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ClipError {
    /// A file of the clip (`manifest.csv`, `labels.csv` or a frame the
    /// manifest lists) could not be read.
    #[error("cannot read {path}: {source}")]
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
        /// 1-based line number and message.
        source: CsvError,
    },
    /// `manifest.csv` has a header but no frame rows; the clip folder.
    #[error("{0}: manifest.csv lists no frame (a header and no rows)")]
    Empty(PathBuf),
}

fn read(path: &Path) -> Result<Vec<u8>, ClipError> {
    std::fs::read(path).map_err(|source| ClipError::Io { path: path.into(), source })
}

fn read_text(path: &Path) -> Result<String, ClipError> {
    std::fs::read_to_string(path).map_err(|source| ClipError::Io { path: path.into(), source })
}

/// The rows of `dir/manifest.csv` (frame file names and capture times in
/// ms from the clip's first frame), without reading any frame.
///
/// # Errors
/// [`ClipError::Io`] for a missing `manifest.csv`, [`ClipError::Csv`]
/// (with the line) for a malformed one, [`ClipError::Empty`] for one
/// without frame rows.
pub fn manifest(dir: impl AsRef<Path>) -> Result<Vec<ManifestRow>, ClipError> {
    let dir = dir.as_ref();
    let manifest_path = dir.join("manifest.csv");
    let rows = fixture::parse_manifest(&read_text(&manifest_path)?)
        .map_err(|source| ClipError::Csv { path: manifest_path, source })?;
    if rows.is_empty() {
        return Err(ClipError::Empty(dir.to_path_buf()));
    }
    Ok(rows)
}

/// [`manifest`], and every frame file it lists is there (none is read):
/// the check a scenario that names the clip gets when it loads.
///
/// # Errors
/// As [`manifest`]; [`ClipError::Io`] (not found) for a listed frame file
/// that is missing.
pub fn check(dir: impl AsRef<Path>) -> Result<Vec<ManifestRow>, ClipError> {
    let dir = dir.as_ref();
    let rows = manifest(dir)?;
    if let Some(row) = rows.iter().find(|r| !dir.join(&r.file).is_file()) {
        let source =
            std::io::Error::new(std::io::ErrorKind::NotFound, "the frame file listed in manifest.csv is missing");
        return Err(ClipError::Io { path: dir.join(&row.file), source });
    }
    Ok(rows)
}

impl Clip {
    /// Loads `dir/manifest.csv`, every frame it lists, and `dir/labels.csv`
    /// if present (labels are matched to frames by file name, not by row).
    ///
    /// # Errors
    /// [`ClipError::Io`] for a missing `manifest.csv` or a listed frame that
    /// cannot be read; [`ClipError::Csv`] (with the line) for a malformed
    /// `manifest.csv` or `labels.csv`, or a label for a file the manifest
    /// does not list; [`ClipError::Empty`] for a manifest
    /// without frame rows.
    pub fn load(dir: impl AsRef<Path>) -> Result<Self, ClipError> {
        let dir = dir.as_ref().to_path_buf();
        let rows = manifest(&dir)?;
        let labels_path = dir.join("labels.csv");
        let labels = if labels_path.exists() {
            fixture::labels_for(&rows, &read_text(&labels_path)?)
                .map_err(|source| ClipError::Csv { path: labels_path, source })?
        } else {
            vec![None; rows.len()]
        };
        let frames = rows
            .into_iter()
            .zip(labels)
            .map(|(row, label)| {
                Ok(ClipFrame { jpeg: read(&dir.join(&row.file))?, label, file: row.file, t_ms: row.t_ms })
            })
            .collect::<Result<_, ClipError>>()?;
        Ok(Self { dir, frames })
    }

    /// The folder name, e.g. `cdnet_highway`; empty for a `dir` without one
    /// (such as `..`).
    pub fn name(&self) -> String {
        self.dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A clip folder named `clip` holding `files` (name, contents).
    fn clip_dir(files: &[(&str, &[u8])]) -> (tempfile::TempDir, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("clip");
        std::fs::create_dir(&dir).unwrap();
        for (name, contents) in files {
            std::fs::write(dir.join(name), contents).unwrap();
        }
        (tmp, dir)
    }

    #[test]
    fn loads_a_good_clip() {
        let (_tmp, dir) = clip_dir(&[
            ("manifest.csv", b"file,t_ms,src_frame\nb.jpg,0,4\na.jpg,133,8\n"),
            ("a.jpg", b"AAA"),
            ("b.jpg", b"BB"),
        ]);
        let clip = Clip::load(&dir).unwrap();
        assert_eq!(clip.name(), "clip");
        assert_eq!(clip.dir, dir);
        let got: Vec<(&str, u64, &[u8], Option<bool>)> =
            clip.frames.iter().map(|f| (f.file.as_str(), f.t_ms, f.jpeg.as_slice(), f.label)).collect();
        assert_eq!(got, [("b.jpg", 0, &b"BB"[..], None), ("a.jpg", 133, &b"AAA"[..], None)]);
    }

    #[test]
    fn labels_are_matched_by_file_name() {
        let (_tmp, dir) = clip_dir(&[
            ("manifest.csv", b"file,t_ms\nf0.jpg,0\nf1.jpg,200\nf2.jpg,400\n"),
            // Another order than the manifest's, and no row for f1.jpg.
            ("labels.csv", b"file,motion\nf2.jpg,1\nf0.jpg,0\n"),
            ("f0.jpg", b"0"),
            ("f1.jpg", b"1"),
            ("f2.jpg", b"2"),
        ]);
        let labels: Vec<Option<bool>> = Clip::load(&dir).unwrap().frames.iter().map(|f| f.label).collect();
        assert_eq!(labels, [Some(false), None, Some(true)]);
    }

    #[test]
    fn an_empty_motion_cell_leaves_its_frame_unlabelled() {
        // As fixtures/README.md tells a labeller to do with a frame they
        // cannot judge.
        let (_tmp, dir) = clip_dir(&[
            ("manifest.csv", b"file,t_ms\nf0.jpg,0\nf1.jpg,200\nf2.jpg,400\n"),
            ("labels.csv", b"file,t_ms,motion\nf0.jpg,0,0\nf1.jpg,200,\nf2.jpg,400,1\n"),
            ("f0.jpg", b"0"),
            ("f1.jpg", b"1"),
            ("f2.jpg", b"2"),
        ]);
        let labels: Vec<Option<bool>> = Clip::load(&dir).unwrap().frames.iter().map(|f| f.label).collect();
        assert_eq!(labels, [Some(false), None, Some(true)]);
    }

    #[test]
    fn a_label_for_a_frame_not_in_the_manifest_is_refused_not_lost() {
        let (_tmp, dir) = clip_dir(&[
            ("manifest.csv", b"file,t_ms\nf0.jpg,0\n"),
            ("labels.csv", b"file,motion\nf0.jpg,0\nframe_0001.jpg,1\n"),
            ("f0.jpg", b"0"),
        ]);
        let text = Clip::load(&dir).unwrap_err().to_string();
        assert!(text.ends_with("labels.csv: line 3: `frame_0001.jpg` is not a frame of manifest.csv"), "{text}");
    }

    #[test]
    fn a_missing_frame_file_is_an_io_error_naming_it() {
        let (_tmp, dir) = clip_dir(&[("manifest.csv", b"file,t_ms\nf0.jpg,0\nf1.jpg,200\n"), ("f0.jpg", b"0")]);
        match Clip::load(&dir) {
            Err(ClipError::Io { path, source }) => {
                assert_eq!(path, dir.join("f1.jpg"));
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_missing_manifest_is_an_io_error() {
        let (_tmp, dir) = clip_dir(&[("f0.jpg", b"0")]);
        assert!(matches!(Clip::load(&dir), Err(ClipError::Io { path, .. }) if path == dir.join("manifest.csv")));
    }

    #[test]
    fn a_malformed_manifest_names_the_line() {
        let (_tmp, dir) = clip_dir(&[("manifest.csv", b"file,t_ms\nf0.jpg,0\nf1.jpg,soon\n"), ("f0.jpg", b"0")]);
        let e = Clip::load(&dir).unwrap_err();
        assert!(matches!(&e, ClipError::Csv { path, source } if path == &dir.join("manifest.csv") && source.line == 3));
        let text = e.to_string();
        assert!(text.ends_with("manifest.csv: line 3: `t_ms` \"soon\" is not ms"), "{text}");
    }

    #[test]
    fn a_malformed_labels_file_names_the_line() {
        let (_tmp, dir) = clip_dir(&[
            ("manifest.csv", b"file,t_ms\nf0.jpg,0\n"),
            ("labels.csv", b"file,motion\nf0.jpg,yes\n"),
            ("f0.jpg", b"0"),
        ]);
        let e = Clip::load(&dir).unwrap_err();
        assert!(matches!(&e, ClipError::Csv { path, source } if path == &dir.join("labels.csv") && source.line == 2));
    }

    #[test]
    fn a_header_only_manifest_is_refused() {
        for manifest in [&b"file,t_ms,src_frame\n"[..], b"file,t_ms,src_frame", b"file,t_ms\n\n\n"] {
            let (_tmp, dir) = clip_dir(&[("manifest.csv", manifest)]);
            let e = Clip::load(&dir).unwrap_err();
            assert!(matches!(&e, ClipError::Empty(d) if d == &dir), "{e:?}");
            assert!(e.to_string().ends_with("clip: manifest.csv lists no frame (a header and no rows)"), "{e}");
        }
    }

    #[test]
    fn an_empty_manifest_file_is_a_csv_error() {
        let (_tmp, dir) = clip_dir(&[("manifest.csv", b"")]);
        assert!(matches!(Clip::load(&dir), Err(ClipError::Csv { source, .. }) if source.line == 1));
    }
}
