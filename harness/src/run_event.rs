//! What a run tells its reporters as it goes: scenario and step begin and
//! end events, in the order they happen ([`crate::report::Reporter`]).

use std::path::PathBuf;

use crate::outcome::Failure;
use crate::runner::ScenarioReport;
use crate::suite::Summary;

/// One thing that happened in a run. `run` numbers the scenario runs of a
/// suite (0-based, in the order they start), so that reporters can follow
/// several at once.
#[derive(Debug, Clone)]
pub enum RunEvent {
    /// The run begins with this many scenario runs planned.
    RunStarted {
        /// Scenario runs planned (scenarios × repeats).
        scenarios: usize,
    },
    /// A scenario left out before the run (`--skip-tag`), and why.
    LeftOut {
        /// Scenario name.
        name: String,
        /// Scenario file.
        path: PathBuf,
        /// Why, e.g. ``tagged `storage`, left out by --skip-tag``.
        reason: String,
    },
    /// A scenario run begins on a target.
    ScenarioStarted {
        /// The run's number.
        run: usize,
        /// Scenario name.
        name: String,
        /// Scenario file.
        path: PathBuf,
        /// The `--target` it runs on.
        target: String,
    },
    /// A step begins.
    StepStarted {
        /// The run's number.
        run: usize,
        /// Scenario name.
        scenario: String,
        /// 1-based step number.
        index: usize,
        /// `step 3 (expect_events, line 14)`.
        label: String,
        /// What it waits for, e.g. ``exactly 3 `motion` event(s)``.
        waits_for: String,
    },
    /// A running step got this far (a replay's frames).
    StepProgress {
        /// The run's number.
        run: usize,
        /// Scenario name.
        scenario: String,
        /// 1-based step number.
        index: usize,
        /// How far, e.g. `frame 120 of 400, 12 event(s)`.
        text: String,
    },
    /// A step ended.
    StepFinished {
        /// The run's number.
        run: usize,
        /// Scenario name.
        scenario: String,
        /// 1-based step number.
        index: usize,
        /// `step 3 (expect_events, line 14)`.
        label: String,
        /// `None` when it passed.
        failure: Option<Failure>,
        /// How long it took, in ms.
        ms: f64,
    },
    /// A scenario run ended (passed, failed or skipped).
    ScenarioFinished {
        /// The run's number.
        run: usize,
        /// Its report.
        report: Box<ScenarioReport>,
    },
    /// The run ended.
    RunFinished {
        /// The totals.
        summary: Summary,
        /// Whether Ctrl-C or SIGTERM stopped it early.
        interrupted: bool,
    },
}
