//! The console watch: the target's serial console lines during a scenario,
//! the lines `expect_console` steps consumed, and trouble seen on it (a
//! panic, a reset, a watchdog, the port vanishing).

use tokio::sync::broadcast;
use tokio::time::timeout_at;

use crate::board::{ConsoleLine, crash};
use crate::outcome::{Failure, FailureKind};
use crate::target::ConsoleTap;
use crate::timeline::{Channel, Timeline};

/// What went wrong on the console: the board crashed or rebooted, or it
/// vanished.
#[derive(Debug, Clone)]
struct Trouble {
    kind: FailureKind,
    what: String,
    /// Index into the lines seen.
    at: usize,
}

/// The console side of a scenario run.
#[derive(Debug, Default)]
pub struct ConsoleWatch {
    rx: Option<broadcast::Receiver<ConsoleLine>>,
    /// Console lines up to this number are the boot log.
    boot_end: u64,
    /// Lines seen during the scenario.
    pub lines: Vec<String>,
    /// Lines before this index were consumed by an `expect_console` step.
    cursor: usize,
    trouble: Option<Trouble>,
    /// The harness reset the cam: its boot log is expected, not trouble,
    /// until its `listening on` line.
    rebooting: bool,
}

impl ConsoleWatch {
    /// Watches `tap` (a target with a serial console).
    pub fn new(tap: Option<ConsoleTap>) -> Self {
        match tap {
            Some(t) => Self { rx: Some(t.lines), boot_end: t.boot_end, ..Self::default() },
            None => Self::default(),
        }
    }

    /// Whether the target has (or had) a console.
    pub fn exists(&self) -> bool {
        self.rx.is_some() || !self.lines.is_empty()
    }

    /// The harness is about to reset the cam: the boot log that follows is
    /// expected, up to its `listening on` line.
    pub fn expect_reboot(&mut self) {
        self.rebooting = true;
    }

    /// After [`Self::expect_reboot`], waits for the cam's `listening on`
    /// line (at once for a target without a console).
    ///
    /// # Errors
    /// No such line before `deadline`, or the console is gone.
    pub async fn wait_listening(
        &mut self,
        deadline: tokio::time::Instant,
        timeline: &mut Timeline,
    ) -> Result<(), Failure> {
        if !self.exists() {
            self.rebooting = false;
            return Ok(());
        }
        loop {
            self.drain(timeline);
            if !self.rebooting {
                return Ok(());
            }
            let Some(rx) = self.rx.as_mut() else {
                return Err(Failure::new(FailureKind::TargetGone, "the board's console is gone"));
            };
            match timeout_at(deadline, rx.recv()).await {
                Ok(Ok(line)) => self.record(line, timeline),
                Ok(Err(broadcast::error::RecvError::Lagged(_))) => continue,
                Ok(Err(broadcast::error::RecvError::Closed)) => self.rx = None,
                Err(_) => {
                    return Err(Failure::timeout(
                        "the cam's `listening on` line after the reset",
                        "the cam printed no `listening on` line after the reset before the step's timeout",
                    ));
                }
            }
        }
    }

    /// Records the lines that have arrived, without waiting.
    pub fn drain(&mut self, timeline: &mut Timeline) {
        while let Some(rx) = self.rx.as_mut() {
            match rx.try_recv() {
                Ok(line) => self.record(line, timeline),
                Err(broadcast::error::TryRecvError::Lagged(n)) => {
                    timeline.push(Channel::Console, format!("({n} console lines lost: the harness fell behind)"))
                }
                Err(_) => break,
            }
        }
    }

    /// Waits for the next line (after those consumed) matching `regex`, and
    /// consumes it and those before it.
    ///
    /// # Errors
    /// No such line before `deadline` ([`FailureKind::Timeout`]), or the
    /// console is gone ([`FailureKind::TargetGone`]).
    pub async fn next_matching(
        &mut self,
        regex: &regex::Regex,
        deadline: tokio::time::Instant,
        timeout_ms: u128,
        timeline: &mut Timeline,
    ) -> Result<(), Failure> {
        loop {
            self.drain(timeline);
            if let Some(i) = self.lines[self.cursor..].iter().position(|l| regex.is_match(l)) {
                self.cursor += i + 1;
                return Ok(());
            }
            let Some(rx) = self.rx.as_mut() else {
                return Err(Failure::new(FailureKind::TargetGone, "the board's console is gone"));
            };
            match timeout_at(deadline, rx.recv()).await {
                Ok(Ok(line)) => self.record(line, timeline),
                Ok(Err(broadcast::error::RecvError::Lagged(_))) => continue,
                Ok(Err(broadcast::error::RecvError::Closed)) => self.rx = None,
                Err(_) => {
                    let seen = &self.lines[self.cursor..];
                    return Err(Failure::timeout(
                        format!("a console line matching /{}/", regex.as_str()),
                        format!(
                            "no console line matching /{}/ within {timeout_ms} ms ({} line(s) seen meanwhile{})",
                            regex.as_str(),
                            seen.len(),
                            seen.last().map_or(String::new(), |l| format!(", the last: {l:?}"))
                        ),
                    ));
                }
            }
        }
    }

    fn record(&mut self, line: ConsoleLine, timeline: &mut Timeline) {
        match line {
            ConsoleLine::Line(at, seq, text) => {
                timeline.push_at(at, Channel::Console, text.clone());
                if self.rebooting && text.starts_with(crate::board::LISTENING) {
                    self.rebooting = false;
                    self.lines.push(text);
                    return;
                }
                let judged = seq > self.boot_end && !self.rebooting;
                if let (None, Some(what), true) = (&self.trouble, crash(&text), judged) {
                    let at = self.lines.len();
                    self.trouble = Some(Trouble { kind: FailureKind::Rebooted, what: what.to_string(), at });
                }
                self.lines.push(text);
            }
            ConsoleLine::Gone(why) => {
                timeline.push(Channel::Console, format!("(port gone: {why})"));
                if self.trouble.is_none() {
                    let what = format!("the board vanished ({why})");
                    self.trouble = Some(Trouble { kind: FailureKind::TargetGone, what, at: self.lines.len() });
                }
                self.rx = None;
            }
        }
    }

    /// The trouble seen so far, with the lines around it; reported for
    /// every later step too.
    pub fn failure(&self) -> Option<Failure> {
        let t = self.trouble.as_ref()?;
        let from = t.at.saturating_sub(5);
        let to = (t.at + 10).min(self.lines.len());
        let excerpt: Vec<String> = self.lines[from..to].iter().map(|l| format!("  | {l}")).collect();
        Some(Failure::new(t.kind.clone(), format!("the board's console shows {}:\n{}", t.what, excerpt.join("\n"))))
    }
}
