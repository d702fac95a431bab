//! Runs one [`Scenario`] against one [`Target`]: replays frames, sends
//! commands, and checks what comes back on one timeline.
//!
//! ## How SSE expectations synchronise (no sleeps)
//! Every injected frame is acked by the target with `"motion": true|false`
//! before the next one goes. An `expect_events` or `expect_no_event` step
//! first waits, up to its timeout, until the SSE stream has delivered as
//! many `motion` events as the target acked with `motion: true` since the
//! stream opened; only then does it judge the events not yet consumed by an
//! earlier step. A cam that acks motion but never sends the event fails
//! that wait, naming the frames it is missing.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cam_core::protocol::{FRAME_TS_HEADER, FrameReply};
use cam_sim::clip::Clip;
use serde_json::Value;
use tokio::time::timeout_at;

use crate::board::{ConsoleLine, crash};
use crate::client::{
    CONNECT_RETRIES, Control, Http, Reply, SseItem, SseKind, SseStream, after, is_connection_reset, open_sse,
    retry_refused,
};
use crate::ledger::{Ledger, is_event_stream};
use crate::scenario::{Action, Credentials, Outgoing, Pace, Reply as ScenarioReply, ResumeFrom, Scenario, Step};
use crate::target::Target;
use crate::timeline::{Channel, Timeline};
use tokio::sync::broadcast;

/// A `motion` (or other) event received on the SSE stream.
#[derive(Debug, Clone)]
pub struct ReceivedEvent {
    /// `event:` name.
    pub name: String,
    /// `id:`.
    pub id: Option<String>,
    /// `data:` parsed as JSON (`Value::Null` if it is not JSON).
    pub data: Value,
    /// Ms since the scenario started.
    pub at_ms: f64,
}

/// One injected frame and the target's reply.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameRecord {
    /// The clip folder it came from.
    pub clip: PathBuf,
    /// Fixture frame index.
    pub index: usize,
    /// Ground truth for the frame (`labels.csv`), where the clip has it.
    pub label: Option<bool>,
    /// When it was sent, ms since the scenario started.
    pub sent_ms: f64,
    /// Capture timestamp sent, ms since the Unix epoch.
    pub ts_ms: u64,
    /// The target's reply.
    pub reply: FrameReply,
}

/// The verdict on one step.
#[derive(Debug, Clone)]
pub struct StepResult {
    /// `step 3 (expect_events, line 14)`.
    pub label: String,
    /// `None` when it passed, else what was expected and what arrived.
    pub failure: Option<String>,
    /// How long it took, in ms.
    pub ms: f64,
    /// When it began, ms since the scenario started (the timeline's clock).
    pub started_ms: f64,
}

/// Everything about one scenario run.
#[derive(Debug, Clone)]
pub struct ScenarioReport {
    /// Scenario name.
    pub name: String,
    /// Scenario file.
    pub path: PathBuf,
    /// Its tags.
    pub tags: Vec<String>,
    /// The target it ran on.
    pub target: String,
    /// Steps run, in order (stops at the first failure).
    pub steps: Vec<StepResult>,
    /// Set when the scenario could not start (target unreachable, …).
    pub setup_failure: Option<String>,
    /// Set when the target cannot give what the scenario needs (TLS, a
    /// token, fault plans, connection limits): why it was skipped.
    pub skipped: Option<String>,
    /// Every event received.
    pub events: Vec<ReceivedEvent>,
    /// Every frame injected.
    pub frames: Vec<FrameRecord>,
    /// Capture time of fixture time 0, ms since the Unix epoch.
    pub base_ts_ms: u64,
    /// Ms from injection to arrival of each `motion` event matched to an
    /// injected frame, in arrival order.
    pub latencies_ms: Vec<f64>,
    /// The threshold in force: `(frames injected before it, value)`, from
    /// the scenario's config and every acked `set_threshold`.
    pub thresholds: Vec<(usize, f64)>,
    /// The timeline.
    pub timeline: Timeline,
    /// Wall time of the run, in ms.
    pub duration_ms: f64,
}

/// How a scenario run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every step passed.
    Passed,
    /// A step failed, or the scenario could not start.
    Failed,
    /// The target cannot give what the scenario needs; nothing ran.
    Skipped,
}

impl ScenarioReport {
    /// How the run ended.
    pub fn outcome(&self) -> Outcome {
        if self.skipped.is_some() {
            Outcome::Skipped
        } else if self.failure().is_some() {
            Outcome::Failed
        } else {
            Outcome::Passed
        }
    }

    /// Whether every step passed (a skipped scenario did not pass).
    pub fn passed(&self) -> bool {
        self.outcome() == Outcome::Passed
    }

    /// Event latency figures (injection to arrival, ms): `(count, p50, p99,
    /// max)`, or `None` without matched events.
    pub fn latency(&self) -> Option<(usize, f64, f64, f64)> {
        let mut l = self.latencies_ms.clone();
        if l.is_empty() {
            return None;
        }
        l.sort_by(f64::total_cmp);
        let pick = |q: f64| l[((l.len() - 1) as f64 * q).round() as usize];
        Some((l.len(), pick(0.5), pick(0.99), l[l.len() - 1]))
    }

    /// The failing step's label and message, if any.
    pub fn failure(&self) -> Option<(String, String)> {
        if let Some(f) = &self.setup_failure {
            return Some(("setup".into(), f.clone()));
        }
        self.steps.iter().find_map(|s| s.failure.clone().map(|f| (s.label.clone(), f)))
    }

