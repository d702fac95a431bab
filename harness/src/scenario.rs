//! Scenario files: TOML in, checked [`Scenario`] out.
//!
//! The language is documented with an example per step in
//! `docs/scenarios.md`. Everything is checked when the file is loaded,
//! before anything runs: unknown keys, a step with no action or two, bad
//! matchers, a fixture or a frame that does not exist. Errors name the file,
//! line and column ([`ScenarioError`]).

// The error carries the file's text for miette; it is made once per load,
// never on a hot path.
#![allow(clippy::result_large_err)]

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use toml::Spanned;

use crate::matcher::Matcher;

/// Per-step timeout when neither the step nor the scenario sets one, in ms.
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;

/// A checked scenario, ready to run.
#[derive(Debug, Clone)]
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
    /// `[config] detector`, applied with `set_detector` before the steps
    /// (a JSON object of `cell_px`, `cell_delta`, `compensate_lighting`,
    /// `lightswitch`, `min_motion_frames`, `event_gap_ms`, `tolerate_shake`).
    pub detector: Option<Value>,
    /// What the scenario needs of its target (`[config] auth`, `keepalive_ms`).
    pub needs: Needs,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

/// What a scenario needs of the cam it runs on.
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
    /// A step reads the serial console: a simulator target then prints one
    /// on a pseudo-terminal (a board always has one).
    pub console: bool,
    /// `[config] fault_plan = { … }`: a simulator target starts with these
    /// injected faults ([`cam_sim::FaultPlan`]); other targets cannot run
    /// the scenario.
    pub fault_plan: Option<cam_sim::FaultPlan>,
    /// `[config] retry_ms`: a simulator target sends this SSE `retry` (ms);
    /// a cam at a URL keeps its own.
    pub retry_ms: Option<u64>,
    /// `[config] connection_limits = true`: the scenario checks a cam's own
    /// connection limits (the firmware's: 2 SSE clients, 4 connections);
    /// the simulator has none, so it skips the scenario.
    pub connection_limits: bool,
}

/// Which credentials a request carries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Auth {
    /// The target's token, if it has one (the default).
    #[default]
    Target,
    /// No token at all (`no_token = true`).
    None,
    /// This token instead (`token = "…"`).
    Token(String),
}

/// Credentials of an `http` or `ws_connect` step.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Credentials {
    /// Which token.
    pub auth: Auth,
    /// Send it as `?token=` instead of `Authorization: Bearer`
    /// (`token_in = "query"`).
    pub in_query: bool,
}

/// Where a reconnecting SSE stream resumes (`sse_connect`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResumeFrom {
    /// `Last-Event-ID` = the id of the last event received (the default).
    LastReceived,
    /// No `Last-Event-ID` (`resume = false`).
    Fresh,
    /// This `Last-Event-ID` (`last_event_id = "…"`).
    Id(String),
}

/// What must come back for a WebSocket message.
#[derive(Debug, Clone)]
pub enum Reply {
    /// One text frame, matching (`expect_ack`; `None`: any ack).
    Ack(Option<Matcher>),
    /// The cam closes the connection with this code (`expect_close`).
    Close(u16),
}

/// One step: what to do, and how long it may take.
#[derive(Debug, Clone)]
pub struct Step {
    /// 1-based position in the scenario, counting included steps.
    pub index: usize,
    /// Line of its `[[step]]` table.
    pub line: usize,
    /// The included file it comes from (`None`: the scenario file).
    pub file: Option<PathBuf>,
    /// `name`, if given.
    pub name: Option<String>,
    /// Its time limit (`timeout_ms`, or the scenario's, or 10 s).
    pub timeout: Duration,
    /// What it does.
    pub action: Action,
}

impl Step {
    /// `step 3 (expect_events, line 14)` or with its name.
    pub fn label(&self) -> String {
        let at = match &self.file {
            Some(f) => format!("{} line {}", f.display(), self.line),
            None => format!("line {}", self.line),
        };
        match &self.name {
            Some(n) => format!("step {} `{n}` ({}, {at})", self.index, self.action.kind()),
            None => format!("step {} ({}, {at})", self.index, self.action.kind()),
        }
    }
}

