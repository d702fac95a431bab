//! Parsing of a recorded clip's `manifest.csv` and `labels.csv` (text in,
//! rows out; reading the files is the caller's job).
//!
//! Source: `fixtures/README.md`. `manifest.csv` is `file,t_ms,src_frame`
//! with `t_ms` the capture time in ms from the first frame; `labels.csv`
//! has a `file` column and a `motion` column (1 = something moves).

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

/// One row of `manifest.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestRow {
    /// Frame file name inside the clip folder, e.g. `frame_00000.jpg`.
    pub file: String,
    /// Capture time in ms from the clip's first frame.
    pub t_ms: u64,
}

/// A malformed CSV line: 1-based line number and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvError {
    /// 1-based line number in the file.
    pub line: usize,
    /// What is wrong there.
    pub message: String,
}

impl fmt::Display for CsvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl core::error::Error for CsvError {}

fn header_index(header: &str, name: &str) -> Result<usize, CsvError> {
    header
        .split(',')
        .position(|h| h.trim() == name)
        .ok_or(CsvError { line: 1, message: alloc::format!("no `{name}` column in header `{header}`") })
}

fn rows(text: &str) -> impl Iterator<Item = (usize, Vec<&str>)> {
    text.lines()
        .enumerate()
        .skip(1)
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| (i + 1, l.split(',').map(str::trim).collect()))
}

/// Parses `manifest.csv`. Rows keep file order; `t_ms` must not decrease.
///
/// # Errors
/// A missing `file`/`t_ms` column, a short row, a `t_ms` that is not a
/// whole number or goes backwards.
pub fn parse_manifest(text: &str) -> Result<Vec<ManifestRow>, CsvError> {
    let header = text.lines().next().unwrap_or("");
    let (fi, ti) = (header_index(header, "file")?, header_index(header, "t_ms")?);
    let mut out: Vec<ManifestRow> = Vec::new();
    for (line, cols) in rows(text) {
        let err = |message: String| CsvError { line, message };
        let file = cols.get(fi).ok_or_else(|| err("missing `file`".into()))?;
        let t = cols.get(ti).ok_or_else(|| err("missing `t_ms`".into()))?;
        let t_ms: u64 = t.parse().map_err(|_| err(alloc::format!("`t_ms` {t:?} is not ms")))?;
        if out.last().is_some_and(|p| p.t_ms > t_ms) {
            return Err(err("`t_ms` goes backwards".into()));
        }
        out.push(ManifestRow { file: file.to_string(), t_ms });
    }
    Ok(out)
}

/// Parses `labels.csv` into `(file, motion)` pairs in file order. A row
/// whose `motion` cell is empty is a frame nobody could judge: it has no
/// pair, so the frame is not scored (`fixtures/README.md`, "Labelling a
/// clip of your own").
///
/// # Errors
/// A missing `file`/`motion` column, a row too short to have a `motion`
/// cell, or a `motion` value other than 0, 1 or empty.
pub fn parse_labels(text: &str) -> Result<Vec<(String, bool)>, CsvError> {
    Ok(label_rows(text)?.into_iter().filter_map(|(_, file, motion)| Some((file, motion?))).collect())
}

/// The label of every row of `manifest`, in its order, from `labels.csv`'s
/// `text`: matched by file name, not by row; `None` for a frame without a
/// row or with an empty `motion` cell.
///
/// # Errors
/// As [`parse_labels`]; also a row naming a file that is not in the
/// manifest (a label that would be lost), with its line.
pub fn labels_for(manifest: &[ManifestRow], text: &str) -> Result<Vec<Option<bool>>, CsvError> {
    let index: BTreeMap<&str, usize> = manifest.iter().enumerate().map(|(i, r)| (r.file.as_str(), i)).collect();
    let mut labels = alloc::vec![None; manifest.len()];
    for (line, file, motion) in label_rows(text)? {
        let Some(&i) = index.get(file.as_str()) else {
            return Err(CsvError { line, message: alloc::format!("`{file}` is not a frame of manifest.csv") });
        };
        labels[i] = motion;
    }
    Ok(labels)
}

/// Every row of `labels.csv` as `(line, file, motion)`, `None` for an
/// empty `motion` cell.
fn label_rows(text: &str) -> Result<Vec<(usize, String, Option<bool>)>, CsvError> {
    let header = text.lines().next().unwrap_or("");
    let (fi, mi) = (header_index(header, "file")?, header_index(header, "motion")?);
    let mut out = Vec::new();
    for (line, cols) in rows(text) {
        let err = |message: &str| CsvError { line, message: message.into() };
        let file = cols.get(fi).ok_or_else(|| err("missing `file`"))?;
        let motion = match cols.get(mi).copied() {
            Some("1") => Some(true),
            Some("0") => Some(false),
            Some("") => None,
            None => return Err(err("missing `motion`")),
            _ => return Err(err("`motion` must be 0, 1 or empty")),
        };
        out.push((line, file.to_string(), motion));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_rows() {
        let m = parse_manifest("file,t_ms,src_frame\nf0.jpg,0,470\nf1.jpg,133,474\n").unwrap();
        assert_eq!(m[1], ManifestRow { file: "f1.jpg".into(), t_ms: 133 });
    }

    #[test]
    fn manifest_errors_name_the_line() {
        let e = parse_manifest("file,t_ms\na.jpg,0\nb.jpg,x\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(parse_manifest("name,t\n").is_err());
        assert_eq!(parse_manifest("file,t_ms\na,5\nb,4\n").unwrap_err().line, 3);
    }

    #[test]
    fn labels_rows() {
        let l = parse_labels("file,x,motion\na.jpg,0.1,0\nb.jpg,0.2,1\n").unwrap();
        assert_eq!(l, [("a.jpg".into(), false), ("b.jpg".into(), true)]);
        assert_eq!(parse_labels("file,motion\na,2\n").unwrap_err().line, 2);
        // An empty cell is a frame nobody could judge: no pair, not an error.
        let l = parse_labels("file,t_ms,motion\na.jpg,0,0\nb.jpg,200,\nc.jpg,400,1\n").unwrap();
        assert_eq!(l, [("a.jpg".into(), false), ("c.jpg".into(), true)]);
        let e = parse_labels("file,t_ms,motion\na.jpg,0\n").unwrap_err();
        assert_eq!((e.line, e.message.as_str()), (2, "missing `motion`"));
        assert_eq!(parse_labels("file,motion\na, x\n").unwrap_err().message, "`motion` must be 0, 1 or empty");
    }

    #[test]
    fn labels_follow_the_manifest_by_file_name_and_none_is_lost() {
        let manifest = parse_manifest("file,t_ms\na.jpg,0\nb.jpg,200\nc.jpg,400\n").unwrap();
        // Out of order, one empty cell, one frame without a row.
        let l = labels_for(&manifest, "file,motion\nc.jpg,1\na.jpg,\n").unwrap();
        assert_eq!(l, [None, None, Some(true)]);
        let e = labels_for(&manifest, "file,motion\na.jpg,0\nd.jpg,1\n").unwrap_err();
        assert_eq!((e.line, e.message.as_str()), (3, "`d.jpg` is not a frame of manifest.csv"));
    }
}
