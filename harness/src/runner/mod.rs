//! Runs one [`Scenario`] against one [`Target`]: sets the cam up, runs each
//! step's [`Action`](crate::steps::Action) on a [`Session`], and reports
//! every step with a typed outcome, on one timeline.
//!
//! The session's state is split by concern: the SSE session and its
//! ledger ([`sse`]), the control connection ([`control`]), the console
//! watch ([`console`]), and the frames injected with the cam's replies and
//! the timeline (this module).
//!
//! ## How SSE expectations synchronise (no sleeps)
//! Every injected frame is acked by the target, with the `id` of the
//! `motion` event it raised if any, before the next one goes. An
//! `expect_events` or `expect_no_event` step first waits, up to its
//! timeout, until the SSE stream has delivered every event the target
//! acked (by id; by count for cams whose acks carry no id), or moved on to
//! a later boot without it ([`crate::ledger`]); only then does it judge the
//! events not yet consumed by an earlier step. A cam that acks motion but
//! never sends the event fails that wait, naming the ids it is missing.

pub mod console;
pub mod control;
pub mod sse;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cam_core::protocol::FrameReply;
use footage::Clip;
use futures_util::FutureExt;
use serde_json::Value;
use tokio::time::timeout_at;

use crate::client::{CONNECT_RETRIES, Http, Reply, after, is_connection_reset, retry_refused};
use crate::faults::proxy::FaultProxy;
use crate::faults::{Dice, FaultPlan};
pub use crate::outcome::Outcome;
use crate::outcome::{Failure, panic_failure};
use crate::run_event::RunEvent;
use crate::scenario::Scenario;
use crate::steps::{StepCx, error_chain};
use crate::target::{Endpoint, Target};
use crate::timeline::{Channel, Timeline};
use console::ConsoleWatch;
use control::{ControlLink, Outgoing, show};
use sse::SseSession;

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
    /// `None` when it passed, else what went wrong and of what kind.
    pub failure: Option<Failure>,
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
    pub setup_failure: Option<Failure>,
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
    /// The detector settings in force as the cam last reported them: the
    /// `detector` object of its last acked `set_detector` (every key of
    /// `docs/detector.md`); `None` before any (`docs/protocol.md`).
    pub detector: Option<serde_json::Map<String, Value>>,
    /// The timeline.
    pub timeline: Timeline,
    /// Wall time of the run, in ms.
    pub duration_ms: f64,
    /// The fault plan applied, as `--fault-plan` takes it (with its seed, so
    /// a failure can be replayed).
    pub fault_plan: Option<String>,
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

    /// How many events the cam pushed: every one received but the `hello`
    /// events that told new connections their place.
    pub fn pushed_events(&self) -> usize {
        self.events.iter().filter(|e| e.name != "hello").count()
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
        self.failed().map(|(label, f)| (label.to_string(), f.message.clone()))
    }

    /// The failing step's label (`setup` before the steps) and its typed
    /// failure, if any.
    pub fn failed(&self) -> Option<(&str, &Failure)> {
        if let Some(f) = &self.setup_failure {
            return Some(("setup", f));
        }
        self.steps.iter().find_map(|s| s.failure.as_ref().map(|f| (s.label.as_str(), f)))
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

/// What the scenarios of one run share: loaded clips, and where step
/// events go (nowhere by default).
#[derive(Debug, Default, Clone)]
pub struct RunEnv {
    /// Clips loaded once per run.
    pub clips: ClipCache,
    /// Where step events go as they happen, and this scenario run's number.
    pub progress: Progress,
}

/// Where a scenario run's step events go ([`RunEvent::StepStarted`],
/// [`RunEvent::StepProgress`], [`RunEvent::StepFinished`]): to the run's
/// reporters, or nowhere.
#[derive(Debug, Default, Clone)]
pub struct Progress {
    tx: Option<tokio::sync::mpsc::UnboundedSender<RunEvent>>,
    run: usize,
    scenario: String,
    step: usize,
}

impl Progress {
    /// Step events of run number `run` (of scenario `scenario`) go to `tx`.
    pub fn new(tx: tokio::sync::mpsc::UnboundedSender<RunEvent>, run: usize, scenario: String) -> Self {
        Self { tx: Some(tx), run, scenario, step: 0 }
    }

    fn send(&self, event: RunEvent) {
        if let Some(tx) = &self.tx {
            // A reporter that is gone has nothing more to show.
            let _ = tx.send(event);
        }
    }

    /// The running step got this far (`frame 120 of 400, 12 events`).
    pub fn step(&self, text: impl Into<String>) {
        self.send(RunEvent::StepProgress {
            run: self.run,
            scenario: self.scenario.clone(),
            index: self.step,
            text: text.into(),
        });
    }

    fn for_step(&self, index: usize) -> Self {
        Self { step: index, ..self.clone() }
    }
}

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

/// A scenario run in progress: the target and the clients talking to it,
/// each part of the run's state apart.
pub struct Session<'a> {
    /// The scenario.
    pub scenario: &'a Scenario,
    /// The target.
    pub target: &'a dyn Target,
    /// Where the harness's clients connect: the target's endpoint, or the
    /// fault proxy in front of it.
    pub endpoint: Endpoint,
    /// The fault plan being applied, if any.
    pub faults: Option<FaultSession>,
    /// Resets the harness made (a `reboot` step, the fault plan).
    pub resets: usize,
    /// Clips loaded once per run.
    pub clips: &'a ClipCache,
    /// HTTP client with the target's token.
    pub http: Http,
    /// Everything that crossed the wire, in order.
    pub timeline: Timeline,
    /// The SSE stream, its events and ledger.
    pub sse: SseSession,
    /// The control WebSocket.
    pub control: ControlLink,
    /// The serial console, if the target has one.
    pub console: ConsoleWatch,
    /// The frames injected and the cam's replies.
    pub recorder: Recorder,
    /// Clients opened by `hold` steps, closed when the scenario ends.
    pub held: crate::hold::Held,
}

