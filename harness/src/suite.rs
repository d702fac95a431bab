//! Many scenarios: find the files, load them all (any error stops the run
//! before anything runs), filter by tag, run each on a freshly opened
//! target, and tell a [`Reporter`] what happens as it happens
//! ([`RunEvent`]): list → run → report, as cargo-nextest does.
//!
//! A panic while running a scenario fails that scenario with the panic's
//! message and location, and the run goes on. A cancel (Ctrl-C, SIGTERM)
//! stops the run: scenarios running are dropped with their targets
//! (simulators and QEMU stopped, boards released), none starts, and the
//! reporters get the end of the run.

use std::path::{Path, PathBuf};

use futures_util::FutureExt;

use crate::outcome::{Failure, panic_failure};
use crate::report::Reporter;
use crate::run_event::RunEvent;
use crate::runner::{self, ClipCache, Progress, RunEnv, ScenarioReport};
use crate::scenario::{self, Scenario, ScenarioError};
use crate::target::TargetSpec;

/// Which scenarios to run (`cam-hil run` filters).
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Only scenarios with at least one of these tags (all when empty).
    pub tags: Vec<String>,
    /// No scenario with any of these tags.
    pub skip_tags: Vec<String>,
    /// Only scenarios whose name or file stem contains this text.
    pub name: Option<String>,
    /// `(i, n)`: only the i-th of n shards (1-based), by position in the
    /// sorted file list, for splitting a suite across CI machines.
    pub shard: Option<(usize, usize)>,
}

impl Selection {
    fn admits(&self, s: &Scenario) -> bool {
        let has = |tags: &[String]| s.tags.iter().any(|t| tags.contains(t));
        let stem = s.path.file_stem().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        (self.tags.is_empty() || has(&self.tags))
            && !has(&self.skip_tags)
            && self.name.as_ref().is_none_or(|n| s.name.contains(n.as_str()) || stem.contains(n.as_str()))
    }
}

/// How to run the selected scenarios.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Scenarios run at once (each on its own target; a cam at a URL runs
    /// them one at a time whatever this says).
    pub jobs: usize,
    /// Runs of each scenario (to hunt flakes).
    pub repeat: usize,
    /// Start no new scenario after the first failure.
    pub fail_fast: bool,
    /// Scenarios left out before the run (`--skip-tag`): name, file and
    /// why; reported as skipped and counted so in the summary.
    pub left_out: Vec<(String, PathBuf, String)>,
    /// When this turns `true` (Ctrl-C, SIGTERM), the run stops.
    pub cancel: Option<tokio::sync::watch::Receiver<bool>>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self { jobs: 1, repeat: 1, fail_fast: false, left_out: Vec::new(), cancel: None }
    }
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
    /// The target cannot be reached.
    #[error("{0}")]
    Unreachable(String),
}

/// The `*.toml` files under `paths` (folders are searched recursively;
/// `*.steps.toml` files of shared steps are left out), sorted, each once.
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
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        // `*.steps.toml` files hold shared steps for `include`, not scenarios.
        if p.is_dir() || (name.ends_with(".toml") && !name.ends_with(".steps.toml")) {
            collect(&p, out)?;
        }
    }
    Ok(())
}

/// Loads every file (the first malformed one is an error), then keeps what
/// `selection` admits.
///
/// # Errors
/// [`SuiteError::Scenario`] with file, line and column.
pub fn load_all(files: &[PathBuf], selection: &Selection) -> Result<Vec<Scenario>, SuiteError> {
    let mut all = Vec::new();
    for f in files {
        all.push(scenario::load(f).map_err(Box::new)?);
    }
    let admitted = all.into_iter().filter(|s| selection.admits(s));
    Ok(match selection.shard {
        Some((i, n)) => admitted.enumerate().filter(|(k, _)| k % n == i - 1).map(|(_, s)| s).collect(),
        None => admitted.collect(),
    })
}

/// The scenarios of `files` that `selection` leaves out only for their tags
/// (`--skip-tag`), each with the tag that left it out: what a run should
/// name as skipped rather than pass over in silence.
///
/// # Errors
/// [`SuiteError::Scenario`] with file, line and column.
pub fn left_out_by_tag(files: &[PathBuf], selection: &Selection) -> Result<Vec<(Scenario, String)>, SuiteError> {
    let without_skips = Selection { skip_tags: Vec::new(), ..selection.clone() };
    Ok(load_all(files, &without_skips)?
        .into_iter()
        .filter_map(|s| {
            let tag = s.tags.iter().find(|t| selection.skip_tags.contains(t)).cloned();
            tag.map(|t| (s, t))
        })
        .collect())
}