    /// The `motion` events as a normalised transcript, one line each: ids
    /// relative to the first of their boot (`+0`, `+1`, …; after a reboot
    /// `r1+0`, …), capture times in ms relative to fixture time 0, `change`
    /// to 4 decimals. Independent of the wall clock, of the boot numbers and
    /// of how many events the cam sent before the scenario.
    pub fn transcript(&self) -> String {
        use cam_core::event_log::LastEventId;
        // (boot, seq of its first event) in order of appearance.
        let mut boots: Vec<(Option<u32>, u64)> = Vec::new();
        let mut out = String::new();
        for e in self.events.iter().filter(|e| e.name == "motion") {
            let parsed = cam_core::protocol::parse_last_event_id(e.id.as_deref()).ok().flatten();
            let (boot, seq) = match parsed {
                Some(LastEventId::Id(id)) => (Some(id.boot), Some(id.seq)),
                Some(LastEventId::Seq(n)) => (None, Some(n)),
                None => (None, None),
            };
            let id = match seq {
                Some(seq) => {
                    let k = boots.iter().position(|(b, _)| *b == boot).unwrap_or_else(|| {
                        boots.push((boot, seq));
                        boots.len() - 1
                    });
                    let prefix = if k == 0 { String::new() } else { format!("r{k}") };
                    format!("{prefix}+{}", seq.saturating_sub(boots[k].1))
                }
                None => "?".into(),
            };
            let d = &e.data;
            let t = d["ts"]
                .as_f64()
                .map_or("?".into(), |ts| format!("{}", (ts * 1000.0).round() as i64 - self.base_ts_ms as i64));
            out.push_str(&format!(
                "id {id:<4} frame {:<4} t_ms {t:<6} count {:<4} change {:.4}\n",
                d["frame"],
                d["count"],
                d["change"].as_f64().unwrap_or(f64::NAN)
            ));
        }
        out
    }
}

/// What the scenarios of one run share: loaded clips, and where progress
/// bars go (none by default).
#[derive(Debug, Default, Clone)]
pub struct RunEnv {
    /// Clips loaded once per run.
    pub clips: ClipCache,
    /// Progress bars for long replays, when shown.
    pub progress: Option<indicatif::MultiProgress>,
}

/// Replays at least this long get a progress bar (when bars are shown).
pub const PROGRESS_MIN_FRAMES: usize = 100;

/// Clips loaded once per run and shared by its scenarios.
#[derive(Debug, Default, Clone)]
pub struct ClipCache(Arc<Mutex<HashMap<PathBuf, Arc<Clip>>>>);

impl ClipCache {
    /// The clip at `dir`, loading it on first use.
    ///
    /// # Errors
    /// The clip cannot be loaded (see [`Clip::load`]).
    pub fn get(&self, dir: &PathBuf) -> Result<Arc<Clip>, String> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = map.get(dir) {
            return Ok(c.clone());
        }
        let clip = Arc::new(Clip::load(dir).map_err(|e| e.to_string())?);
        map.insert(dir.clone(), clip.clone());
        Ok(clip)
    }
}

struct Run<'a> {
    progress: Option<&'a indicatif::MultiProgress>,
    scenario: &'a Scenario,
    target: &'a dyn Target,
    clips: &'a ClipCache,
    http: Http,
    /// `None` between `sse_disconnect` and `sse_connect`.
    sse: Option<SseStream>,
    control: Option<Control>,
    /// Clients opened by `hold` steps, closed when the scenario ends.
    held: crate::hold::Held,
    timeline: Timeline,
    events: Vec<ReceivedEvent>,
    /// Events before this index were consumed by an earlier step.
    cursor: usize,
    /// Acked against received events, ids and the SSE rules.
    ledger: Ledger,
    /// Comments received, in order.
    comments: Vec<String>,
    frames: Vec<FrameRecord>,
    thresholds: Vec<(usize, f64)>,
    last_saved: Option<String>,
    base_ts_ms: u64,
    /// The target's serial console, if it has one.
    console: Option<broadcast::Receiver<ConsoleLine>>,
    /// Console lines up to this number are the boot log.
    boot_end: u64,
    /// Console lines seen during the scenario.
    console_lines: Vec<String>,
    /// Lines before this index were consumed by an `expect_console` step.
    console_cursor: usize,
    /// A panic, reset or watchdog seen on the console (what, line index),
    /// or the console vanishing (line index = lines so far).
    console_trouble: Option<(String, usize)>,
}

/// Runs `scenario` on `target` and reports every step.
pub async fn run(scenario: &Scenario, target: &dyn Target, env: &RunEnv) -> ScenarioReport {
    let clips = &env.clips;
    let started = Instant::now();
    let base_ts_ms = cam_sim::shared::unix_now_ms();
    let mut report = ScenarioReport::not_started(scenario, &target.describe(), String::new());
    report.setup_failure = None;
    report.base_ts_ms = base_ts_ms;
    let http = match Http::new(target.endpoint()) {
        Ok(h) => h,
        Err(e) => {
            report.setup_failure = Some(e);
            return report;
        }
    };
    let tap = target.take_console();
    let mut run = Run {
        progress: env.progress.as_ref(),
        scenario,
        target,
        clips,
        http,
        sse: None,
        control: None,
        held: crate::hold::Held::default(),
        timeline: Timeline::new(),
        events: Vec::new(),
        cursor: 0,
        ledger: Ledger::default(),
        comments: Vec::new(),
        frames: Vec::new(),
        thresholds: vec![(0, cam_core::protocol::DEFAULT_THRESHOLD)],
        last_saved: None,
        base_ts_ms,
        console: None,
        boot_end: 0,
        console_lines: Vec::new(),
        console_cursor: 0,
        console_trouble: None,
    };
    if let Some(tap) = tap {
        run.console = Some(tap.lines);
        run.boot_end = tap.boot_end;
    }
    match run.setup().await {
        Err(e) => report.setup_failure = Some(e),
        Ok(()) => {
            for step in &scenario.steps {
                let t0 = Instant::now();
                let started_ms = run.timeline.now_ms();
                run.timeline.push(Channel::Step, format!("begin {}", step.label()));
                let deadline = tokio::time::Instant::now() + step.timeout;
                let failure = match timeout_at(deadline, run.step(step, deadline)).await {
                    Ok(Ok(())) => None,
                    Ok(Err(msg)) => Some(msg),
                    Err(_) => Some(format!("timed out after {} ms", step.timeout.as_millis())),
                };
                run.drain();
                let failure = match (failure, run.console_failure()) {
                    (f, None) => f,
                    (None, Some(c)) => Some(c),
                    (Some(f), Some(c)) => Some(format!("{f}\n{c}")),
                };
                let verdict = if failure.is_some() { "FAILED" } else { "ok" };
                run.timeline.push(Channel::Step, format!("end {}: {verdict}", step.label()));
                let failed = failure.is_some();
                let ms = t0.elapsed().as_secs_f64() * 1000.0;
                report.steps.push(StepResult { label: step.label(), failure, ms, started_ms });
                if failed {
                    break;
                }
            }
        }
    }
    run.drain();
    if let Some(control) = run.control.take() {
        // Leave as a good client does: with a close handshake.
        let _ = tokio::time::timeout(Duration::from_secs(1), control.close()).await;
    }
    report.latencies_ms = run.latencies();
    report.events = run.events;
    report.frames = run.frames;
    report.thresholds = run.thresholds;
    report.timeline = run.timeline;
    report.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    report
}