/// A fault plan applied to one scenario run: its generator, the proxy the
/// clients go through (network faults), and the frames sent so far.
#[derive(Debug)]
pub struct FaultSession {
    /// The plan.
    pub plan: FaultPlan,
    /// The generator of the frame faults ([`Dice::stream`] `FRAMES`).
    pub dice: Dice,
    /// The proxy in front of the cam, for network faults.
    pub proxy: Option<FaultProxy>,
    /// Frames sent so far in the scenario.
    pub frames: u64,
}

/// The frames injected, the cam's replies, and the threshold in force.
#[derive(Debug, Default)]
pub struct Recorder {
    /// Every frame injected, in order.
    pub frames: Vec<FrameRecord>,
    /// `(frames injected before it, value)` of every threshold in force.
    pub thresholds: Vec<(usize, f64)>,
    /// The `detector` object of the last acked `set_detector`.
    pub detector: Option<serde_json::Map<String, Value>>,
    /// Capture time of fixture time 0, ms since the Unix epoch.
    pub base_ts_ms: u64,
    /// A frame was refused since the last ack: the next ack's frame number
    /// must follow the last one's.
    pub refused_since_ack: bool,
    /// The frame number of the last ack since the cam's last reset by the
    /// harness (`None` before any).
    pub last_ack_seq: Option<u64>,
}

/// The position in `frames` (injected, in order) of the frame event `e`
/// reports: the frame whose reply named the event's id; from cams without
/// ids in their replies, the latest frame sent before it arrived whose
/// sequence number is the event's `frame`. `None` for an event about no
/// injected frame.
pub fn frame_of(frames: &[FrameRecord], e: &ReceivedEvent) -> Option<usize> {
    if let Some(i) = e.id.as_ref().and_then(|id| frames.iter().position(|f| f.reply.id.as_ref() == Some(id))) {
        return Some(i);
    }
    let seq = e.data["frame"].as_u64()?;
    frames.iter().rposition(|f| f.reply.id.is_none() && f.reply.frame == seq && f.sent_ms <= e.at_ms)
}