/// Totals of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Scenario runs that passed.
    pub passed: usize,
    /// Scenario runs that failed.
    pub failed: usize,
    /// Scenario runs not started (after a failure with `fail_fast`), runs
    /// the target cannot give what they need, and scenarios left out by
    /// `--skip-tag`.
    pub skipped: usize,
    /// Scenario runs a cancel stopped or kept from starting.
    pub cancelled: usize,
}

/// Runs `scenarios` one after another, each on a target opened for it.
pub async fn run(
    scenarios: &[Scenario],
    target: &TargetSpec,
    reporter: &mut dyn Reporter,
) -> (Summary, Vec<ScenarioReport>) {
    run_with(scenarios, target, &RunOptions::default(), reporter).await
}

/// Runs `scenarios` as `options` say: up to `jobs` at once (one at a time
/// on a cam at a URL), each `repeat` times, each run on a target opened for
/// it. Reports reach `reporter` as runs finish; the returned reports are in
/// scenario order.
pub async fn run_with(
    scenarios: &[Scenario],
    target: &TargetSpec,
    options: &RunOptions,
    reporter: &mut dyn Reporter,
) -> (Summary, Vec<ScenarioReport>) {
    run_on(scenarios, std::slice::from_ref(target), options, reporter).await
}

/// Runs `scenarios` spread over `targets`: each scenario run takes a free
/// target slot (the simulator and the emulated board have `jobs` slots, any
/// other target one) and gives it back when done. A board that vanishes
/// (a [`FailureKind::TargetGone`](crate::outcome::FailureKind::TargetGone)
/// failure) is retired from the pool, so the other targets carry on; when
/// none is left, what has not started is skipped. Events reach `reporter`
/// as they happen; the returned reports are in scenario order.
pub async fn run_on(
    scenarios: &[Scenario],
    targets: &[TargetSpec],
    options: &RunOptions,
    reporter: &mut dyn Reporter,
) -> (Summary, Vec<ScenarioReport>) {
    use futures_util::StreamExt;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    let (events_tx, mut events_rx) = tokio::sync::mpsc::unbounded_channel::<RunEvent>();
    let clips = ClipCache::default();
    let slots: Vec<usize> = (0..targets.len())
        .flat_map(|i| std::iter::repeat_n(i, if targets[i].fresh_per_scenario() { options.jobs.max(1) } else { 1 }))
        .collect();
    let jobs = slots.len();
    let (slot_tx, slot_rx) = tokio::sync::mpsc::unbounded_channel();
    for s in &slots {
        let _ = slot_tx.send(*s);
    }
    // The pool's own sender goes away when the last target slot is retired.
    let alive = AtomicUsize::new(jobs);
    let slot_tx = std::sync::Mutex::new(Some(slot_tx));
    let slot_rx = tokio::sync::Mutex::new(slot_rx);
    let repeat = options.repeat.max(1);
    let stop = AtomicBool::new(false);
    let started = AtomicUsize::new(0);
    let mut summary = Summary { skipped: options.left_out.len(), ..Summary::default() };
    reporter.event(&RunEvent::RunStarted { scenarios: scenarios.len() * repeat });
    for (name, path, why) in &options.left_out {
        reporter.event(&RunEvent::LeftOut { name: name.clone(), path: path.clone(), reason: why.clone() });
    }
    let runs = scenarios.iter().enumerate().flat_map(|(i, s)| (1..=repeat).map(move |k| (i, k, s)));
    let mut stream = futures_util::stream::iter(runs)
        .map(|(i, k, s)| {
            let (stop, slot_rx, slot_tx, alive) = (&stop, &slot_rx, &slot_tx, &alive);
            let (clips, events_tx, started) = (&clips, &events_tx, &started);
            async move {
                let not_started = |why: &str| {
                    let name = if repeat > 1 { format!("{} #{k}", s.name) } else { s.name.clone() };
                    (i, k, Err(ScenarioReport::left_out(&name, &s.path, why)))
                };
                if stop.load(Ordering::Relaxed) {
                    return not_started("not started: --fail-fast after a failure");
                }
                let Some(slot) = slot_rx.lock().await.recv().await else {
                    return not_started("not started: no target left (every board vanished)");
                };
                let target = &targets[slot];
                let run = started.fetch_add(1, Ordering::SeqCst);
                let name = if repeat > 1 { format!("{} #{k}", s.name) } else { s.name.clone() };
                let _ = events_tx.send(RunEvent::ScenarioStarted {
                    run,
                    name: name.clone(),
                    path: s.path.clone(),
                    target: target.to_string(),
                });
                let env =
                    RunEnv { clips: clips.clone(), progress: Progress::new(events_tx.clone(), run, name.clone()) };
                let mut report = run_one(s, target, &env).await;
                report.name = name;
                // Only a board is retired: a fresh-per-scenario target
                // (the emulated board) boots anew for the next scenario.
                let gone = report.failed().is_some_and(|(_, f)| f.kind == crate::outcome::FailureKind::TargetGone);
                if gone && matches!(target, TargetSpec::Board(..) | TargetSpec::Labgrid(..)) {
                    if alive.fetch_sub(1, Ordering::SeqCst) == 1 {
                        slot_tx.lock().unwrap_or_else(|p| p.into_inner()).take();
                    }
                } else if let Some(tx) = slot_tx.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
                    let _ = tx.send(slot);
                }
                if options.fail_fast && report.outcome() == runner::Outcome::Failed {
                    stop.store(true, Ordering::Relaxed);
                }
                (i, k, Ok((run, report)))
            }
        })
        .buffer_unordered(jobs);
    let mut done = Vec::new();
    let mut cancel = options.cancel.clone();
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut interrupted = false;
    loop {
        let cancelled = async {
            match cancel.as_mut() {
                Some(rx) => {
                    let _ = rx.wait_for(|stop| *stop).await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            next = stream.next() => {
                let Some((i, k, finished)) = next else { break };
                // Step events were sent before the scenario finished.
                while let Ok(e) = events_rx.try_recv() {
                    reporter.event(&e);
                }
                let (run, r) = match finished {
                    Ok(ran) => ran,
                    Err(skip) => (started.fetch_add(1, Ordering::SeqCst), skip),
                };
                match r.outcome() {
                    runner::Outcome::Passed => summary.passed += 1,
                    runner::Outcome::Failed => summary.failed += 1,
                    runner::Outcome::Skipped => summary.skipped += 1,
                }
                reporter.event(&RunEvent::ScenarioFinished { run, report: Box::new(r.clone()) });
                done.push((i, k, r));
            }
            Some(e) = events_rx.recv() => reporter.event(&e),
            _ = tick.tick() => reporter.tick(),
            () = cancelled => {
                interrupted = true;
                break;
            }
        }
    }
    // Dropping the stream drops the scenarios still running, and with them
    // their targets.
    drop(stream);
    while let Ok(e) = events_rx.try_recv() {
        reporter.event(&e);
    }
    if interrupted {
        summary.cancelled = scenarios.len() * repeat - done.len();
    }
    reporter.event(&RunEvent::RunFinished { summary, interrupted });
    done.sort_by_key(|(i, k, _)| (*i, *k));
    (summary, done.into_iter().map(|(_, _, r)| r).collect())
}

/// Opens `target` for `scenario` and runs it; a target that cannot give
/// what the scenario needs skips it. A panic anywhere in this (opening the
/// target, the runner's own code) fails the scenario with the panic's
/// message and location.
async fn run_one(scenario: &Scenario, target: &TargetSpec, env: &RunEnv) -> ScenarioReport {
    crate::outcome::install_panic_hook();
    let name = target.to_string();
    let attempt = async {
        match target.open(&scenario.needs).await {
            Ok(t) => runner::run(scenario, t.as_ref(), env).await,
            Err(e) if e.unmet => ScenarioReport::skipped(scenario, &name, e.message),
            Err(e) if e.gone => ScenarioReport::not_started(
                scenario,
                &name,
                Failure::new(crate::outcome::FailureKind::TargetGone, e.to_string()),
            ),
            Err(e) => ScenarioReport::not_started(scenario, &name, Failure::setup(e.to_string())),
        }
    };
    match std::panic::AssertUnwindSafe(attempt).catch_unwind().await {
        Ok(report) => report,
        Err(panic) => ScenarioReport::not_started(scenario, &name, panic_failure(panic.as_ref())),
    }
}
