//! Scenario files: TOML in, checked [`Scenario`] out.
//!
//! The language is documented with an example per step in
//! `docs/scenarios.md`. Everything is checked when the file is loaded,
//! before anything runs: unknown keys, a step with no action or two, bad
//! matchers, a fixture or a frame that does not exist, a wait longer than
//! its step's timeout. Errors name the file, line and column
//! ([`ScenarioError`]). Each step kind parses and checks its own table
//! ([`crate::steps`]); this module reads the scenario around them: its
//! name, tags, fixture, `[config]` and `include`d step files.

// The error carries the file's text for miette; it is made once per load,
// never on a hot path.
#![allow(clippy::result_large_err)]

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use cam_core::settings::DetectorChange;

use crate::faults::FaultPlan;
pub use crate::steps::Step;

/// Per-step timeout when neither the step nor the scenario sets one, in ms.
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;

/// A checked scenario, ready to run.
#[derive(Debug)]
pub struct Scenario {
    /// The file it came from.
    pub path: PathBuf,
    /// `name`, or the file stem.
    pub name: String,
    /// `tags`; `protocol` marks scenarios any correct cam must pass.
    pub tags: Vec<String>,
    /// The default clip folder for `replay` and `expect_snapshot` steps,
    /// resolved against the scenario file's folder.
    pub fixture: Option<PathBuf>,
    /// `[config] threshold`, applied with `set_threshold` before the steps.
    pub threshold: Option<f64>,
    /// `[config] detector`, applied with `set_detector` before the steps:
    /// any of the keys in [`cam_core::settings::DETECTOR_KEYS`], checked as
    /// the cam checks them.
    pub detector: Option<DetectorChange>,
    /// What the scenario needs of its target.
    pub needs: Needs,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

/// What a scenario needs of the cam it runs on. A target that cannot give
/// it skips the scenario, saying why ([`crate::target::Serves`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Needs {
    /// `[config] auth = true`: the cam must require a token (a simulator
    /// target starts with one; a cam at a URL must be given `--token`).
    pub token: bool,
    /// `[config] keepalive_ms`: a simulator target starts with this
    /// keep-alive period; a cam at a URL keeps its own.
    pub keepalive: Option<Duration>,
    /// `[config] tls = true`: the cam must serve `https://` (a simulator
    /// target serves a fresh self-signed certificate the harness trusts).
    pub tls: bool,
    /// A step reads the serial console (`expect_console`): a simulator
    /// target then prints one on a pseudo-terminal (a board always has one).
    pub console: bool,
    /// A step reads a file from the cam's storage (`expect_snapshot`).
    pub storage: bool,
    /// A step speaks raw HTTP on TCP (`bad_input`): the cam must serve
    /// `http://`.
    pub plain_http: bool,
    /// A step resets the cam (`reboot`), or the fault plan does.
    pub reset: bool,
    /// `[config] fault_plan = { … }` (or `cam-hil run --fault-plan`): the
    /// faults the harness applies ([`FaultPlan`]).
    pub fault_plan: Option<FaultPlan>,
    /// `[config] retry_ms`: a simulator target sends this SSE `retry` (ms);
    /// a cam at a URL keeps its own.
    pub retry_ms: Option<u64>,
    /// `[config] connection_limits = true`: the scenario checks a cam's own
    /// connection limits (the firmware's: 2 SSE clients, 4 connections);
    /// the simulator has none, so it skips the scenario.
    pub connection_limits: bool,
}

impl Needs {
    /// Whether the scenario needs the cam reset mid-run (a `reboot` step, or
    /// its fault plan reboots it).
    pub fn reset(&self) -> bool {
        self.reset || self.fault_plan.as_ref().is_some_and(FaultPlan::resets)
    }
}

/// An error in a scenario file: where and what. Renders as
/// `path:line:col: message`, or as a miette diagnostic with the source.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{}:{line}:{col}: {message}", path.display())]
pub struct ScenarioError {
    /// The scenario file.
    pub path: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
    /// What is wrong.
    pub message: String,
    #[source_code]
    src: miette::NamedSource<String>,
    #[label("{message}")]
    span: Option<miette::SourceSpan>,
}