impl Recorder {
    /// The injected frame an event reports: the frame whose reply named
    /// the event's id; from cams without ids in their replies, the latest
    /// frame sent before it arrived whose sequence number is the event's
    /// `frame`.
    pub fn frame_of(&self, e: &ReceivedEvent) -> Option<usize> {
        frame_of(&self.frames, e)
    }

    /// Ms from each `motion` event's frame injection to its arrival.
    pub fn latencies(&self, events: &[ReceivedEvent]) -> Vec<f64> {
        events
            .iter()
            .filter(|e| e.name == "motion")
            .filter_map(|e| self.frame_of(e).map(|f| e.at_ms - self.frames[f].sent_ms))
            .collect()
    }
}

impl Session<'_> {
    /// Records what has arrived on the SSE stream and the console, and what
    /// the fault proxy did.
    pub fn drain(&mut self) {
        if let Some(proxy) = self.faults.as_ref().and_then(|f| f.proxy.as_ref()) {
            for (at, note) in proxy.take_notes() {
                self.timeline.push_at(at, Channel::Fault, note);
            }
        }
        self.sse.drain(&mut self.timeline);
        self.console.drain(&mut self.timeline);
    }

    /// A frame was sent and answered: the fault plan's moment for stalls,
    /// refusals and a reboot after that many frames.
    ///
    /// # Errors
    /// The reboot failed.
    pub async fn frame_sent(&mut self, deadline: tokio::time::Instant) -> Result<(), Failure> {
        let Some(f) = self.faults.as_mut() else { return Ok(()) };
        f.frames += 1;
        if let Some(proxy) = &f.proxy {
            proxy.on_frame(f.frames);
        }
        if f.plan.reboot_after_frames == Some(f.frames) {
            let n = f.frames;
            self.timeline.push(Channel::Fault, format!("fault plan: reset after {n} frame(s)"));
            self.reset(deadline).await?;
        }
        Ok(())
    }

    /// Resets the cam ([`Target::reset`]): first the SSE stream catches up
    /// (if connected), so that what is tested is the cam's reboot, not a race
    /// in the harness; the console takes the boot log that follows as
    /// expected, and on a target with a console the harness waits for its
    /// `listening on` line; the HTTP client starts afresh (its kept-alive
    /// connections died with the cam); the control WebSocket is dropped.
    ///
    /// # Errors
    /// The catch-up, the reset or the wait for the cam failed.
    pub async fn reset(&mut self, deadline: tokio::time::Instant) -> Result<(), Failure> {
        let was_connected = self.sse.connected();
        if was_connected {
            self.catch_up(deadline).await?;
        }
        self.console.expect_reboot();
        self.timeline.push(Channel::Fault, format!("reset: {}", self.target.describe()));
        self.target.reset().await.map_err(|e| Failure::setup(format!("reset: {e}")))?;
        self.resets += 1;
        self.console.wait_listening(deadline, &mut self.timeline).await?;
        self.http = Http::new(&self.endpoint).map_err(Failure::setup)?;
        self.control.set(None);
        self.recorder.refused_since_ack = false;
        self.recorder.last_ack_seq = None;
        if was_connected {
            // A board's connections died with it, without a word (no FIN
            // comes from a chip that restarted): resume at once, as a client
            // that saw the reset would, from the last id received.
            self.sse.disconnect(&mut self.timeline);
            let last = self.sse.ledger.last_id().map(str::to_string);
            self.sse.connect(&self.endpoint, last, deadline, &mut self.timeline).await?;
        }
        Ok(())
    }

    /// Waits until the stream has delivered every event the target acked
    /// ([`SseSession::catch_up`]).
    ///
    /// # Errors
    /// As [`SseSession::catch_up`].
    pub async fn catch_up(&mut self, deadline: tokio::time::Instant) -> Result<(), Failure> {
        self.sse.catch_up(&self.recorder.frames, deadline, &mut self.timeline).await
    }

    /// Sends one message on the control channel and returns what came back;
    /// an acked threshold, and the detector settings an ack reports, are
    /// recorded.
    ///
    /// # Errors
    /// As [`ControlLink::command`].
    pub async fn command(&mut self, send: &Outgoing, deadline: tokio::time::Instant) -> Result<Reply, Failure> {
        let reply = self.control.command(&self.endpoint, send, deadline, &mut self.timeline).await?;
        if let Reply::Text(t) = &reply {
            let ack = serde_json::from_str::<Value>(t).unwrap_or(Value::Null);
            if let (Some(true), Some(x)) = (ack["ok"].as_bool(), ack["threshold"].as_f64()) {
                self.recorder.thresholds.push((self.recorder.frames.len(), x));
            }
            if let (Some(true), Some(settings)) = (ack["ok"].as_bool(), ack["detector"].as_object()) {
                self.recorder.detector = Some(settings.clone());
            }
        }
        Ok(reply)
    }

    /// Sends a configuration command; its ack must say `"ok": true`.
    ///
    /// # Errors
    /// The command fails, or the ack is not `"ok": true` (a mismatch).
    pub async fn configure(&mut self, cmd: Value, deadline: tokio::time::Instant) -> Result<(), Failure> {
        let sent = cmd.to_string();
        let ack = match self.command(&Outgoing::Json(cmd), deadline).await? {
            Reply::Text(t) => serde_json::from_str::<Value>(&t).unwrap_or(Value::Null),
            other => return Err(Failure::differs(format!("sent {sent}"), "", "an ack", show(&other))),
        };
        if ack.get("ok") == Some(&Value::Bool(true)) {
            Ok(())
        } else {
            Err(Failure::differs(format!("sent {sent}: refused"), "$.ok", "true", ack.to_string()))
        }
    }

    /// Resets the cam, opens the SSE stream, applies the scenario's config.
    async fn setup(&mut self) -> Result<(), Failure> {
        let deadline = tokio::time::Instant::now() + self.scenario.steps[0].timeout;
        // The reset is idempotent: a connection the cam reset before it
        // answered (all its slots still held by the last scenario's clients,
        // which it notices only when it writes to them) is tried again.
        let attempt = || self.http.request(reqwest::Method::POST, "/hil/reset").send();
        let retried = retry_refused(CONNECT_RETRIES.len(), is_connection_reset, attempt);
        let (resp, resets) = match timeout_at(deadline, retried).await {
            Err(_) => return Err(Failure::setup("POST /hil/reset timed out")),
            Ok((Ok(resp), resets)) => (resp, resets),
            Ok((Err(e), _)) => {
                return Err(Failure::setup(format!("target unreachable: POST /hil/reset: {}", error_chain(&e))));
            }
        };
        let status = resp.status();
        // Read the body, so the connection is kept for the next request.
        let _ = resp.bytes().await;
        self.timeline.push(Channel::Http, format!("POST /hil/reset -> {status}{}", after(resets)));
        if !status.is_success() {
            return Err(Failure::setup(format!("POST /hil/reset answered {status}")));
        }
        self.sse.connect(&self.endpoint, None, deadline, &mut self.timeline).await?;
        if let Some(settings) = &self.scenario.detector {
            let mut cmd = serde_json::to_value(settings).unwrap_or_default();
            cmd["cmd"] = Value::from("set_detector");
            self.configure(cmd, deadline).await?;
        }
        if let Some(threshold) = self.scenario.threshold {
            self.configure(serde_json::json!({"cmd": "set_threshold", "value": threshold}), deadline).await?;
        }
        Ok(())
    }
}

