//! Reporters: what a person (or CI, or another tool) sees of a run. The
//! suite tells a [`Reporter`] each [`RunEvent`] as it happens:
//! - [`TextReporter`]: on a terminal, one status line per running scenario
//!   (its current step and what it waits for), then a line per finished
//!   scenario with the failing step, expected and actual side by side, and
//!   the timeline before it; off a terminal, plain lines, with `SLOW` lines
//!   for steps that wait long, as cargo-nextest does;
//! - [`JsonReporter`]: `--message-format json`, one libtest-like JSON line
//!   per scenario and step event;
//! - [`FileReporter`]: [`junit`] and [`html`] rewritten after every
//!   scenario, so a run killed halfway leaves its results so far.

pub mod filmstrip;
pub mod html;
pub mod junit;
mod plot;

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::outcome::{Failure, Outcome};
use crate::run_event::RunEvent;
use crate::runner::ScenarioReport;
use crate::suite::Summary;

/// Receives what happens in a run, as it happens.
pub trait Reporter {
    /// Something happened.
    fn event(&mut self, event: &RunEvent);

    /// About once a second while the run goes on (for `SLOW` lines).
    fn tick(&mut self) {}
}

/// Several reporters, each told every event in turn.
#[derive(Default)]
pub struct Tee(pub Vec<Box<dyn Reporter>>);

impl Reporter for Tee {
    fn event(&mut self, event: &RunEvent) {
        for r in &mut self.0 {
            r.event(event);
        }
    }

    fn tick(&mut self) {
        for r in &mut self.0 {
            r.tick();
        }
    }
}