impl ScenarioError {
    pub(crate) fn new(path: &Path, src: &str, span: Option<Range<usize>>, message: impl Into<String>) -> Self {
        let offset = span.as_ref().map_or(0, |s| s.start.min(src.len()));
        let before = &src[..offset];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        Self {
            path: path.to_path_buf(),
            line,
            col,
            message: message.into(),
            src: miette::NamedSource::new(path.display().to_string(), src.to_string()),
            span: span.map(|s| (s.start, s.end.saturating_sub(s.start)).into()),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Option<String>,
    #[allow(dead_code)]
    description: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    fixture: Option<Spanned<String>>,
    timeout_ms: Option<u64>,
    #[serde(default)]
    config: RawConfig,
    #[serde(default, rename = "step")]
    steps: Vec<Spanned<crate::steps::RawKeys>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    threshold: Option<Spanned<f64>>,
    #[serde(default)]
    auth: bool,
    keepalive_ms: Option<u64>,
    #[serde(default)]
    tls: bool,
    detector: Option<Spanned<DetectorChange>>,
    fault_plan: Option<Spanned<FaultPlan>>,
    retry_ms: Option<u64>,
    #[serde(default)]
    connection_limits: bool,
}

/// Loads and checks one scenario file.
///
/// # Errors
/// [`ScenarioError`] naming file, line and column: the file cannot be read,
/// is not valid TOML, has unknown keys, a step without exactly one action,
/// a bad matcher, a missing fixture, a frame index past its end, a wait
/// longer than its step's timeout.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let src =
        std::fs::read_to_string(path).map_err(|e| ScenarioError::new(path, "", None, format!("cannot read: {e}")))?;
    parse(path, &src)
}

/// Checks scenario text as if read from `path` (which locates fixtures).
///
/// # Errors
/// As [`load`].
pub fn parse(path: &Path, src: &str) -> Result<Scenario, ScenarioError> {
    let err = |span: Option<Range<usize>>, msg: String| ScenarioError::new(path, src, span, msg);
    let raw: RawScenario = toml::from_str(src).map_err(|e| err(e.span(), e.message().to_string()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let fixture = match &raw.fixture {
        Some(f) => Some(check_clip(base, f.get_ref()).map_err(|m| err(Some(f.span()), m))?),
        None => None,
    };
    let scenario_timeout = raw.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS);
    let threshold = match raw.config.threshold {
        Some(t) if !(0.0..=1.0).contains(t.get_ref()) => {
            return Err(err(Some(t.span()), "threshold must be in [0, 1]".into()));
        }
        t => t.map(Spanned::into_inner),
    };
    if raw.steps.is_empty() {
        return Err(err(None, "no [[step]] tables: a scenario needs at least one step".into()));
    }
    let mut steps = Vec::with_capacity(raw.steps.len());
    let ctx = StepContext { fixture: fixture.as_deref(), timeout_ms: scenario_timeout };
    parse_steps(path, None, src, raw.steps, &ctx, 0, &mut steps)?;
    if steps.is_empty() {
        return Err(err(None, "no steps: the included files hold no [[step]] table".into()));
    }
    let name =
        raw.name.unwrap_or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default());
    let fault_plan = match raw.config.fault_plan {
        Some(p) => {
            let span = p.span();
            let plan = p.into_inner();
            plan.check().map_err(|m| err(Some(span), m))?;
            Some(plan)
        }
        None => None,
    };
    let mut needs = Needs {
        token: raw.config.auth,
        keepalive: raw.config.keepalive_ms.map(Duration::from_millis),
        tls: raw.config.tls,
        console: false,
        storage: false,
        plain_http: false,
        reset: false,
        fault_plan,
        retry_ms: raw.config.retry_ms,
        connection_limits: raw.config.connection_limits,
    };
    for step in &steps {
        step.action.needs(&mut needs);
    }
    let detector = raw.config.detector.map(Spanned::into_inner);
    Ok(Scenario { path: path.to_path_buf(), name, tags: raw.tags, fixture, threshold, detector, needs, steps })
}

/// What steps inherit from their scenario.
struct StepContext<'a> {
    fixture: Option<&'a Path>,
    timeout_ms: u64,
}

/// Includes nested deeper than this are refused (a cycle, most likely).
const MAX_INCLUDE_DEPTH: usize = 8;

/// A file of shared steps for `include`: only `[[step]]` tables.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStepsFile {
    #[allow(dead_code)]
    description: Option<String>,
    #[serde(default, rename = "step")]
    steps: Vec<Spanned<crate::steps::RawKeys>>,
}