impl Run<'_> {
    /// Resets the cam, opens the SSE stream, applies the scenario's config.
    async fn setup(&mut self) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + self.scenario.steps[0].timeout;
        // The reset is idempotent: a connection the cam reset before it
        // answered (all its slots still held by the last scenario's clients,
        // which it notices only when it writes to them) is tried again.
        let attempt = || self.http.request(reqwest::Method::POST, "/hil/reset").send();
        let retried = retry_refused(CONNECT_RETRIES.len(), is_connection_reset, attempt);
        let (resp, resets) = match timeout_at(deadline, retried).await {
            Err(_) => return Err("POST /hil/reset timed out".to_string()),
            Ok((Ok(resp), resets)) => (resp, resets),
            Ok((Err(e), _)) => return Err(format!("target unreachable: POST /hil/reset: {}", error_chain(&e))),
        };
        let retried = after(resets);
        self.timeline.push(Channel::Http, format!("POST /hil/reset -> {}{retried}", resp.status()));
        if !resp.status().is_success() {
            return Err(format!("POST /hil/reset answered {}", resp.status()));
        }
        self.connect_sse(None, deadline).await?;
        if let Some(settings) = &self.scenario.detector {
            let mut cmd = settings.clone();
            cmd["cmd"] = Value::from("set_detector");
            self.configure(cmd, deadline).await?;
        }
        if let Some(threshold) = self.scenario.threshold {
            self.configure(serde_json::json!({"cmd": "set_threshold", "value": threshold}), deadline).await?;
        }
        Ok(())
    }

    /// Sends a configuration command; its ack must say `"ok": true`.
    async fn configure(&mut self, cmd: Value, deadline: tokio::time::Instant) -> Result<(), String> {
        let ack = match self.command(&Outgoing::Json(cmd.clone()), deadline).await? {
            Reply::Text(t) => serde_json::from_str::<Value>(&t).unwrap_or(Value::Null),
            other => return Err(format!("{cmd}: {}", show(&other))),
        };
        if ack.get("ok") == Some(&Value::Bool(true)) { Ok(()) } else { Err(format!("{cmd} refused: {ack}")) }
    }

    /// Opens `GET /events` and waits for its headers: from then on the cam
    /// has this client subscribed, so no later event can be missed.
    async fn connect_sse(
        &mut self,
        last_event_id: Option<String>,
        deadline: tokio::time::Instant,
    ) -> Result<(), String> {
        let mut sse = open_sse(self.target.endpoint(), last_event_id.as_deref())?;
        self.timeline
            .push(Channel::Sse, format!("connecting, Last-Event-ID {}", last_event_id.as_deref().unwrap_or("-")));
        loop {
            let item = timeout_at(deadline, sse.rx.recv())
                .await
                .map_err(|_| "GET /events did not connect in time".to_string())?
                .ok_or("SSE client ended")?;
            if let SseKind::Error(e) = &item.kind {
                return Err(format!("GET /events failed: {e}"));
            }
            if let SseKind::Connected { content_type, .. } = &item.kind
                && !is_event_stream(content_type)
            {
                return Err(format!(
                    "GET /events answered with Content-Type {content_type:?}, not text/event-stream: the target does not speak SSE"
                ));
            }
            let connected = matches!(item.kind, SseKind::Connected { .. });
            self.record(item);
            if connected {
                break;
            }
        }
        self.sse = Some(sse);
        Ok(())
    }

    async fn step(&mut self, step: &Step, deadline: tokio::time::Instant) -> Result<(), String> {
        // Finish inner waits just before the step's own deadline, so they
        // can say what they were waiting for.
        let inner = deadline - Duration::from_millis(1);
        match &step.action {
            Action::Replay { clip, from, to, pace } => self.replay(clip, *from, *to, *pace, inner, step.timeout).await,
            Action::Command { send, expect } => {
                let reply = self.command(send, inner).await?;
                let sent = describe(send);
                match (expect, reply) {
                    (ScenarioReply::Ack(matcher), Reply::Text(t)) => {
                        let ack: Value =
                            serde_json::from_str(&t).map_err(|e| format!("sent {sent}: ack is not JSON ({e}): {t}"))?;
                        match matcher {
                            Some(m) => m
                                .check(&ack)
                                .map_err(|why| format!("sent {sent}\nexpected ack {m}\n     got ack {ack}\n({why})")),
                            None => Ok(()),
                        }
                    }
                    (ScenarioReply::Ack(_), other) => {
                        let hint = match (&other, self.ledger.restarts().is_empty()) {
                            (Reply::Closed(None, _), false) => {
                                " (the cam rebooted, which dropped the WebSocket: add `ws_connect = {}` first)"
                            }
                            _ => "",
                        };
                        Err(format!("sent {sent}: expected an ack, got {}{hint}", show(&other)))
                    }
                    (ScenarioReply::Close(code), Reply::Closed(Some(c), _)) if c == *code => Ok(()),
                    (ScenarioReply::Close(code), other) => {
                        Err(format!("sent {sent}: expected close code {code}, got {}", show(&other)))
                    }
                }
            }
            Action::WsConnect { credentials, status, reset: true } => {
                // A client more (the connection already open stays), tried
                // once: a retry could find a slot an idle connection freed.
                match Control::connect_once(self.target.endpoint(), credentials).await {
                    Err(e) if e.reset => {
                        self.timeline.push(Channel::Ws, format!("refused: {}", e.message));
                        Ok(())
                    }
                    Err(e) => Err(format!("expected the cam to reset the connection, got: {}", e.message)),
                    Ok(_) => Err(format!(
                        "expected the cam to reset the connection (no free slot), it was accepted ({status:?})"
                    )),
                }
            }
            Action::Hold { sse, stalled_sse, ws, idle } => {
                let endpoint = self.target.endpoint().clone();
                for k in 0..*sse {
                    self.held.sse(&endpoint, true).await.map_err(|e| format!("held SSE client {}: {e}", k + 1))?;
                    self.timeline.push(Channel::Sse, format!("held client {} connected (reading)", self.held.len()));
                }
                for k in 0..*stalled_sse {
                    self.held.sse(&endpoint, false).await.map_err(|e| format!("stalled SSE client {}: {e}", k + 1))?;
                    self.timeline
                        .push(Channel::Sse, format!("held client {} connected (never reads)", self.held.len()));
                }
                for k in 0..*ws {
                    self.held.ws(&endpoint).await.map_err(|e| format!("held WebSocket {}: {e}", k + 1))?;
                    self.timeline.push(Channel::Ws, format!("held client {} connected (silent)", self.held.len()));
                }
                for k in 0..*idle {
                    self.held.idle(&endpoint).await.map_err(|e| format!("idle connection {}: {e}", k + 1))?;
                    self.timeline
                        .push(Channel::Http, format!("held client {} connected (never speaks)", self.held.len()));
                }
                Ok(())
            }
            Action::WsConnect { credentials, status, reset: false } => {
                self.control = None;
                let result = Control::connect(self.target.endpoint(), credentials).await;
                match (&result, status) {
                    (Ok(c), None) => {
                        self.timeline.push(Channel::Ws, connected_text(c.resets()));
                        self.control = result.ok();
                        Ok(())
                    }
                    (Err(e), Some(s)) if e.status == Some(*s) => {
                        self.timeline.push(Channel::Ws, format!("refused: {}", e.message));
                        Ok(())
                    }
                    (Ok(_), Some(s)) => Err(format!("expected the upgrade to be refused with {s}, it succeeded")),
                    (Err(e), _) => Err(format!("WebSocket upgrade: {}", e.message)),
                }
            }
            Action::Ping { payload } => {
                let control = self.control(inner).await?;
                let pong = control.ping(payload.as_bytes()).await?;
                self.timeline
                    .push(Channel::Ws, format!("ping {payload:?} -> pong {:?}", String::from_utf8_lossy(&pong)));
                if pong == payload.as_bytes() {
                    Ok(())
                } else {
                    Err(format!("pong payload {:?} is not the ping's {payload:?}", String::from_utf8_lossy(&pong)))
                }
            }
            Action::WsClose => {
                self.control(inner).await?;
                let control = self.control.take().expect("connected above");
                control.close().await?;
                self.timeline.push(Channel::Ws, "closed cleanly");
                Ok(())
            }
            Action::SseDisconnect => {
                self.drain();
                self.sse = None;
                self.timeline.push(Channel::Sse, "disconnected");
                Ok(())
            }
            Action::SseConnect { resume } => {
                self.drain();
                self.sse = None;
                let id = match resume {
                    ResumeFrom::LastReceived => self.ledger.last_id().map(str::to_string),
                    ResumeFrom::Fresh => None,
                    ResumeFrom::Id(id) => Some(id.clone()),
                };
                self.connect_sse(id, inner).await
            }
            Action::ExpectComment { text } => {
                let seen = self.comments.len();
                loop {
                    if self.comments[seen..].iter().any(|c| c == text) {
                        return Ok(());
                    }
                    if !self.record_next(inner).await? {
                        return Err(format!(
                            "no `: {text}` comment within {} ms (comments seen meanwhile: {:?})",
                            step.timeout.as_millis(),
                            &self.comments[seen..]
                        ));
                    }
                }
            }
            Action::ExpectEvents { event, min, max, fields, first, last, within_ms } => {
                self.catch_up(inner).await?;
                self.ledger.check()?;
                let new: Vec<&ReceivedEvent> = self.events[self.cursor..].iter().filter(|e| &e.name == event).collect();
                let n = new.len();
                let want = match max {
                    Some(m) if m == min => format!("exactly {min}"),
                    Some(m) => format!("{min} to {m}"),
                    None => format!("at least {min}"),
                };
                if n < *min || max.is_some_and(|m| n > m) {
                    return Err(format!("expected {want} `{event}` event(s), {n} arrived{}", summarize(&new)));
                }
                for e in &new {
                    if let Some(m) = fields {
                        m.check(&e.data).map_err(|why| format!("event id {}: {why}", id_text(e)))?;
                    }
                }
                if let (Some(m), Some(e)) = (first, new.first()) {
                    m.check(&e.data).map_err(|why| format!("first event (id {}): {why}", id_text(e)))?;
                }
                if let (Some(m), Some(e)) = (last, new.last()) {
                    m.check(&e.data).map_err(|why| format!("last event (id {}): {why}", id_text(e)))?;
                }
                if let Some(limit) = within_ms {
                    for e in new.iter().filter(|e| e.name == "motion") {
                        let frame = self.frame_of(e).ok_or_else(|| {
                            format!("event id {} reports frame {} that was not injected", id_text(e), e.data["frame"])
                        })?;
                        let latency = e.at_ms - self.frames[frame].sent_ms;
                        if latency > *limit {
                            return Err(format!(
                                "event id {} for frame {} arrived {latency:.1} ms after its injection (limit {limit} ms)",
                                id_text(e),
                                self.frames[frame].reply.frame
                            ));
                        }
                    }
                }
                self.cursor = self.events.len();
                Ok(())
            }
            Action::ExpectLabels { tolerance, min_run } => {
                self.catch_up(inner).await?;
                self.ledger.check()?;
                let with_event: std::collections::HashSet<usize> =
                    self.events.iter().filter(|e| e.name == "motion").filter_map(|e| self.frame_of(e)).collect();
                let problems = label_problems(&self.frames, &with_event, *tolerance, *min_run);
                if problems.is_empty() { Ok(()) } else { Err(problems.join("\n")) }
            }
            Action::ExpectConsole { regex } => {
                if self.console.is_none() && self.console_lines.is_empty() {
                    return Err(format!("target {} has no serial console", self.target.describe()));
                }
                loop {
                    self.drain();
                    if let Some(i) = self.console_lines[self.console_cursor..].iter().position(|l| regex.is_match(l)) {
                        self.console_cursor += i + 1;
                        return Ok(());
                    }
                    let Some(console) = self.console.as_mut() else {
                        return Err("the board's console is gone".into());
                    };
                    match timeout_at(inner, console.recv()).await {
                        Ok(Ok(line)) => self.record_console(line),
                        Ok(Err(broadcast::error::RecvError::Lagged(_))) => continue,
                        Ok(Err(broadcast::error::RecvError::Closed)) => self.console = None,
                        Err(_) => {
                            let seen = &self.console_lines[self.console_cursor..];
                            return Err(format!(
                                "no console line matching /{}/ within {} ms ({} line(s) seen meanwhile{})",
                                regex.as_str(),
                                step.timeout.as_millis(),
                                seen.len(),
                                seen.last().map_or(String::new(), |l| format!(", the last: {l:?}"))
                            ));
                        }
                    }
                }
            }
            Action::Config { threshold } => {
                let cmd = serde_json::json!({"cmd": "set_threshold", "value": threshold});
                match self.command(&Outgoing::Json(cmd), inner).await? {
                    Reply::Text(t) if serde_json::from_str::<Value>(&t).is_ok_and(|a| a["ok"] == true) => Ok(()),
                    other => Err(format!("set_threshold {threshold}: {}", show(&other))),
                }
            }
            Action::ExpectNoEvent { for_ms } => {
                self.catch_up(inner).await?;
                self.ledger.check()?;
                self.check_no_new_event()?;
                if *for_ms > 0 {
                    // The assertion itself spans this time: watch the
                    // stream until it ends, failing on the first event.
                    self.watch_quiet(tokio::time::Instant::now() + Duration::from_millis(*for_ms)).await?;
                }
                Ok(())
            }
            Action::ExpectRestart { max_lost } => {
                // The restart comes when the stream reconnects after the
                // reboot: wait for it, then for what the new boot acked.
                loop {
                    self.drain();
                    if self.ledger.restart_pending() {
                        break;
                    }
                    // Ids of a new boot without a restart break the rules.
                    self.ledger.check()?;
                    if !self.record_next(inner).await? {
                        return Err(format!(
                            "no `restart` event within {} ms: the stream shows no reboot",
                            step.timeout.as_millis()
                        ));
                    }
                }
                self.catch_up(inner).await?;
                self.ledger.expect_restart(*max_lost)?;
                self.ledger.check()
            }
            Action::ExpectSnapshot { frame } => {
                let saved = self.last_saved.clone().ok_or("no earlier ack named a `saved` file")?;
                let clip = self.clips.get(self.scenario.fixture.as_ref().ok_or("no fixture")?)?;
                let expected = &clip.frames[*frame].jpeg;
                match self.target.read_file(&saved)? {
                    None => Err(format!("target {} gives no access to its storage", self.target.describe())),
                    Some(bytes) if &bytes == expected => Ok(()),
                    Some(bytes) => Err(format!(
                        "{saved} holds {} bytes that are not fixture frame {frame} ({} bytes){}",
                        bytes.len(),
                        expected.len(),
                        clip.frames
                            .iter()
                            .position(|f| f.jpeg == bytes)
                            .map_or(String::new(), |i| format!("; it is frame {i}"))
                    )),
                }
            }
            Action::Http { credentials, method, path, body, status, json, content_type, close } => {
                let m = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| format!("method {method}: {e}"))?;
                let mut req = self.http.request_as(m, path, credentials);
                if *close {
                    req = req.header(reqwest::header::CONNECTION, "close");
                }
                if let Some(b) = body {
                    req = req.body(b.clone());
                }
                let resp = req.send().await.map_err(|e| format!("{method} {path}: {}", error_chain(&e)))?;
                let code = resp.status().as_u16();
                let ctype = resp
                    .headers()
                    .get(reqwest::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                // A 200 on /events is a stream: read only its headers.
                let bytes = if is_event_stream(&ctype) {
                    Default::default()
                } else {
                    resp.bytes().await.map_err(|e| format!("{method} {path}: body: {e}"))?
                };
                let text = String::from_utf8_lossy(&bytes);
                self.timeline.push(Channel::Http, format!("{method} {path} -> {code} {ctype} {}", clip_text(&text)));
                if let Some(s) = status.filter(|s| *s != code) {
                    return Err(format!("{method} {path}: expected status {s}, got {code}: {}", clip_text(&text)));
                }
                if let Some(c) = content_type.as_ref().filter(|c| !ctype.starts_with(c.as_str())) {
                    return Err(format!("{method} {path}: expected Content-Type {c}, got {ctype:?}"));
                }
                if let Some(m) = json {
                    let v: Value = serde_json::from_slice(&bytes)
                        .map_err(|e| format!("{method} {path}: body is not JSON ({e}): {}", clip_text(&text)))?;
                    m.check(&v).map_err(|why| format!("{method} {path}: expected {m}, got {v} ({why})"))?;
                }
                Ok(())
            }
        }
    }

    /// The injected frame an event reports: the frame whose reply named
    /// the event's id; from cams without ids in their replies, the latest
    /// frame sent before it arrived whose sequence number is the event's
    /// `frame`.
    fn frame_of(&self, e: &ReceivedEvent) -> Option<usize> {
        if let Some(i) = e.id.as_ref().and_then(|id| self.frames.iter().position(|f| f.reply.id.as_ref() == Some(id))) {
            return Some(i);
        }
        let seq = e.data["frame"].as_u64()?;
        self.frames.iter().rposition(|f| f.reply.id.is_none() && f.reply.frame == seq && f.sent_ms <= e.at_ms)
    }

    /// Ms from each `motion` event's frame injection to its arrival.
    fn latencies(&self) -> Vec<f64> {
        self.events
            .iter()
            .filter(|e| e.name == "motion")
            .filter_map(|e| self.frame_of(e).map(|f| e.at_ms - self.frames[f].sent_ms))
            .collect()
    }

    /// Watches the stream until `until`, failing on the first new event.
    async fn watch_quiet(&mut self, until: tokio::time::Instant) -> Result<(), String> {
        while let Some(sse) = self.sse.as_mut() {
            match timeout_at(until, sse.rx.recv()).await {
                Ok(Some(item)) => {
                    self.record(item);
                    self.check_no_new_event()?;
                }
                Ok(None) | Err(_) => break,
            }
        }
        Ok(())
    }

    fn check_no_new_event(&self) -> Result<(), String> {
        let new: Vec<&ReceivedEvent> = self.events[self.cursor..].iter().collect();
        if new.is_empty() {
            Ok(())
        } else {
            Err(format!("expected no event, {} arrived{}", new.len(), summarize(&new)))
        }
    }

    async fn replay(
        &mut self,
        dir: &PathBuf,
        from: usize,
        to: usize,
        pace: Pace,
        deadline: tokio::time::Instant,
        timeout: Duration,
    ) -> Result<(), String> {
        let clip = self.clips.get(dir)?;
        let t0 = clip.frames[from].t_ms;
        let bar = match self.progress {
            Some(multi) if to - from + 1 >= PROGRESS_MIN_FRAMES => {
                let bar = multi.add(indicatif::ProgressBar::new((to - from + 1) as u64));
                bar.set_style(
                    indicatif::ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} frames {msg}")
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
                bar.set_prefix(format!("{}: {}", self.scenario.name, clip.name()));
                bar
            }
            _ => indicatif::ProgressBar::hidden(),
        };
        let start = tokio::time::Instant::now();
        for index in from..=to {
            let frame = &clip.frames[index];
            if let Pace::Recorded(speed) = pace {
                let offset = Duration::from_secs_f64((frame.t_ms - t0) as f64 / 1000.0 / speed);
                // Pacing at the recorded frame rate is what this step does.
                tokio::time::sleep_until(start + offset).await;
            }
            let ts_ms = self.base_ts_ms + frame.t_ms;
            let sent_ms = self.timeline.now_ms();
            let request = self
                .http
                .request(reqwest::Method::POST, "/hil/frame")
                .header(FRAME_TS_HEADER, ts_ms.to_string())
                .header(reqwest::header::CONTENT_TYPE, "image/jpeg")
                .body(frame.jpeg.clone())
                .send();
            let exchange = async {
                let resp = request.await?;
                let status = resp.status();
                Ok::<_, reqwest::Error>((status, resp.text().await.unwrap_or_default()))
            };
            let (status, body) = timeout_at(deadline, exchange)
                .await
                .map_err(|_| {
                    format!(
                        "frame {index} ({}): POST /hil/frame: no answer before the step's timeout ({} ms)",
                        frame.file,
                        timeout.as_millis()
                    )
                })?
                .map_err(|e| format!("frame {index} ({}): POST /hil/frame: {}", frame.file, error_chain(&e)))?;
            if !status.is_success() {
                self.timeline.push(Channel::Frame, format!("frame {index} -> {status} {body}"));
                return Err(format!("frame {index} ({}): POST /hil/frame answered {status}: {body}", frame.file));
            }
            let reply: FrameReply = serde_json::from_str(&body)
                .map_err(|e| format!("frame {index}: reply is not a frame ack ({e}): {}", clip_text(&body)))?;
            let motion = if reply.motion { " MOTION" } else { "" };
            self.timeline.push(
                Channel::Frame,
                format!("frame {index} -> seq {} change {:.4}{motion}", reply.frame, reply.change),
            );
            self.ledger.on_ack(&reply);
            let label = frame.label;
            self.frames.push(FrameRecord { clip: dir.clone(), index, label, sent_ms, ts_ms, reply });
            self.drain();
            bar.inc(1);
            bar.set_message(format!("{} events", self.ledger.counts().1));
        }
        bar.finish_and_clear();
        Ok(())
    }

    /// The control WebSocket, connecting with the target's token if needed.
    async fn control(&mut self, deadline: tokio::time::Instant) -> Result<&mut Control, String> {
        if self.control.is_none() {
            let credentials = Credentials::default();
            let connect = Control::connect(self.target.endpoint(), &credentials);
            let c = timeout_at(deadline, connect)
                .await
                .map_err(|_| "WebSocket connect timed out".to_string())?
                .map_err(|e| e.message)?;
            self.timeline.push(Channel::Ws, connected_text(c.resets()));
            self.control = Some(c);
        }
        Ok(self.control.as_mut().expect("connected above"))
    }

    /// Sends one message on the control channel and returns what came back.
    async fn command(&mut self, send: &Outgoing, deadline: tokio::time::Instant) -> Result<Reply, String> {
        let control = self.control(deadline).await?;
        match send {
            Outgoing::Json(v) => control.send_text(&v.to_string()).await?,
            Outgoing::Text(t) => control.send_text(t).await?,
            Outgoing::Binary(b) => control.send_binary(b).await?,
            Outgoing::RawText(b) => control.send_raw_text(b).await?,
        }
        let reply = timeout_at(deadline, control.next_reply()).await;
        self.timeline.push(Channel::Ws, format!("> {}", clip_text(&describe(send))));
        let reply = reply.map_err(|_| format!("sent {}: no reply before the step's timeout", describe(send)))?;
        match &reply {
            Reply::Text(t) => {
                self.timeline.push(Channel::Ws, format!("< {}", clip_text(t)));
                let ack = serde_json::from_str::<Value>(t).unwrap_or(Value::Null);
                if let Some(saved) = ack.get("saved").and_then(Value::as_str) {
                    self.last_saved = Some(saved.to_string());
                }
                if let (Some(true), Some(x)) = (ack["ok"].as_bool(), ack["threshold"].as_f64()) {
                    self.thresholds.push((self.frames.len(), x));
                }
            }
            Reply::Binary(n) => self.timeline.push(Channel::Ws, format!("< binary frame, {n} bytes")),
            Reply::Closed(code, reason) => {
                self.control = None;
                self.timeline.push(Channel::Ws, format!("< closed, code {code:?} {reason}"));
            }
        }
        Ok(reply)
    }

    /// Waits until the stream has delivered a `motion` event for every frame
    /// the target acked as motion (by id; by count for cams without ids in
    /// their acks), or the stream moved on to a later boot without it.
    async fn catch_up(&mut self, deadline: tokio::time::Instant) -> Result<(), String> {
        self.drain();
        while self.ledger.awaiting() {
            if !self.record_next(deadline).await? {
                // A broken rule explains a missing event best.
                self.ledger.check()?;
                let acked: Vec<String> =
                    self.frames.iter().filter(|f| f.reply.motion).map(|f| f.reply.frame.to_string()).collect();
                let (n_acked, n_received) = self.ledger.counts();
                let awaited: Vec<String> = self.ledger.awaited().iter().take(8).map(|id| id.to_string()).collect();
                let awaited = if awaited.is_empty() {
                    String::new()
                } else {
                    format!("; still awaited: ids {}", awaited.join(", "))
                };
                return Err(format!(
                    "the target acked {n_acked} frame(s) as motion (frames {}) but the SSE stream delivered only {n_received} `motion` event(s) before the timeout{awaited}",
                    acked.join(", "),
                ));
            }
        }
        Ok(())
    }

    /// Receives and records the next item of the SSE stream: `Ok(true)` when
    /// one came before `deadline`, `Ok(false)` at the deadline.
    ///
    /// # Errors
    /// The stream is disconnected (an `sse_disconnect` step) or its client
    /// ended.
    async fn record_next(&mut self, deadline: tokio::time::Instant) -> Result<bool, String> {
        let sse = self
            .sse
            .as_mut()
            .ok_or("the SSE stream is disconnected (add an `sse_connect` step before expecting events)")?;
        match timeout_at(deadline, sse.rx.recv()).await {
            Ok(Some(item)) => {
                self.record(item);
                Ok(true)
            }
            Ok(None) => Err("SSE client ended".into()),
            Err(_) => Ok(false),
        }
    }

    fn drain(&mut self) {
        while let Some(item) = self.sse.as_mut().and_then(|s| s.rx.try_recv().ok()) {
            self.record(item);
        }
        while let Some(console) = self.console.as_mut() {
            match console.try_recv() {
                Ok(line) => self.record_console(line),
                Err(broadcast::error::TryRecvError::Lagged(n)) => {
                    self.timeline.push(Channel::Console, format!("({n} console lines lost: the harness fell behind)"))
                }
                Err(_) => break,
            }
        }
    }

    fn record_console(&mut self, line: ConsoleLine) {
        match line {
            ConsoleLine::Line(at, seq, text) => {
                self.timeline.push_at(at, Channel::Console, text.clone());
                let judged = seq > self.boot_end;
                if let (None, Some(what), true) = (&self.console_trouble, crash(&text), judged) {
                    self.console_trouble = Some((what.to_string(), self.console_lines.len()));
                }
                self.console_lines.push(text);
            }
            ConsoleLine::Gone(why) => {
                self.timeline.push(Channel::Console, format!("(port gone: {why})"));
                if self.console_trouble.is_none() {
                    self.console_trouble = Some((format!("the board vanished ({why})"), self.console_lines.len()));
                }
                self.console = None;
            }
        }
    }

    /// The console trouble seen so far, once, with the lines around it.
    fn console_failure(&mut self) -> Option<String> {
        let (what, at) = self.console_trouble.take()?;
        // Keep reporting it for later steps too.
        self.console_trouble = Some((what.clone(), at));
        let from = at.saturating_sub(5);
        let to = (at + 10).min(self.console_lines.len());
        let excerpt: Vec<String> = self.console_lines[from..to].iter().map(|l| format!("  | {l}")).collect();
        Some(format!("the board's console shows {what}:\n{}", excerpt.join("\n")))
    }

    fn record(&mut self, item: SseItem) {
        match item.kind {
            SseKind::Connected { status, content_type } => {
                self.ledger.on_connect(&content_type);
                self.timeline.push_at(item.at, Channel::Sse, format!("connected ({status})"));
            }
            SseKind::Comment(c) => {
                self.timeline.push_at(item.at, Channel::Sse, format!(": {c}"));
                self.comments.push(c);
            }
            SseKind::Error(e) => self.timeline.push_at(item.at, Channel::Sse, format!("error: {e}")),
            SseKind::Event { name, id, retry, data } => {
                let shown_retry = retry.map_or(String::new(), |r| format!(" retry {r}"));
                self.timeline.push_at(
                    item.at,
                    Channel::Sse,
                    format!("event {name} id {}{shown_retry} {}", id.as_deref().unwrap_or("-"), clip_text(&data)),
                );
                self.ledger.on_event(&name, id.as_deref(), retry, &data);
                let at_ms = self.timeline.entries.last().map_or(0.0, |e| e.at_ms);
                let data = serde_json::from_str(&data).unwrap_or(Value::Null);
                self.events.push(ReceivedEvent { name, id, data, at_ms });
            }
        }
    }
}