/// The capture time the harness stamps on fixture time 0: now, in ms since
/// the Unix epoch.
fn unix_now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Runs `scenario` on `target` and reports every step. A panic inside a
/// step fails that step with the panic's message and location; the
/// scenario's state so far is kept.
pub async fn run(scenario: &Scenario, target: &dyn Target, env: &RunEnv) -> ScenarioReport {
    crate::outcome::install_panic_hook();
    let started = Instant::now();
    let mut report = ScenarioReport::not_started(scenario, &target.describe(), Failure::setup(""));
    report.setup_failure = None;
    let base_ts_ms = unix_now_ms();
    report.base_ts_ms = base_ts_ms;
    let (endpoint, faults) = match fault_session(scenario, target).await {
        Ok(f) => f,
        Err(e) => {
            report.setup_failure = Some(Failure::setup(e));
            return report;
        }
    };
    report.fault_plan = faults.as_ref().map(|f| f.plan.to_string());
    let http = match Http::new(&endpoint) {
        Ok(h) => h,
        Err(e) => {
            report.setup_failure = Some(Failure::setup(e));
            return report;
        }
    };
    let mut s = Session {
        scenario,
        target,
        endpoint,
        faults,
        resets: 0,
        clips: &env.clips,
        http,
        timeline: Timeline::new(),
        sse: SseSession::default(),
        control: ControlLink::default(),
        console: ConsoleWatch::new(target.take_console()),
        recorder: Recorder {
            frames: Vec::new(),
            thresholds: vec![(0, cam_core::protocol::DEFAULT_THRESHOLD)],
            detector: None,
            base_ts_ms,
            refused_since_ack: false,
            last_ack_seq: None,
        },
        held: crate::hold::Held::default(),
    };
    let setup = std::panic::AssertUnwindSafe(s.setup()).catch_unwind().await;
    match setup.unwrap_or_else(|p| Err(panic_failure(p.as_ref()))) {
        Err(f) => {
            // A board that crashed or vanished explains a failed setup best.
            s.drain();
            report.setup_failure = Some(s.console.failure().unwrap_or(f));
        }
        Ok(()) => {
            for step in &scenario.steps {
                let result = run_step(&mut s, step, &env.progress).await;
                let failed = result.failure.is_some();
                report.steps.push(result);
                if failed {
                    break;
                }
            }
        }
    }
    s.drain();
    if let Some(control) = s.control.take() {
        // Leave as a good client does: with a close handshake.
        let _ = tokio::time::timeout(Duration::from_secs(1), control.close()).await;
    }
    report.latencies_ms = s.recorder.latencies(&s.sse.events);
    report.events = s.sse.events;
    report.frames = s.recorder.frames;
    report.thresholds = s.recorder.thresholds;
    report.detector = s.recorder.detector;
    report.timeline = s.timeline;
    report.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    report
}