/// How a `replay` step paces frames.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// Each frame as soon as the previous one is acked.
    Acked,
    /// At the recorded capture times divided by the speed factor.
    Recorded(f64),
}

/// What a WebSocket `send` step sends.
#[derive(Debug, Clone, PartialEq)]
pub enum Outgoing {
    /// A TOML table or value, sent as JSON text.
    Json(Value),
    /// Text sent as it is (for bad-JSON checks).
    Text(String),
    /// A binary frame (`send_binary = [1, 2, 3]`).
    Binary(Vec<u8>),
    /// A text frame holding these bytes, UTF-8 or not (`send_raw_text`).
    RawText(Vec<u8>),
}

/// A step's action.
#[derive(Debug, Clone)]
pub enum Action {
    /// Inject frames `from..=to` (manifest indices) of `clip`.
    Replay {
        /// The clip folder.
        clip: PathBuf,
        /// First frame index (0-based manifest row).
        from: usize,
        /// Last frame index, inclusive.
        to: usize,
        /// Pacing.
        pace: Pace,
    },
    /// Send one WebSocket message and read what comes back.
    Command {
        /// What to send.
        send: Outgoing,
        /// What must come back.
        expect: Reply,
    },
    /// Open the control WebSocket with these credentials; with
    /// `expect_status` the upgrade must be refused with that HTTP status.
    WsConnect {
        /// Token to send.
        credentials: Credentials,
        /// Expected refusal status (`None`: the upgrade must succeed).
        status: Option<u16>,
        /// `expect_reset = true`: the cam must reset the connection before
        /// answering (no free connection slot); tried once.
        reset: bool,
    },
    /// Send a WebSocket ping; the pong must carry the same payload.
    Ping {
        /// Ping payload.
        payload: String,
    },
    /// Close the control WebSocket; the cam must answer the close.
    WsClose,
    /// Open more clients of the cam and keep them until the scenario ends:
    /// `sse` reading `GET /events` streams and `stalled_sse` ones that never
    /// read past the headers (each must be answered 200), `ws` silent
    /// WebSockets (each upgraded), and `idle` TCP connections that never send
    /// a byte.
    Hold {
        /// Silent WebSocket clients.
        ws: usize,
        /// SSE clients that read everything.
        sse: usize,
        /// SSE clients that stop reading after the response headers.
        stalled_sse: usize,
        /// Connections that never speak.
        idle: usize,
    },
    /// Cut the SSE stream (the client goes away without a word).
    SseDisconnect,
    /// Open the SSE stream again.
    SseConnect {
        /// `Last-Event-ID` to send.
        resume: ResumeFrom,
    },
    /// The next SSE comment arriving after the step starts has this text.
    ExpectComment {
        /// Comment text, e.g. `keepalive`.
        text: String,
    },
    /// Expect SSE events among those not yet consumed by an earlier
    /// `expect_*` step, once the stream has delivered the events for every
    /// frame the target acked as motion.
    ExpectEvents {
        /// SSE event name (default `motion`).
        event: String,
        /// Fewest events.
        min: usize,
        /// Most events.
        max: Option<usize>,
        /// What every event's data must match.
        fields: Option<Matcher>,
        /// What the first event's data must match.
        first: Option<Matcher>,
        /// What the last event's data must match.
        last: Option<Matcher>,
        /// Latency bound: each `motion` event must arrive within this many
        /// ms of the injection of the frame it reports (its `frame` field).
        within_ms: Option<f64>,
    },
    /// Against the ground truth of the frames injected so far (their
    /// clips' `labels.csv`): no `motion` event from a frame in a run of
    /// frames labelled 0, at least one from each run labelled 1. Runs
    /// shorter than `min_run` frames, and `tolerance` frames at each
    /// labelled run's edges, are not judged.
    ExpectLabels {
        /// Frames at the start and end of each run that are not judged.
        tolerance: usize,
        /// Shortest run judged, in frames.
        min_run: usize,
    },
    /// The next console line (after those an earlier `expect_console` step
    /// consumed) matching `regex`; consumes it and those before it.
    ExpectConsole {
        /// What the line must match.
        regex: regex::Regex,
    },
    /// Changes the cam's configuration mid-scenario (`set_threshold`).
    Config {
        /// New threshold, in `[0, 1]`.
        threshold: f64,
    },
    /// The cam rebooted: a `restart` event arrives (or has arrived since
    /// the last `expect_restart`), the stream has caught up, and at most
    /// `max_lost` acked `motion` events were lost in the reboot. Without
    /// this step a `restart` event fails the next `expect_*` step.
    ExpectRestart {
        /// Acked events that may never arrive (default 0).
        max_lost: usize,
    },
    /// No SSE event beyond those already consumed, once the stream has
    /// caught up, and none for `for_ms` more.
    ExpectNoEvent {
        /// Extra span to watch, in ms (0: just the catch-up).
        for_ms: u64,
    },
    /// The file named by the last ack's `saved` exists on the target and
    /// holds exactly this frame of the scenario's fixture.
    ExpectSnapshot {
        /// Frame index in the fixture.
        frame: usize,
    },
    /// One HTTP request and its expected reply.
    Http {
        /// Token to send.
        credentials: Credentials,
        /// `GET`, `POST`, …
        method: String,
        /// Path and query, e.g. `/status`.
        path: String,
        /// Request body.
        body: Option<String>,
        /// Expected status code.
        status: Option<u16>,
        /// What the JSON body must match.
        json: Option<Matcher>,
        /// Expected `Content-Type` prefix.
        content_type: Option<String>,
        /// `close = true`: send `Connection: close`, so the cam closes this
        /// connection after its reply rather than keep it for the next
        /// request (a cam with few connection slots then has one free).
        close: bool,
    },
}

