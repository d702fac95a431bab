//! Many scenarios: find the files, load them all (any error stops the run
//! before anything runs), filter by tag, run each on a freshly opened
//! target, and hand every report to a [`Reporter`].

use std::path::{Path, PathBuf};

use crate::report::Reporter;
use crate::runner::{self, ClipCache, ScenarioReport};
use crate::scenario::{self, Scenario, ScenarioError};
use crate::target::TargetSpec;

/// Which scenarios to run, and where.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Only scenarios with at least one of these tags (all when empty).
    pub tags: Vec<String>,
}

/// Why a run could not start (exit code 2).
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SuiteError {
    /// A path is neither a scenario file nor a folder.
    #[error("{0}: cannot read: {1}")]
    Path(PathBuf, std::io::Error),
    /// A scenario file is malformed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Scenario(#[from] Box<ScenarioError>),
    /// No scenario matched.
    #[error("no scenario selected (paths: {0})")]
    Empty(String),
}

/// The `*.toml` files under `paths` (folders are searched recursively),
/// sorted, each once.
///
/// # Errors
/// A path that cannot be read.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, SuiteError> {
    let mut out = Vec::new();
    for p in paths {
        collect(p, &mut out)?;
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn collect(path: &Path, out: &mut Vec<PathBuf>) -> Result<(), SuiteError> {
    let meta = std::fs::metadata(path).map_err(|e| SuiteError::Path(path.into(), e))?;
    if meta.is_file() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let entries = std::fs::read_dir(path).map_err(|e| SuiteError::Path(path.into(), e))?;
    for entry in entries {
        let p = entry.map_err(|e| SuiteError::Path(path.into(), e))?.path();
        if p.is_dir() || p.extension().is_some_and(|e| e == "toml") {
            collect(&p, out)?;
        }
    }
    Ok(())
}

/// Loads every file; the first malformed one is an error.
///
/// # Errors
/// [`SuiteError::Scenario`] with file, line and column.
pub fn load_all(files: &[PathBuf], selection: &Selection) -> Result<Vec<Scenario>, SuiteError> {
    let mut out = Vec::new();
    for f in files {
        let s = scenario::load(f).map_err(Box::new)?;
        if selection.tags.is_empty() || s.tags.iter().any(|t| selection.tags.contains(t)) {
            out.push(s);
        }
    }
    Ok(out)
}

/// Totals of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Scenarios that passed.
    pub passed: usize,
    /// Scenarios that failed.
    pub failed: usize,
}

/// Runs `scenarios` one after another, each on a target opened for it.
pub async fn run(
    scenarios: &[Scenario],
    target: &TargetSpec,
    reporter: &mut dyn Reporter,
) -> (Summary, Vec<ScenarioReport>) {
    let clips = ClipCache::default();
    let mut summary = Summary::default();
    let mut reports = Vec::with_capacity(scenarios.len());
    for s in scenarios {
        let report = match target.open(&s.needs).await {
            Ok(t) => runner::run(s, t.as_ref(), &clips).await,
            Err(e) => runner::ScenarioReport::not_started(s, &target.to_string(), e.to_string()),
        };
        if report.passed() {
            summary.passed += 1;
        } else {
            summary.failed += 1;
        }
        reporter.scenario(&report);
        reports.push(report);
    }
    reporter.summary(&summary);
    (summary, reports)
}