/// The endpoint the harness's clients use, and the fault session, for
/// `scenario`'s fault plan: with network faults a fault proxy in front of
/// the target, its address in place of the cam's.
///
/// # Errors
/// The target's URL names no host and port, or the proxy cannot listen.
async fn fault_session(scenario: &Scenario, target: &dyn Target) -> Result<(Endpoint, Option<FaultSession>), String> {
    let endpoint = target.endpoint().clone();
    let Some(plan) = scenario.needs.fault_plan.clone() else { return Ok((endpoint, None)) };
    let dice = Dice::stream(plan.seed, crate::faults::FRAMES);
    if !plan.network() {
        return Ok((endpoint, Some(FaultSession { plan, dice, proxy: None, frames: 0 })));
    }
    let (scheme, rest) = endpoint.base.split_once("://").ok_or_else(|| format!("{}: no scheme", endpoint.base))?;
    let authority = rest.split('/').next().unwrap_or(rest);
    let upstream = if authority.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) {
        authority.to_string()
    } else {
        format!("{authority}:{}", if scheme == "https" { 443 } else { 80 })
    };
    let proxy = FaultProxy::start(&upstream, plan.clone()).await.map_err(|e| format!("fault proxy: {e}"))?;
    // Keep a loopback name the cam's certificate may hold.
    let host = match upstream.rsplit_once(':').map(|(h, _)| h) {
        Some("localhost") => "localhost",
        _ => "127.0.0.1",
    };
    let proxied = Endpoint { base: format!("{scheme}://{host}:{}", proxy.addr().port()), ..endpoint };
    Ok((proxied, Some(FaultSession { plan, dice, proxy: Some(proxy), frames: 0 })))
}

