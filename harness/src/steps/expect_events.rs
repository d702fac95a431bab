//! `expect_events`: SSE events among those not yet consumed by an earlier
//! `expect_*` step, once the stream has delivered the events for every
//! frame the target acked as motion: how many, what every one, the first
//! and the last hold, and how soon each arrived after its frame.

use serde::Deserialize;

use super::{Action, Kind, StepCx, StepFuture, StepTable};
use crate::matcher::Matcher;
use crate::outcome::{Failure, FailureKind};
use crate::runner::sse::summarize;
use crate::runner::{ReceivedEvent, Session};
use crate::scenario::ScenarioError;

/// The `expect_events` step kind.
pub const KIND: Kind = Kind {
    keywords: &["expect_events"],
    modifiers: &[],
    example: r#"[[step]]
expect_events = { event = "motion", count = 1, first = { count = 1, frame = 11 } }

[[step]]
expect_events = { min = 100, fields = { change = { range = [0.0009, 1.0] } }, last = { count = 284 } }
"#,
    parse,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    event: Option<String>,
    count: Option<usize>,
    min: Option<usize>,
    max: Option<usize>,
    fields: Option<toml::Value>,
    first: Option<toml::Value>,
    last: Option<toml::Value>,
    within_ms: Option<f64>,
}

/// Expect SSE events.
#[derive(Debug)]
pub struct ExpectEvents {
    /// SSE event name (default `motion`).
    pub event: String,
    /// Fewest events.
    pub min: usize,
    /// Most events.
    pub max: Option<usize>,
    /// What every event's data must match.
    pub fields: Option<Matcher>,
    /// What the first event's data must match.
    pub first: Option<Matcher>,
    /// What the last event's data must match.
    pub last: Option<Matcher>,
    /// Latency bound: each `motion` event must arrive within this many ms of
    /// the injection of the frame it reports.
    pub within_ms: Option<f64>,
}

fn parse(t: &mut StepTable<'_>) -> Result<Box<dyn Action>, ScenarioError> {
    let (e, span): (Raw, _) = t.take_spanned("expect_events")?.expect("chosen");
    let at = |m: String| t.error(Some(span.clone()), m);
    let (min, max) = match (e.count, e.min, e.max) {
        (Some(c), None, None) => (c, Some(c)),
        (None, min, max) => (min.unwrap_or(1), max),
        _ => return Err(at("`count` cannot be combined with `min`/`max`".into())),
    };
    if max.is_some_and(|m| m < min) {
        return Err(at(format!("`max` {max:?} is below `min` {min}")));
    }
    let matcher = |v: Option<toml::Value>, key: &str| {
        v.map(|v| t.matcher(v, span.clone()).map_err(|e| at(format!("{key}: {}", e.message)))).transpose()
    };
    Ok(Box::new(ExpectEvents {
        event: e.event.unwrap_or_else(|| "motion".into()),
        min,
        max,
        fields: matcher(e.fields, "fields")?,
        first: matcher(e.first, "first")?,
        last: matcher(e.last, "last")?,
        within_ms: match e.within_ms {
            Some(ms) if !(ms > 0.0 && ms.is_finite()) => {
                return Err(at(format!("`within_ms` must be above 0, not {ms}")));
            }
            ms => ms,
        },
    }))
}

impl ExpectEvents {
    fn want(&self) -> String {
        match self.max {
            Some(m) if m == self.min => format!("exactly {}", self.min),
            Some(m) => format!("{} to {m}", self.min),
            None => format!("at least {}", self.min),
        }
    }
}

/// An event's id as sent, `-` without one.
fn id_text(e: &ReceivedEvent) -> &str {
    e.id.as_deref().unwrap_or("-")
}

/// A matcher's mismatch on an event, as a failure naming the event.
fn on_event(what: String, mismatch: crate::outcome::Mismatch) -> Failure {
    let message = format!("{what}: {mismatch}");
    Failure::new(FailureKind::Mismatch(mismatch), message)
}

impl Action for ExpectEvents {
    fn kind(&self) -> &'static str {
        KIND.name()
    }

    fn waits_for(&self) -> String {
        format!("{} `{}` event(s)", self.want(), self.event)
    }

    fn run<'a>(&'a self, s: &'a mut Session<'_>, cx: &'a StepCx<'_>) -> StepFuture<'a> {
        Box::pin(async move {
            s.catch_up(cx.deadline).await?;
            s.sse.ledger.check()?;
            let new: Vec<&ReceivedEvent> = s.sse.events[s.sse.cursor..].iter().filter(|e| e.name == self.event).collect();
            let n = new.len();
            if n < self.min || self.max.is_some_and(|m| n > m) {
                let m = crate::outcome::Mismatch {
                    path: format!("`{}` events", self.event),
                    expected: self.want(),
                    actual: format!("{n}{}", summarize(&new)),
                };
                let message = format!("expected {} `{}` event(s), {n} arrived{}", self.want(), self.event, summarize(&new));
                return Err(Failure::new(FailureKind::Mismatch(m), message));
            }
            for e in &new {
                if let Some(m) = &self.fields {
                    m.check(&e.data).map_err(|why| on_event(format!("event id {}", id_text(e)), why))?;
                }
            }
            if let (Some(m), Some(e)) = (&self.first, new.first()) {
                m.check(&e.data).map_err(|why| on_event(format!("first event (id {})", id_text(e)), why))?;
            }
            if let (Some(m), Some(e)) = (&self.last, new.last()) {
                m.check(&e.data).map_err(|why| on_event(format!("last event (id {})", id_text(e)), why))?;
            }
            if let Some(limit) = self.within_ms {
                for e in new.iter().filter(|e| e.name == "motion") {
                    let frame = s.recorder.frame_of(e).ok_or_else(|| {
                        Failure::differs(
                            format!("event id {}", id_text(e)),
                            "$.frame",
                            "a frame the harness injected",
                            e.data["frame"].to_string(),
                        )
                    })?;
                    let latency = e.at_ms - s.recorder.frames[frame].sent_ms;
                    if latency > limit {
                        let m = crate::outcome::Mismatch {
                            path: "latency".into(),
                            expected: format!("at most {limit} ms"),
                            actual: format!("{latency:.1} ms"),
                        };
                        let message = format!(
                            "event id {} for frame {} arrived {latency:.1} ms after its injection (limit {limit} ms)",
                            id_text(e),
                            s.recorder.frames[frame].reply.frame
                        );
                        return Err(Failure::new(FailureKind::Mismatch(m), message));
                    }
                }
            }
            s.sse.cursor = s.sse.events.len();
            Ok(())
        })
    }
}