/// An error and its causes, `outer: inner: innermost` (reqwest's own text
/// leaves out why a request failed, e.g. a certificate problem).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// What `expect_labels` finds wrong: runs of equally labelled frames (in
/// injection order, per clip) judged against the frames that raised events.
fn label_problems(
    frames: &[FrameRecord],
    with_event: &std::collections::HashSet<usize>,
    tolerance: usize,
    min_run: usize,
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut start = 0;
    while start < frames.len() {
        let (clip, label) = (&frames[start].clip, frames[start].label);
        let mut end = start;
        while end + 1 < frames.len() && frames[end + 1].label == label && &frames[end + 1].clip == clip {
            end += 1;
        }
        let (run_len, name) = (end - start + 1, clip.file_name().map(|n| n.to_string_lossy()).unwrap_or_default());
        if let (Some(label), true) = (label, run_len >= min_run && run_len > 2 * tolerance) {
            let judged = start + tolerance..=end - tolerance;
            let hits: Vec<usize> = judged.clone().filter(|k| with_event.contains(k)).collect();
            let span = format!("{name} frames {}..={}", frames[start].index, frames[end].index);
            if !label && !hits.is_empty() {
                let shown: Vec<String> = hits.iter().take(5).map(|k| frames[*k].index.to_string()).collect();
                problems.push(format!(
                    "nothing moves in {span} (label 0) but {} frame(s) raised events: {}{}",
                    hits.len(),
                    shown.join(", "),
                    if hits.len() > 5 { ", …" } else { "" }
                ));
            }
            if label && hits.is_empty() {
                problems.push(format!("something moves in {span} (label 1) but no frame raised an event"));
            }
        }
        start = end + 1;
    }
    problems
}