/// Checks `raw` steps of the file at `path` (whose text is `src`; `shown`
/// is how labels name it, `None` for the scenario file) and appends them to
/// `out`, splicing in the steps of `include`d files.
fn parse_steps(
    path: &Path,
    shown: Option<&Path>,
    src: &str,
    raw: Vec<Spanned<crate::steps::RawKeys>>,
    ctx: &StepContext<'_>,
    depth: usize,
    out: &mut Vec<Step>,
) -> Result<(), ScenarioError> {
    let err = |span: Option<Range<usize>>, msg: String| ScenarioError::new(path, src, span, msg);
    let base = path.parent().unwrap_or(Path::new("."));
    for spanned in raw {
        let span = spanned.span();
        let line = src[..span.start.min(src.len())].matches('\n').count() + 1;
        let keys = spanned.into_inner();
        let text = |key: &str| keys.iter().find(|(k, _)| k.get_ref() == key).map(|(_, v)| v.clone());
        if let Some(inc) = text("include") {
            if keys.len() > 1 {
                return Err(err(Some(span), "an `include` step holds nothing else".into()));
            }
            let ispan = inc.span();
            let Some(rel) = inc.get_ref().as_str().map(str::to_string) else {
                return Err(err(Some(ispan), "`include` is the path of a steps file".into()));
            };
            if depth >= MAX_INCLUDE_DEPTH {
                return Err(err(Some(ispan), format!("includes nested more than {MAX_INCLUDE_DEPTH} deep (a cycle?)")));
            }
            let ipath = base.join(&rel);
            let isrc = std::fs::read_to_string(&ipath)
                .map_err(|e| err(Some(ispan.clone()), format!("cannot read {}: {e}", ipath.display())))?;
            let iraw: RawStepsFile = toml::from_str(&isrc).map_err(|e| {
                ScenarioError::new(
                    &ipath,
                    &isrc,
                    e.span(),
                    format!("{} (an included file holds only [[step]] tables)", e.message()),
                )
            })?;
            let shown = shown.map_or_else(|| PathBuf::from(&rel), |s| s.parent().unwrap_or(Path::new("")).join(&rel));
            parse_steps(&ipath, Some(&shown), &isrc, iraw.steps, ctx, depth + 1, out)?;
            continue;
        }
        let timeout_ms = match text("timeout_ms") {
            None => ctx.timeout_ms,
            Some(v) => match v.get_ref().as_integer() {
                Some(ms) if ms > 0 => ms as u64,
                _ => return Err(err(Some(v.span()), "`timeout_ms` is a whole number of ms above 0".into())),
            },
        };
        let name = match text("name") {
            None => None,
            Some(v) => match v.get_ref().as_str() {
                Some(n) => Some(n.to_string()),
                None => return Err(err(Some(v.span()), "`name` is text".into())),
            },
        };
        let timeout = Duration::from_millis(timeout_ms);
        let action = crate::steps::parse(path, src, span, keys, ctx.fixture, timeout)?;
        let file = shown.map(Path::to_path_buf);
        out.push(Step { index: out.len() + 1, line, file, name, timeout, action });
    }
    Ok(())
}

/// The clip folder `base/name`, if its manifest and frames are there.
///
/// # Errors
/// Why the clip is unusable.
pub fn check_clip(base: &Path, name: &str) -> Result<PathBuf, String> {
    let dir = base.join(name);
    clip_len(&dir).map(|_| dir)
}

/// Number of frames in `dir/manifest.csv`, or why the clip is unusable (a
/// manifest with no rows among the reasons).
///
/// # Errors
/// The manifest cannot be read or parsed, lists no frame, or names a frame
/// file that is missing ([`footage::check`]).
pub fn clip_len(dir: &Path) -> Result<usize, String> {
    Ok(clip_times(dir)?.len())
}

/// The capture times (ms from the clip's start) of the frames in
/// `dir/manifest.csv`, in manifest order.
///
/// # Errors
/// As [`clip_len`].
pub fn clip_times(dir: &Path) -> Result<Vec<u64>, String> {
    let rows = footage::check(dir).map_err(|e| format!("fixture {}: {e}", dir.display()))?;
    Ok(rows.iter().map(|r| r.t_ms).collect())
}