/// Writes `bytes` to `path` through a temporary file in the same folder and
/// a rename, so that a reader (or a run killed meanwhile) sees the old file
/// or the new one, never half of one.
///
/// # Errors
/// The file cannot be written or renamed, naming it.
pub fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> Result<(), String> {
    let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Timeline entries shown before a failure.
pub const FAILURE_CONTEXT: usize = 12;

/// A step waiting this long gets a `SLOW` line off a terminal, and again
/// after each further such span.
pub const SLOW_STEP: Duration = Duration::from_secs(10);

/// A step running, as the text reporter follows it.
struct Running {
    scenario: String,
    label: String,
    waits_for: String,
    progress: Option<String>,
    since: Instant,
    slow_lines: u32,
}

/// Plain text. See the module docs.
pub struct TextReporter<W: Write> {
    out: W,
    /// Status lines, on a terminal.
    multi: Option<indicatif::MultiProgress>,
    bars: HashMap<usize, indicatif::ProgressBar>,
    running: HashMap<usize, Running>,
    slow: Duration,
}

impl<W: Write> TextReporter<W> {
    /// Plain lines to `out` (off a terminal).
    pub fn new(out: W) -> Self {
        Self { out, multi: None, bars: HashMap::new(), running: HashMap::new(), slow: SLOW_STEP }
    }

    /// `SLOW` lines after `slow` of waiting, and after each further `slow`
    /// (default [`SLOW_STEP`]).
    pub fn slow_after(self, slow: Duration) -> Self {
        Self { slow, ..self }
    }

    /// Lines to `out` with a status line per running scenario drawn by
    /// `multi` (on a terminal), so lines and status lines do not garble
    /// each other.
    pub fn with_status(out: W, multi: indicatif::MultiProgress) -> Self {
        Self { multi: Some(multi), ..Self::new(out) }
    }

    fn write_block(&mut self, text: &str) {
        match &self.multi {
            Some(p) => p.suspend(|| {
                let _ = self.out.write_all(text.as_bytes());
                let _ = self.out.flush();
            }),
            None => {
                let _ = self.out.write_all(text.as_bytes());
                let _ = self.out.flush();
            }
        }
    }

    fn status(&self, run: usize) {
        if let (Some(bar), Some(r)) = (self.bars.get(&run), self.running.get(&run)) {
            let what = r.progress.clone().unwrap_or_else(|| format!("waiting for {}", r.waits_for));
            bar.set_message(format!("{}: {what}", r.label));
        }
    }
}

/// The lines of a finished scenario: verdict, and for a failure the step,
/// its kind, expected and actual side by side, and the timeline before it.
pub fn scenario_text(r: &ScenarioReport) -> String {
    use std::fmt::Write as _;
    let mut text = String::new();
    if let Some(why) = &r.skipped {
        let _ = writeln!(text, "SKIP {} ({}): {why}", r.name, r.path.display());
        return text;
    }
    let verdict = if r.passed() { "PASS" } else { "FAIL" };
    let latency = r
        .latency()
        .map_or(String::new(), |(_, p50, p99, max)| format!(", latency p50 {p50:.1} / p99 {p99:.1} / max {max:.1} ms"));
    let _ = writeln!(
        text,
        "{verdict} {} ({}; {} step(s), {} event(s), {:.0} ms{latency})",
        r.name,
        r.path.display(),
        r.steps.len(),
        r.pushed_events(),
        r.duration_ms
    );
    if let Some(plan) = &r.fault_plan {
        let _ = writeln!(text, "  fault plan: {plan} (replay it: --fault-plan '{plan}')");
    }
    if let Some((step, failure)) = r.failed() {
        let _ = writeln!(text, "  failed at {step} on {} ({}):", r.target, failure.kind.name());
        for line in failure.message.lines() {
            let _ = writeln!(text, "    {line}");
        }
        if let Some(m) = failure.mismatch_values() {
            let _ = writeln!(text, "    at       {}", m.path);
            let _ = writeln!(text, "    expected {}", m.expected);
            for (k, line) in m.actual.lines().enumerate() {
                let _ = writeln!(text, "    {} {line}", if k == 0 { "actual  " } else { "        " });
            }
        }
        let _ = writeln!(text, "  timeline (last {FAILURE_CONTEXT} entries):");
        for e in r.timeline.tail(FAILURE_CONTEXT) {
            let _ = writeln!(text, "    {e}");
        }
    }
    text
}

/// The closing line: `N passed, M failed, K skipped`.
pub fn summary_text(s: &Summary, interrupted: bool) -> String {
    let mut line = format!("{} passed, {} failed, {} skipped", s.passed, s.failed, s.skipped);
    if interrupted {
        line = format!("interrupted: {line}, {} not run", s.cancelled);
    }
    line
}

impl<W: Write> Reporter for TextReporter<W> {
    fn event(&mut self, event: &RunEvent) {
        match event {
            RunEvent::RunStarted { .. } => {}
            RunEvent::LeftOut { name, path, reason } => {
                self.write_block(&format!("SKIP {name} ({}): {reason}\n", path.display()));
            }
            RunEvent::ScenarioStarted { run, name, target, .. } => {
                if let Some(multi) = &self.multi {
                    let bar = multi.add(indicatif::ProgressBar::new_spinner());
                    bar.set_style(
                        indicatif::ProgressStyle::with_template("{spinner} {elapsed:>4} {prefix}: {wide_msg}")
                            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
                    );
                    bar.set_prefix(name.clone());
                    bar.set_message(format!("starting on {target}"));
                    bar.enable_steady_tick(Duration::from_millis(120));
                    self.bars.insert(*run, bar);
                }
            }
            RunEvent::StepStarted { run, scenario, label, waits_for, .. } => {
                self.running.insert(
                    *run,
                    Running {
                        scenario: scenario.clone(),
                        label: label.clone(),
                        waits_for: waits_for.clone(),
                        progress: None,
                        since: Instant::now(),
                        slow_lines: 0,
                    },
                );
                self.status(*run);
            }
            RunEvent::StepProgress { run, text, .. } => {
                if let Some(r) = self.running.get_mut(run) {
                    r.progress = Some(text.clone());
                }
                self.status(*run);
            }
            RunEvent::StepFinished { run, .. } => {
                self.running.remove(run);
            }
            RunEvent::ScenarioFinished { run, report } => {
                self.running.remove(run);
                if let Some(bar) = self.bars.remove(run) {
                    bar.finish_and_clear();
                    if let Some(multi) = &self.multi {
                        multi.remove(&bar);
                    }
                }
                self.write_block(&scenario_text(report));
            }
            RunEvent::RunFinished { summary, interrupted } => {
                for bar in self.bars.values() {
                    bar.finish_and_clear();
                }
                self.write_block(&format!("{}\n", summary_text(summary, *interrupted)));
            }
        }
    }

    fn tick(&mut self) {
        if self.multi.is_some() {
            return;
        }
        let mut lines = String::new();
        for r in self.running.values_mut() {
            let waited = r.since.elapsed();
            let due = self.slow * (r.slow_lines + 1);
            if waited >= due {
                r.slow_lines += 1;
                let what = r.progress.clone().unwrap_or_else(|| format!("waiting for {}", r.waits_for));
                lines.push_str(&format!("SLOW [>{:>3} s] {}: {}: {what}\n", waited.as_secs(), r.scenario, r.label));
            }
        }
        if !lines.is_empty() {
            self.write_block(&lines);
        }
    }
}

/// `--message-format json`: one JSON object per line, in the shape of
/// libtest's JSON output (`type` `suite`/`test`, `event`
/// `started`/`ok`/`failed`/`ignored`), with `step` objects between a
/// scenario's `started` and its end:
///
/// ```text
/// {"type":"suite","event":"started","test_count":2}
/// {"type":"test","event":"started","name":"highway","path":"scenarios/highway.toml","target":"sim"}
/// {"type":"step","event":"started","name":"highway","index":1,"label":"step 1 (replay, line 12)","waits_for":"…"}
/// {"type":"step","event":"ok","name":"highway","index":1,"label":"step 1 (replay, line 12)","exec_time":0.2}
/// {"type":"test","event":"ok","name":"highway","exec_time":0.9}
/// {"type":"suite","event":"ok","passed":2,"failed":0,"ignored":0,"exec_time":1.8}
/// ```
///
/// A failed step or scenario carries `kind` (see
/// [`FailureKind::name`](crate::outcome::FailureKind::name)), `message`,
/// and for a mismatch `path`, `expected` and `actual`; a skipped scenario
/// is `ignored` with its `reason`. Times are in seconds.
pub struct JsonReporter<W: Write> {
    out: W,
    started: Instant,
}

impl<W: Write> JsonReporter<W> {
    /// Writes to `out`.
    pub fn new(out: W) -> Self {
        Self { out, started: Instant::now() }
    }

    fn line(&mut self, v: serde_json::Value) {
        let _ = writeln!(self.out, "{v}");
        let _ = self.out.flush();
    }
}

fn failure_json(v: &mut serde_json::Value, f: &Failure) {
    v["kind"] = json!(f.kind.name());
    v["message"] = json!(f.message);
    if let Some(m) = f.mismatch_values() {
        v["path"] = json!(m.path);
        v["expected"] = json!(m.expected);
        v["actual"] = json!(m.actual);
    }
    if let crate::outcome::FailureKind::Timeout { waiting_for } = &f.kind {
        v["waiting_for"] = json!(waiting_for);
    }
}

impl<W: Write> Reporter for JsonReporter<W> {
    fn event(&mut self, event: &RunEvent) {
        match event {
            RunEvent::RunStarted { scenarios } => {
                self.started = Instant::now();
                self.line(json!({"type": "suite", "event": "started", "test_count": scenarios}));
            }
            RunEvent::LeftOut { name, path, reason } => self.line(json!({
                "type": "test", "event": "ignored", "name": name, "path": path, "reason": reason
            })),
            RunEvent::ScenarioStarted { name, path, target, .. } => self.line(json!({
                "type": "test", "event": "started", "name": name, "path": path, "target": target
            })),
            RunEvent::StepStarted { scenario, index, label, waits_for, .. } => self.line(json!({
                "type": "step", "event": "started", "name": scenario, "index": index, "label": label,
                "waits_for": waits_for
            })),
            RunEvent::StepProgress { .. } => {}
            RunEvent::StepFinished { scenario, index, label, failure, ms, .. } => {
                let mut v = json!({
                    "type": "step", "event": if failure.is_some() { "failed" } else { "ok" },
                    "name": scenario, "index": index, "label": label, "exec_time": ms / 1000.0
                });
                if let Some(f) = failure {
                    failure_json(&mut v, f);
                }
                self.line(v);
            }
            RunEvent::ScenarioFinished { report, .. } => {
                let event = match report.outcome() {
                    Outcome::Passed => "ok",
                    Outcome::Failed => "failed",
                    Outcome::Skipped => "ignored",
                };
                let mut v = json!({
                    "type": "test", "event": event, "name": report.name, "path": report.path,
                    "target": report.target, "exec_time": report.duration_ms / 1000.0
                });
                if let Some(why) = &report.skipped {
                    v["reason"] = json!(why);
                }
                if let Some(plan) = &report.fault_plan {
                    v["fault_plan"] = json!(plan);
                }
                if let Some((step, f)) = report.failed() {
                    v["step"] = json!(step);
                    failure_json(&mut v, f);
                }
                self.line(v);
            }
            RunEvent::RunFinished { summary, interrupted } => {
                let event = if summary.failed > 0 || *interrupted { "failed" } else { "ok" };
                self.line(json!({
                    "type": "suite", "event": event, "passed": summary.passed, "failed": summary.failed,
                    "ignored": summary.skipped, "cancelled": summary.cancelled, "interrupted": interrupted,
                    "exec_time": self.started.elapsed().as_secs_f64()
                }));
            }
        }
    }
}

/// `--junit FILE` and `--report DIR`, rewritten after every scenario (and
/// at the end), so a run killed halfway leaves its results so far.
#[derive(Default)]
pub struct FileReporter {
    junit: Option<PathBuf>,
    html: Option<PathBuf>,
    thumbs: Option<filmstrip::Thumbnails>,
    reports: Vec<ScenarioReport>,
    summary: Summary,
    /// What could not be written, by file.
    pub errors: Vec<String>,
}

impl FileReporter {
    /// Writes JUnit XML to `junit` and the HTML report into `html`, each if
    /// given.
    pub fn new(junit: Option<PathBuf>, html: Option<PathBuf>) -> Self {
        let thumbs = html.as_deref().map(filmstrip::Thumbnails::new);
        Self { junit, html, thumbs, ..Self::default() }
    }

    fn write(&mut self) {
        self.errors.clear();
        if let Some(Err(e)) = self.junit.as_ref().map(|p| junit::write(p, &self.reports)) {
            self.errors.push(format!("JUnit report: {e}"));
        }
        if let (Some(dir), Some(thumbs)) = (self.html.as_ref(), self.thumbs.as_mut())
            && let Err(e) = html::write_with(dir, &self.reports, &self.summary, thumbs)
        {
            self.errors.push(format!("HTML report: {e}"));
        }
    }
}

impl Reporter for FileReporter {
    fn event(&mut self, event: &RunEvent) {
        match event {
            RunEvent::LeftOut { name, path, reason } => {
                self.summary.skipped += 1;
                self.reports.push(ScenarioReport::left_out(name, path, reason));
            }
            RunEvent::ScenarioFinished { report, .. } => {
                match report.outcome() {
                    Outcome::Passed => self.summary.passed += 1,
                    Outcome::Failed => self.summary.failed += 1,
                    Outcome::Skipped => self.summary.skipped += 1,
                }
                self.reports.push((**report).clone());
                self.write();
            }
            RunEvent::RunFinished { summary, .. } => {
                self.summary = *summary;
                self.write();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step_started(run: usize) -> RunEvent {
        RunEvent::StepStarted {
            run,
            scenario: "highway".into(),
            index: 2,
            label: "step 2 (expect_events, line 9)".into(),
            waits_for: "exactly 3 `motion` event(s)".into(),
        }
    }

    #[test]
    fn off_a_terminal_a_waiting_step_gets_slow_lines_until_it_ends() {
        let mut out = Vec::new();
        {
            let mut r = TextReporter::new(&mut out).slow_after(Duration::ZERO);
            r.event(&step_started(0));
            r.tick();
            r.event(&RunEvent::StepProgress {
                run: 0,
                scenario: "highway".into(),
                index: 2,
                text: "frame 3 of 9".into(),
            });
            r.tick();
            r.event(&RunEvent::StepFinished {
                run: 0,
                scenario: "highway".into(),
                index: 2,
                label: "step 2 (expect_events, line 9)".into(),
                failure: None,
                ms: 1.0,
            });
            r.tick();
        }
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].ends_with("highway: step 2 (expect_events, line 9): waiting for exactly 3 `motion` event(s)"));
        assert!(lines[1].starts_with("SLOW [") && lines[1].ends_with(": frame 3 of 9"), "{text}");
    }

    #[test]
    fn json_lines_follow_libtest_with_steps_between() {
        let mut out = Vec::new();
        {
            let mut r = JsonReporter::new(&mut out);
            r.event(&RunEvent::RunStarted { scenarios: 1 });
            r.event(&step_started(0));
            let failure = crate::outcome::Failure::differs("sent x", "$.ok", "true", "false");
            r.event(&RunEvent::StepFinished {
                run: 0,
                scenario: "highway".into(),
                index: 2,
                label: "step 2".into(),
                failure: Some(failure),
                ms: 1500.0,
            });
            let summary = Summary { passed: 0, failed: 1, skipped: 0, cancelled: 0 };
            r.event(&RunEvent::RunFinished { summary, interrupted: false });
        }
        let lines: Vec<serde_json::Value> =
            String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines[0], json!({"type": "suite", "event": "started", "test_count": 1}));
        assert_eq!((&lines[1]["type"], &lines[1]["event"]), (&json!("step"), &json!("started")));
        let failed = &lines[2];
        assert_eq!(
            (&failed["event"], &failed["kind"], &failed["path"]),
            (&json!("failed"), &json!("mismatch"), &json!("$.ok"))
        );
        assert_eq!(
            (&failed["expected"], &failed["actual"], &failed["exec_time"]),
            (&json!("true"), &json!("false"), &json!(1.5))
        );
        assert_eq!((&lines[3]["event"], &lines[3]["failed"]), (&json!("failed"), &json!(1)));
    }
}