/// An event's id as sent, `-` without one.
fn id_text(e: &ReceivedEvent) -> &str {
    e.id.as_deref().unwrap_or("-")
}

fn describe(send: &Outgoing) -> String {
    match send {
        Outgoing::Json(v) => v.to_string(),
        Outgoing::Text(t) => t.clone(),
        Outgoing::Binary(b) => format!("binary frame of {} bytes", b.len()),
        Outgoing::RawText(b) => format!("text frame of {} raw bytes", b.len()),
    }
}

fn show(reply: &Reply) -> String {
    match reply {
        Reply::Text(t) => format!("text {}", clip_text(t)),
        Reply::Binary(n) => format!("a binary frame of {n} bytes"),
        Reply::Closed(Some(code), reason) => format!("close code {code} {reason:?}"),
        Reply::Closed(None, reason) => {
            format!("the connection ended without a close frame ({reason})")
        }
    }
}

fn summarize(events: &[&ReceivedEvent]) -> String {
    if events.is_empty() {
        return String::new();
    }
    let mut s = String::from(":");
    for e in events.iter().take(8) {
        s.push_str(&format!("\n  id {} {}", e.id.as_deref().unwrap_or("-"), e.data));
    }
    if events.len() > 8 {
        s.push_str(&format!("\n  … and {} more", events.len() - 8));
    }
    s
}