impl Action {
    /// The step keyword, e.g. `replay`.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Replay { .. } => "replay",
            Action::Command { .. } => "send",
            Action::WsConnect { .. } => "ws_connect",
            Action::Hold { .. } => "hold",
            Action::Ping { .. } => "ping",
            Action::WsClose => "ws_close",
            Action::SseDisconnect => "sse_disconnect",
            Action::SseConnect { .. } => "sse_connect",
            Action::ExpectComment { .. } => "expect_comment",
            Action::ExpectEvents { .. } => "expect_events",
            Action::ExpectNoEvent { .. } => "expect_no_event",
            Action::ExpectRestart { .. } => "expect_restart",
            Action::ExpectLabels { .. } => "expect_labels",
            Action::Config { .. } => "config",
            Action::ExpectConsole { .. } => "expect_console",
            Action::ExpectSnapshot { .. } => "expect_snapshot",
            Action::Http { .. } => "http",
        }
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
    fn new(path: &Path, src: &str, span: Option<Range<usize>>, message: impl Into<String>) -> Self {
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
    steps: Vec<Spanned<RawStep>>,
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
    detector: Option<Spanned<RawDetector>>,
    fault_plan: Option<cam_sim::FaultPlan>,
    retry_ms: Option<u64>,
    #[serde(default)]
    connection_limits: bool,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Empty {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHold {
    #[serde(default)]
    sse: usize,
    #[serde(default)]
    stalled_sse: usize,
    #[serde(default)]
    ws: usize,
    #[serde(default)]
    idle: usize,
}

#[derive(Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct RawDetector {
    #[serde(skip_serializing_if = "Option::is_none")]
    cell_px: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cell_delta: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    compensate_lighting: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lightswitch: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    min_motion_frames: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event_gap_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tolerate_shake: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    include: Option<Spanned<String>>,
    name: Option<String>,
    timeout_ms: Option<u64>,
    replay: Option<Spanned<RawReplay>>,
    send: Option<Spanned<toml::Value>>,
    send_text: Option<String>,
    repeat: Option<usize>,
    send_binary: Option<Vec<u8>>,
    send_raw_text: Option<Vec<u8>>,
    expect_ack: Option<Spanned<toml::Value>>,
    expect_close: Option<u16>,
    ws_connect: Option<RawCredentials>,
    expect_reset: Option<bool>,
    hold: Option<RawHold>,
    ping: Option<String>,
    ws_close: Option<Empty>,
    sse_disconnect: Option<Empty>,
    sse_connect: Option<RawSseConnect>,
    expect_comment: Option<RawComment>,
    expect_events: Option<RawExpectEvents>,
    expect_no_event: Option<RawNoEvent>,
    expect_restart: Option<RawRestart>,
    expect_labels: Option<RawLabels>,
    config: Option<RawStepConfig>,
    expect_console: Option<RawConsole>,
    expect_snapshot: Option<Spanned<RawSnapshot>>,
    http: Option<RawHttp>,
    expect_status: Option<u16>,
    expect_json: Option<Spanned<toml::Value>>,
    expect_content_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReplay {
    fixture: Option<String>,
    from: Option<usize>,
    to: Option<usize>,
    #[serde(default)]
    pace: RawPace,
    speed: Option<f64>,
}

#[derive(Deserialize, Default, PartialEq)]
#[serde(rename_all = "lowercase")]
enum RawPace {
    #[default]
    Acked,
    Recorded,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpectEvents {
    event: Option<String>,
    count: Option<usize>,
    min: Option<usize>,
    max: Option<usize>,
    fields: Option<Spanned<toml::Value>>,
    first: Option<Spanned<toml::Value>>,
    last: Option<Spanned<toml::Value>>,
    within_ms: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLabels {
    #[serde(default)]
    tolerance: usize,
    #[serde(default = "one")]
    min_run: usize,
}

fn one() -> usize {
    1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConsole {
    regex: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStepConfig {
    threshold: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNoEvent {
    #[serde(default)]
    for_ms: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRestart {
    #[serde(default)]
    max_lost: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSnapshot {
    frame: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSseConnect {
    last_event_id: Option<String>,
    resume: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawComment {
    text: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawCredentials {
    token: Option<String>,
    #[serde(default)]
    no_token: bool,
    token_in: Option<TokenIn>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    #[serde(default = "get")]
    method: String,
    path: String,
    body: Option<String>,
    token: Option<String>,
    #[serde(default)]
    no_token: bool,
    token_in: Option<TokenIn>,
    #[serde(default)]
    close: bool,
}

#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "lowercase")]
enum TokenIn {
    Header,
    Query,
}

fn get() -> String {
    "GET".into()
}

fn credentials(token: Option<String>, no_token: bool, token_in: Option<TokenIn>) -> Result<Credentials, String> {
    let auth = match (token, no_token) {
        (Some(_), true) => return Err("`token` and `no_token` exclude each other".into()),
        (Some(t), false) => Auth::Token(t),
        (None, true) => Auth::None,
        (None, false) => Auth::Target,
    };
    Ok(Credentials { auth, in_query: token_in == Some(TokenIn::Query) })
}

/// Loads and checks one scenario file.
///
/// # Errors
/// [`ScenarioError`] naming file, line and column: the file cannot be read,
/// is not valid TOML, has unknown keys, a step without exactly one action,
/// a bad matcher, a missing fixture or a frame index past its end.
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
    let needs = Needs {
        token: raw.config.auth,
        keepalive: raw.config.keepalive_ms.map(Duration::from_millis),
        tls: raw.config.tls,
        console: false,
        fault_plan: raw.config.fault_plan.clone(),
        retry_ms: raw.config.retry_ms,
        connection_limits: raw.config.connection_limits,
    };
    if raw.steps.is_empty() {
        return Err(err(None, "no [[step]] tables: a scenario needs at least one step".into()));
    }
    let mut steps = Vec::with_capacity(raw.steps.len());
    let ctx = StepContext { fixture: fixture.as_ref(), timeout_ms: scenario_timeout };
    parse_steps(path, None, src, raw.steps, &ctx, 0, &mut steps)?;
    let name =
        raw.name.unwrap_or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default());
    let needs = Needs { console: steps.iter().any(|s| matches!(s.action, Action::ExpectConsole { .. })), ..needs };
    let detector = match raw.config.detector {
        Some(d) => Some(serde_json::to_value(d.get_ref()).map_err(|e| err(Some(d.span()), e.to_string()))?),
        None => None,
    };
    Ok(Scenario { path: path.to_path_buf(), name, tags: raw.tags, fixture, threshold, detector, needs, steps })
}

/// What steps inherit from their scenario.
struct StepContext<'a> {
    fixture: Option<&'a PathBuf>,
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
    steps: Vec<Spanned<RawStep>>,
}

/// Checks `raw` steps of the file at `path` (whose text is `src`; `shown`
/// is how labels name it, `None` for the scenario file) and appends them to
/// `out`, splicing in the steps of `include`d files.
fn parse_steps(
    path: &Path,
    shown: Option<&Path>,
    src: &str,
    raw: Vec<Spanned<RawStep>>,
    ctx: &StepContext<'_>,
    depth: usize,
    out: &mut Vec<Step>,
) -> Result<(), ScenarioError> {
    let err = |span: Option<Range<usize>>, msg: String| ScenarioError::new(path, src, span, msg);
    let base = path.parent().unwrap_or(Path::new("."));
    for spanned in raw {
        let span = spanned.span();
        let line = src[..span.start.min(src.len())].matches('\n').count() + 1;
        let mut step = spanned.into_inner();
        if let Some(inc) = step.include.take() {
            if step_has_more_than_include(&step) {
                return Err(err(Some(span), "an `include` step holds nothing else".into()));
            }
            let (ispan, rel) = (inc.span(), inc.into_inner());
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
        let timeout = Duration::from_millis(step.timeout_ms.unwrap_or(ctx.timeout_ms));
        let name = step.name.clone();
        let action = step_action(step, base, ctx.fixture, &err, span)?;
        let file = shown.map(Path::to_path_buf);
        out.push(Step { index: out.len() + 1, line, file, name, timeout, action });
    }
    Ok(())
}

/// Whether a step with `include` also sets anything else.
fn step_has_more_than_include(s: &RawStep) -> bool {
    let RawStep {
        include: _,
        name,
        timeout_ms,
        replay,
        send,
        send_text,
        repeat,
        send_binary,
        send_raw_text,
        expect_ack,
        expect_close,
        ws_connect,
        expect_reset,
        hold,
        ping,
        ws_close,
        sse_disconnect,
        sse_connect,
        expect_comment,
        expect_events,
        expect_no_event,
        expect_restart,
        expect_labels,
        config,
        expect_console,
        expect_snapshot,
        http,
        expect_status,
        expect_json,
        expect_content_type,
    } = s;
    [name.is_some(), timeout_ms.is_some(), replay.is_some(), send.is_some(), send_text.is_some(), repeat.is_some()]
        .into_iter()
        .chain([send_binary.is_some(), send_raw_text.is_some(), expect_ack.is_some(), expect_close.is_some()])
        .chain([ws_connect.is_some(), ping.is_some(), ws_close.is_some(), sse_disconnect.is_some()])
        .chain([expect_reset.is_some(), hold.is_some()])
        .chain([sse_connect.is_some(), expect_comment.is_some(), expect_events.is_some(), expect_no_event.is_some()])
        .chain([expect_restart.is_some(), expect_labels.is_some(), config.is_some(), expect_console.is_some()])
        .chain([expect_snapshot.is_some(), http.is_some()])
        .chain([expect_status.is_some(), expect_json.is_some(), expect_content_type.is_some()])
        .any(|set| set)
}

/// The clip folder `base/name`, if its manifest and frames are there.
fn check_clip(base: &Path, name: &str) -> Result<PathBuf, String> {
    let dir = base.join(name);
    clip_len(&dir).map(|_| dir)
}

/// Number of frames in `dir/manifest.csv`, or why the clip is unusable.
fn clip_len(dir: &Path) -> Result<usize, String> {
    let manifest = dir.join("manifest.csv");
    let text = std::fs::read_to_string(&manifest)
        .map_err(|e| format!("fixture {}: cannot read manifest.csv: {e}", dir.display()))?;
    let rows =
        cam_core::fixture::parse_manifest(&text).map_err(|e| format!("fixture {}: manifest.csv {e}", dir.display()))?;
    for row in &rows {
        if !dir.join(&row.file).is_file() {
            return Err(format!("fixture {}: frame file {} is missing", dir.display(), row.file));
        }
    }
    Ok(rows.len())
}

fn matcher(
    value: Spanned<toml::Value>,
    err: &impl Fn(Option<Range<usize>>, String) -> ScenarioError,
) -> Result<Matcher, ScenarioError> {
    let span = value.span();
    let json = serde_json::to_value(value.into_inner()).map_err(|e| err(Some(span.clone()), e.to_string()))?;
    Matcher::compile(&json).map_err(|m| err(Some(span), format!("bad matcher: {m}")))
}

/// The step keywords that are actions; a step has exactly one.
const ACTIONS: &str = "replay, send, send_text, send_binary, send_raw_text, ws_connect, hold, ping, ws_close, \
                       sse_disconnect, sse_connect, expect_comment, expect_events, expect_no_event, \
                       expect_restart, expect_labels, config, expect_console, expect_snapshot, http";

fn step_action(
    step: RawStep,
    base: &Path,
    fixture: Option<&PathBuf>,
    err: &impl Fn(Option<Range<usize>>, String) -> ScenarioError,
    span: Range<usize>,
) -> Result<Action, ScenarioError> {
    let at = |msg: String| err(Some(span.clone()), msg);
    let set = [
        ("replay", step.replay.is_some()),
        ("send", step.send.is_some()),
        ("send_text", step.send_text.is_some()),
        ("send_binary", step.send_binary.is_some()),
        ("send_raw_text", step.send_raw_text.is_some()),
        ("ws_connect", step.ws_connect.is_some()),
        ("hold", step.hold.is_some()),
        ("ping", step.ping.is_some()),
        ("ws_close", step.ws_close.is_some()),
        ("sse_disconnect", step.sse_disconnect.is_some()),
        ("sse_connect", step.sse_connect.is_some()),
        ("expect_comment", step.expect_comment.is_some()),
        ("expect_events", step.expect_events.is_some()),
        ("expect_no_event", step.expect_no_event.is_some()),
        ("expect_restart", step.expect_restart.is_some()),
        ("expect_labels", step.expect_labels.is_some()),
        ("config", step.config.is_some()),
        ("expect_console", step.expect_console.is_some()),
        ("expect_snapshot", step.expect_snapshot.is_some()),
        ("http", step.http.is_some()),
    ];
    let chosen: Vec<&str> = set.iter().filter(|(_, on)| *on).map(|(k, _)| *k).collect();
    let kind = match chosen.as_slice() {
        [one] => *one,
        [] => {
            return Err(at(format!("this step has no action: give exactly one of {ACTIONS}")));
        }
        many => {
            return Err(at(format!("this step has more than one action ({}): give exactly one", many.join(", "))));
        }
    };
    let sends = matches!(kind, "send" | "send_text" | "send_binary" | "send_raw_text");
    let orphan = |key: &str, needs: &str| at(format!("`{key}` belongs with `{needs}`"));
    if step.expect_ack.is_some() && !sends {
        return Err(orphan("expect_ack", "send"));
    }
    if step.expect_close.is_some() && !sends {
        return Err(orphan("expect_close", "send"));
    }
    if step.repeat.is_some() && kind != "send_text" {
        return Err(orphan("repeat", "send_text"));
    }
    if step.expect_reset.is_some() && kind != "ws_connect" {
        return Err(orphan("expect_reset", "ws_connect"));
    }
    if step.expect_status.is_some() && !matches!(kind, "http" | "ws_connect") {
        return Err(orphan("expect_status", "http or ws_connect"));
    }
    if step.expect_json.is_some() && kind != "http" {
        return Err(orphan("expect_json", "http"));
    }
    if step.expect_content_type.is_some() && kind != "http" {
        return Err(orphan("expect_content_type", "http"));
    }
    Ok(match kind {
        "replay" => {
            let replay = step.replay.expect("chosen");
            let rspan = replay.span();
            let r = replay.into_inner();
            let clip = match (&r.fixture, fixture) {
                (Some(f), _) => check_clip(base, f).map_err(|m| err(Some(rspan.clone()), m))?,
                (None, Some(f)) => f.clone(),
                (None, None) => {
                    return Err(err(
                        Some(rspan),
                        "replay needs a fixture (top-level `fixture` or `replay.fixture`)".into(),
                    ));
                }
            };
            let len = clip_len(&clip).map_err(|m| err(Some(rspan.clone()), m))?;
            let (from, to) = (r.from.unwrap_or(0), r.to.unwrap_or(len - 1));
            if to >= len || from > to {
                return Err(err(
                    Some(rspan),
                    format!(
                        "frames {from}..={to} are not in the fixture ({} has frames 0..={})",
                        clip.display(),
                        len - 1
                    ),
                ));
            }
            let pace = match (r.pace, r.speed) {
                (RawPace::Acked, None) => Pace::Acked,
                (RawPace::Acked, Some(_)) => {
                    return Err(err(Some(rspan), "`speed` needs `pace = \"recorded\"`".into()));
                }
                (RawPace::Recorded, s) => match s.unwrap_or(1.0) {
                    s if s > 0.0 && s.is_finite() => Pace::Recorded(s),
                    s => {
                        return Err(err(Some(rspan), format!("`speed` must be above 0, not {s}")));
                    }
                },
            };
            Action::Replay { clip, from, to, pace }
        }
        "send" | "send_text" | "send_binary" | "send_raw_text" => {
            let send = if let Some(v) = step.send {
                let s = v.span();
                Outgoing::Json(serde_json::to_value(v.into_inner()).map_err(|e| err(Some(s), e.to_string()))?)
            } else if let Some(t) = step.send_text {
                Outgoing::Text(t.repeat(step.repeat.unwrap_or(1)))
            } else if let Some(b) = step.send_binary {
                Outgoing::Binary(b)
            } else {
                Outgoing::RawText(step.send_raw_text.expect("chosen"))
            };
            let expect = match (step.expect_ack, step.expect_close) {
                (Some(_), Some(_)) => {
                    return Err(at("`expect_ack` and `expect_close` exclude each other".into()));
                }
                (None, Some(code)) => Reply::Close(code),
                (ack, None) => Reply::Ack(ack.map(|m| matcher(m, err)).transpose()?),
            };
            Action::Command { send, expect }
        }
        "ws_connect" => {
            let c = step.ws_connect.expect("chosen");
            let reset = step.expect_reset.unwrap_or(false);
            if reset && step.expect_status.is_some() {
                return Err(at("`expect_reset` and `expect_status` exclude each other".into()));
            }
            Action::WsConnect {
                credentials: credentials(c.token, c.no_token, c.token_in).map_err(at)?,
                status: step.expect_status,
                reset,
            }
        }
        "hold" => {
            let h = step.hold.expect("chosen");
            if h.sse + h.stalled_sse + h.ws + h.idle == 0 {
                return Err(at("`hold` opens nothing: give `sse`, `stalled_sse`, `ws` or `idle` above 0".into()));
            }
            Action::Hold { sse: h.sse, stalled_sse: h.stalled_sse, ws: h.ws, idle: h.idle }
        }
        "ping" => Action::Ping { payload: step.ping.expect("chosen") },
        "ws_close" => Action::WsClose,
        "sse_disconnect" => Action::SseDisconnect,
        "sse_connect" => {
            let c = step.sse_connect.expect("chosen");
            let resume = match (c.last_event_id, c.resume) {
                (Some(_), Some(false)) => {
                    return Err(at("`last_event_id` needs `resume` true".into()));
                }
                (Some(id), _) => ResumeFrom::Id(id),
                (None, Some(false)) => ResumeFrom::Fresh,
                (None, _) => ResumeFrom::LastReceived,
            };
            Action::SseConnect { resume }
        }
        "expect_comment" => Action::ExpectComment { text: step.expect_comment.expect("chosen").text },
        "expect_events" => {
            let e = step.expect_events.expect("chosen");
            let (min, max) = match (e.count, e.min, e.max) {
                (Some(c), None, None) => (c, Some(c)),
                (None, min, max) => (min.unwrap_or(1), max),
                _ => return Err(at("`count` cannot be combined with `min`/`max`".into())),
            };
            if max.is_some_and(|m| m < min) {
                return Err(at(format!("`max` {max:?} is below `min` {min}")));
            }
            Action::ExpectEvents {
                event: e.event.unwrap_or_else(|| "motion".into()),
                min,
                max,
                fields: e.fields.map(|m| matcher(m, err)).transpose()?,
                first: e.first.map(|m| matcher(m, err)).transpose()?,
                last: e.last.map(|m| matcher(m, err)).transpose()?,
                within_ms: match e.within_ms {
                    Some(ms) if !(ms > 0.0 && ms.is_finite()) => {
                        return Err(at(format!("`within_ms` must be above 0, not {ms}")));
                    }
                    ms => ms,
                },
            }
        }
        "expect_labels" => {
            let l = step.expect_labels.expect("chosen");
            Action::ExpectLabels { tolerance: l.tolerance, min_run: l.min_run.max(1) }
        }
        "expect_console" => {
            let src = step.expect_console.expect("chosen").regex;
            let regex = regex::Regex::new(&src).map_err(|e| at(format!("bad regex: {e}")))?;
            Action::ExpectConsole { regex }
        }
        "config" => {
            let threshold = step.config.expect("chosen").threshold;
            if !(0.0..=1.0).contains(&threshold) {
                return Err(at("threshold must be in [0, 1]".into()));
            }
            Action::Config { threshold }
        }
        "expect_no_event" => Action::ExpectNoEvent { for_ms: step.expect_no_event.expect("chosen").for_ms },
        "expect_restart" => Action::ExpectRestart { max_lost: step.expect_restart.expect("chosen").max_lost },
        "expect_snapshot" => {
            let s = step.expect_snapshot.expect("chosen");
            let sspan = s.span();
            let frame = s.into_inner().frame;
            let Some(clip) = fixture else {
                return Err(err(Some(sspan), "expect_snapshot needs the top-level `fixture`".into()));
            };
            let len = clip_len(clip).map_err(|m| err(Some(sspan.clone()), m))?;
            if frame >= len {
                return Err(err(Some(sspan), format!("frame {frame} is not in the fixture (0..={})", len - 1)));
            }
            Action::ExpectSnapshot { frame }
        }
        _ => {
            let http = step.http.expect("the only action left");
            if !http.path.starts_with('/') {
                return Err(at(format!("http path must start with `/`: {:?}", http.path)));
            }
            Action::Http {
                credentials: credentials(http.token, http.no_token, http.token_in).map_err(at)?,
                method: http.method.to_uppercase(),
                path: http.path,
                body: http.body,
                status: step.expect_status,
                json: step.expect_json.map(|m| matcher(m, err)).transpose()?,
                content_type: step.expect_content_type,
                close: http.close,
            }
        }
    })
}
