//! `expect_labels`: against the ground truth of the frames injected so far
//! (their clips' `labels.csv`): no `motion` event from a frame in a run of
//! frames labelled 0, at least one from each run labelled 1. Runs shorter
//! than `min_run` frames, and `tolerance` frames at each labelled run's
//! edges, are not judged.

use std::collections::HashSet;

use serde::Deserialize;

use super::{Action, Kind, StepCx, StepFuture, StepTable};
use crate::outcome::{Failure, FailureKind, Mismatch};
use crate::runner::{FrameRecord, Session};
use crate::scenario::ScenarioError;

/// The `expect_labels` step kind.
pub const KIND: Kind = Kind {
    keywords: &["expect_labels"],
    modifiers: &[],
    example: r#"[[step]]
expect_labels = {}                           # judge every labelled frame injected so far

[[step]]
expect_labels = { tolerance = 2, min_run = 3 }
"#,
    parse,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    tolerance: usize,
    #[serde(default = "one")]
    min_run: usize,
}

fn one() -> usize {
    1
}

/// Judge the events against the frames' labels.
#[derive(Debug)]
pub struct ExpectLabels {
    /// Frames at the start and end of each run that are not judged.
    pub tolerance: usize,
    /// Shortest run judged, in frames.
    pub min_run: usize,
}

fn parse(t: &mut StepTable<'_>) -> Result<Box<dyn Action>, ScenarioError> {
    let l: Raw = t.take("expect_labels")?.expect("chosen");
    Ok(Box::new(ExpectLabels { tolerance: l.tolerance, min_run: l.min_run.max(1) }))
}

impl Action for ExpectLabels {
    fn kind(&self) -> &'static str {
        KIND.name()
    }

    fn waits_for(&self) -> String {
        "the events of every acked frame".into()
    }

    fn run<'a>(&'a self, s: &'a mut Session<'_>, cx: &'a StepCx<'_>) -> StepFuture<'a> {
        Box::pin(async move {
            s.catch_up(cx.deadline).await?;
            s.sse.ledger.check()?;
            let with_event: HashSet<usize> =
                s.sse.events.iter().filter(|e| e.name == "motion").filter_map(|e| s.recorder.frame_of(e)).collect();
            let problems = label_problems(&s.recorder.frames, &with_event, self.tolerance, self.min_run);
            if problems.is_empty() {
                return Ok(());
            }
            let m = Mismatch {
                path: "events against labels.csv".into(),
                expected: "events in every run labelled 1 and in none labelled 0".into(),
                actual: format!("{} run(s) judged wrong", problems.len()),
            };
            Err(Failure::new(FailureKind::Mismatch(m), problems.join("\n")))
        })
    }
}

/// What `expect_labels` finds wrong: runs of equally labelled frames (in
/// injection order, per clip) judged against the frames that raised events.
fn label_problems(frames: &[FrameRecord], with_event: &HashSet<usize>, tolerance: usize, min_run: usize) -> Vec<String> {
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