fn clip_text(s: &str) -> String {
    const MAX: usize = 200;
    if s.len() <= MAX {
        s.to_string()
    } else {
        let cut = (0..=MAX).rev().find(|i| s.is_char_boundary(*i)).unwrap_or(0);
        format!("{}… ({} bytes)", &s[..cut], s.len())
    }
}

impl ScenarioReport {
    /// The report of a scenario whose target could not be opened.
    pub fn not_started(scenario: &Scenario, target: &str, why: String) -> Self {
        Self {
            name: scenario.name.clone(),
            path: scenario.path.clone(),
            tags: scenario.tags.clone(),
            target: target.to_string(),
            steps: Vec::new(),
            setup_failure: Some(why),
            skipped: None,
            events: Vec::new(),
            frames: Vec::new(),
            base_ts_ms: 0,
            thresholds: Vec::new(),
            latencies_ms: Vec::new(),
            timeline: Timeline::new(),
            duration_ms: 0.0,
        }
    }
}

impl ScenarioReport {
    /// A scenario the target cannot run, and why (not a failure).
    pub fn skipped(scenario: &Scenario, target: &str, why: String) -> Self {
        Self { setup_failure: None, skipped: Some(why), ..Self::not_started(scenario, target, String::new()) }
    }
}

/// The timeline's line for a WebSocket connection, naming the resets the
/// cam gave before it answered (its connection slots were all taken).
fn connected_text(resets: usize) -> String {
    match resets {
        0 => "connected /control".to_string(),
        n => format!("connected /control (after {n} reset(s) by the cam: no free connection slot)"),
    }
}
