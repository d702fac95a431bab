//! Typed outcomes: how a step and a scenario end.
//!
//! A step passes or fails with a [`Failure`], whose [`FailureKind`] says
//! what sort of failure it is (a wait that ran out, a value that did not
//! match, the network, the target gone, the SSE rules, a reboot, a panic).
//! Control flow (retiring a board, exit codes) reads the kind, never the
//! message; reports show the message and, for a mismatch, the expected and
//! actual values side by side.

use std::fmt;

/// What sort of failure ended a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureKind {
    /// A wait ran out before what it waited for came.
    Timeout {
        /// What the step was waiting for, e.g. `3 motion event(s)`.
        waiting_for: String,
    },
    /// A value did not match its expectation.
    Mismatch(Mismatch),
    /// The network failed: a connection, a request or a stream broke.
    Transport,
    /// The target went away: a board's port vanished, QEMU ended.
    TargetGone,
    /// The SSE stream broke a rule of `docs/protocol.md` ("Event ids",
    /// "Reboots"): ids out of order, an unannounced reboot, acked events
    /// lost, a stream that is not `text/event-stream`.
    SseRules,
    /// The cam crashed or rebooted during the step (its console shows a
    /// panic, a reset or a watchdog).
    Rebooted,
    /// The harness itself panicked while running the step.
    Panicked {
        /// `file:line:column` of the panic.
        location: String,
    },
    /// The scenario could not start: the target cannot be reached or set up.
    Setup,
}

impl FailureKind {
    /// A short stable name: `timeout`, `mismatch`, `transport`,
    /// `target-gone`, `sse-rules`, `rebooted`, `panicked`, `setup` (JSON
    /// messages and JUnit `type` attributes).
    pub fn name(&self) -> &'static str {
        match self {
            FailureKind::Timeout { .. } => "timeout",
            FailureKind::Mismatch(_) => "mismatch",
            FailureKind::Transport => "transport",
            FailureKind::TargetGone => "target-gone",
            FailureKind::SseRules => "sse-rules",
            FailureKind::Rebooted => "rebooted",
            FailureKind::Panicked { .. } => "panicked",
            FailureKind::Setup => "setup",
        }
    }
}

/// Where a value differed from what was expected: a JSON path (`$.ok`), a
/// name for what was compared (`status`, `Content-Type`), or nothing for
/// the reply as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// Where: `$.saved`, `status`, `Content-Type`, … (empty: the whole reply).
    pub path: String,
    /// What was expected, as text.
    pub expected: String,
    /// What arrived, as text.
    pub actual: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.path.as_str() {
            "" => write!(f, "expected {}, got {}", self.expected, self.actual),
            p if p.starts_with('$') => write!(f, "{p}: expected {}, got {}", self.expected, self.actual),
            p => write!(f, "expected {p} {}, got {}", self.expected, self.actual),
        }
    }
}

/// Why a step (or the scenario's setup) failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What sort of failure.
    pub kind: FailureKind,
    /// What happened, for a person: one line or more.
    pub message: String,
}

impl Failure {
    /// A failure of `kind` with `message`.
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }

    /// A wait for `waiting_for` ran out.
    pub fn timeout(waiting_for: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(FailureKind::Timeout { waiting_for: waiting_for.into() }, message)
    }

    /// `what` did not match: `context` says where it came from (`sent
    /// {"cmd":"status"}`), `m` where and how it differs.
    pub fn mismatch(context: impl fmt::Display, m: Mismatch) -> Self {
        let message = format!("{context}: {m}");
        Self::new(FailureKind::Mismatch(m), message)
    }

    /// `path` was `actual`, not `expected`.
    pub fn differs(
        context: impl fmt::Display,
        path: impl Into<String>,
        expected: impl Into<String>,
        actual: impl Into<String>,
    ) -> Self {
        Self::mismatch(context, Mismatch { path: path.into(), expected: expected.into(), actual: actual.into() })
    }

    /// The network failed.
    pub fn transport(message: impl Into<String>) -> Self {
        Self::new(FailureKind::Transport, message)
    }

    /// The SSE stream broke a protocol rule.
    pub fn sse_rules(message: impl Into<String>) -> Self {
        Self::new(FailureKind::SseRules, message)
    }

    /// The scenario could not start.
    pub fn setup(message: impl Into<String>) -> Self {
        Self::new(FailureKind::Setup, message)
    }

    /// The expected and actual values, when the failure is a mismatch.
    pub fn mismatch_values(&self) -> Option<&Mismatch> {
        match &self.kind {
            FailureKind::Mismatch(m) => Some(m),
            _ => None,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
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

impl Outcome {
    /// `passed`, `failed` or `skipped`.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::Skipped => "skipped",
        }
    }
}

/// The message and `file:line:col` of a panic caught while running a
/// scenario: the payload's text, and the location the panic hook recorded
/// on this thread ([`install_panic_hook`]).
pub fn panic_failure(payload: &(dyn std::any::Any + Send)) -> Failure {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with a non-text payload".into());
    let location = LAST_PANIC.with(|l| l.borrow_mut().take()).unwrap_or_else(|| "unknown location".into());
    Failure::new(
        FailureKind::Panicked { location: location.clone() },
        format!("the harness panicked at {location}: {text}"),
    )
}

thread_local! {
    static LAST_PANIC: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Chains a panic hook that remembers, per thread, where the last panic
/// happened, so that [`panic_failure`] can name it. Idempotent.
pub fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if let Some(l) = info.location() {
                let at = format!("{}:{}:{}", l.file(), l.line(), l.column());
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(at));
            }
            previous(info);
        }));
    });
}
