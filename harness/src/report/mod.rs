//! Reporters: what a person (or CI) sees of a run. The runner produces
//! [`ScenarioReport`]s; a [`Reporter`] shows them as they finish
//! ([`TextReporter`]), and after the run [`junit`] and [`html`] write them
//! to files.

pub mod filmstrip;
pub mod html;
pub mod junit;
mod plot;

use std::io::Write;

use crate::runner::ScenarioReport;
use crate::suite::Summary;

/// Receives each scenario's report as it finishes, then the totals.
pub trait Reporter {
    /// One scenario finished.
    fn scenario(&mut self, report: &ScenarioReport);
    /// The run finished.
    fn summary(&mut self, summary: &Summary);
}

/// Timeline entries shown before a failure.
pub const FAILURE_CONTEXT: usize = 12;

/// Plain text: a line per scenario, the failing step with what was expected
/// and what arrived plus the timeline before it, and a closing
/// `N passed, M failed` line.
pub struct TextReporter<W: Write> {
    out: W,
    progress: Option<indicatif::MultiProgress>,
}

impl<W: Write> TextReporter<W> {
    /// Writes to `out`.
    pub fn new(out: W) -> Self {
        Self { out, progress: None }
    }

    /// Writes to `out` around the progress bars of `progress`, so lines
    /// and bars do not garble each other.
    pub fn with_progress(out: W, progress: indicatif::MultiProgress) -> Self {
        Self { out, progress: Some(progress) }
    }

    fn write_block(&mut self, text: &str) {
        match &self.progress {
            Some(p) => p.suspend(|| {
                let _ = self.out.write_all(text.as_bytes());
                let _ = self.out.flush();
            }),
            None => {
                let _ = self.out.write_all(text.as_bytes());
            }
        }
    }
}

impl<W: Write> Reporter for TextReporter<W> {
    fn scenario(&mut self, r: &ScenarioReport) {
        use std::fmt::Write as _;
        let mut text = String::new();
        if let Some(why) = &r.skipped {
            let _ = writeln!(text, "SKIP {} ({}): {why}", r.name, r.path.display());
            self.write_block(&text);
            return;
        }
        let verdict = if r.passed() { "PASS" } else { "FAIL" };
        let latency = r.latency().map_or(String::new(), |(_, p50, p99, max)| {
            format!(", latency p50 {p50:.1} / p99 {p99:.1} / max {max:.1} ms")
        });
        let _ = writeln!(
            text,
            "{verdict} {} ({}; {} step(s), {} event(s), {:.0} ms{latency})",
            r.name,
            r.path.display(),
            r.steps.len(),
            r.events.len(),
            r.duration_ms
        );
        if let Some((step, message)) = r.failure() {
            let _ = writeln!(text, "  failed at {step} on {}:", r.target);
            for line in message.lines() {
                let _ = writeln!(text, "    {line}");
            }
            let _ = writeln!(text, "  timeline (last {FAILURE_CONTEXT} entries):");
            for e in r.timeline.tail(FAILURE_CONTEXT) {
                let _ = writeln!(text, "    {e}");
            }
        }
        self.write_block(&text);
    }

    fn summary(&mut self, s: &Summary) {
        if s.skipped > 0 {
            let _ = writeln!(self.out, "{} passed, {} failed, {} skipped", s.passed, s.failed, s.skipped);
        } else {
            let _ = writeln!(self.out, "{} passed, {} failed", s.passed, s.failed);
        }
        let _ = self.out.flush();
    }
}