/// Runs one step within its timeout, catching a panic, and judges the
/// console after it.
async fn run_step(s: &mut Session<'_>, step: &crate::steps::Step, progress: &Progress) -> StepResult {
    let t0 = Instant::now();
    let started_ms = s.timeline.now_ms();
    let label = step.label();
    let waits_for = step.action.waits_for();
    let progress = progress.for_step(step.index);
    progress.send(RunEvent::StepStarted {
        run: progress.run,
        scenario: progress.scenario.clone(),
        index: step.index,
        label: label.clone(),
        waits_for: waits_for.clone(),
    });
    s.timeline.push(Channel::Step, format!("begin {label}"));
    let deadline = tokio::time::Instant::now() + step.timeout;
    // Inner waits end just before the step's own deadline, so that they
    // can say what they were waiting for.
    let cx = StepCx { step, deadline: deadline - Duration::from_millis(1), progress: &progress };
    let running = std::panic::AssertUnwindSafe(timeout_at(deadline, step.action.run(s, &cx))).catch_unwind();
    let failure = match running.await {
        Ok(Ok(Ok(()))) => None,
        Ok(Ok(Err(f))) => Some(f),
        Ok(Err(_)) => Some(Failure::timeout(
            waits_for.clone(),
            format!("timed out after {} ms waiting for {waits_for}", step.timeout.as_millis()),
        )),
        Err(panic) => Some(panic_failure(panic.as_ref())),
    };
    s.drain();
    // Trouble on the console (a crash, a reset, the board gone) is what
    // went wrong, whatever the step saw.
    let failure = match (failure, s.console.failure()) {
        (f, None) => f,
        (None, Some(c)) => Some(c),
        (Some(f), Some(c)) => Some(Failure::new(c.kind, format!("{}\n{}", f.message, c.message))),
    };
    let verdict = if failure.is_some() { "FAILED" } else { "ok" };
    s.timeline.push(Channel::Step, format!("end {label}: {verdict}"));
    let ms = t0.elapsed().as_secs_f64() * 1000.0;
    progress.send(RunEvent::StepFinished {
        run: progress.run,
        scenario: progress.scenario.clone(),
        index: step.index,
        label: label.clone(),
        failure: failure.clone(),
        ms,
    });
    StepResult { label, failure, ms, started_ms }
}

impl ScenarioReport {
    /// A report with nothing run: `name` from `path`, on `target`.
    fn empty(name: &str, path: &std::path::Path, target: &str) -> Self {
        Self {
            name: name.to_string(),
            path: path.to_path_buf(),
            tags: Vec::new(),
            target: target.to_string(),
            steps: Vec::new(),
            setup_failure: None,
            skipped: None,
            events: Vec::new(),
            frames: Vec::new(),
            base_ts_ms: 0,
            thresholds: Vec::new(),
            detector: None,
            latencies_ms: Vec::new(),
            timeline: Timeline::new(),
            duration_ms: 0.0,
            fault_plan: None,
        }
    }

    /// The report of a scenario that did not start, and why.
    pub fn not_started(scenario: &Scenario, target: &str, why: Failure) -> Self {
        Self {
            tags: scenario.tags.clone(),
            setup_failure: Some(why),
            ..Self::empty(&scenario.name, &scenario.path, target)
        }
    }

    /// A scenario left out before the run (`--skip-tag`), or not started
    /// (`--fail-fast`, no target left), and why: a skip.
    pub fn left_out(name: &str, path: &std::path::Path, why: &str) -> Self {
        Self { skipped: Some(why.to_string()), ..Self::empty(name, path, "") }
    }

    /// A scenario the target cannot run, and why (not a failure).
    pub fn skipped(scenario: &Scenario, target: &str, why: String) -> Self {
        Self { setup_failure: None, skipped: Some(why), ..Self::not_started(scenario, target, Failure::setup("")) }
    }
}
