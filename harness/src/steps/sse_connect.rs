//! `sse_connect`: open the SSE stream again, resuming from the last event
//! received (`Last-Event-ID`), from nothing, or from a given id.

use serde::Deserialize;

use super::{Action, Kind, StepCx, StepFuture, StepTable};
use crate::runner::Session;
use crate::scenario::ScenarioError;

/// The `sse_connect` step kind.
pub const KIND: Kind = Kind {
    keywords: &["sse_connect"],
    modifiers: &[],
    example: r#"[[step]]
sse_connect = {}                       # reconnect with Last-Event-ID = last id received

[[step]]
sse_connect = { last_event_id = "3f9a0c12-3" }  # ... or this one

[[step]]
sse_connect = { resume = false }       # ... or none
"#,
    parse,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    last_event_id: Option<String>,
    resume: Option<bool>,
}

/// Where a reconnecting SSE stream resumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResumeFrom {
    /// `Last-Event-ID` = the id of the last event received (the default).
    LastReceived,
    /// No `Last-Event-ID` (`resume = false`).
    Fresh,
    /// This `Last-Event-ID` (`last_event_id = "…"`).
    Id(String),
}

/// Open the SSE stream again.
#[derive(Debug)]
pub struct SseConnect {
    /// `Last-Event-ID` to send.
    pub resume: ResumeFrom,
}

fn parse(t: &mut StepTable<'_>) -> Result<Box<dyn Action>, ScenarioError> {
    let c: Raw = t.take("sse_connect")?.expect("chosen");
    let resume = match (c.last_event_id, c.resume) {
        (Some(_), Some(false)) => return Err(t.step_error("`last_event_id` needs `resume` true")),
        (Some(id), _) => ResumeFrom::Id(id),
        (None, Some(false)) => ResumeFrom::Fresh,
        (None, _) => ResumeFrom::LastReceived,
    };
    Ok(Box::new(SseConnect { resume }))
}

impl Action for SseConnect {
    fn kind(&self) -> &'static str {
        KIND.name()
    }

    fn waits_for(&self) -> String {
        "the SSE stream's headers".into()
    }

    fn run<'a>(&'a self, s: &'a mut Session<'_>, cx: &'a StepCx<'_>) -> StepFuture<'a> {
        Box::pin(async move {
            s.sse.disconnect(&mut s.timeline);
            let id = match &self.resume {
                ResumeFrom::LastReceived => s.sse.ledger.last_id().map(str::to_string),
                ResumeFrom::Fresh => None,
                ResumeFrom::Id(id) => Some(id.clone()),
            };
            s.sse.connect(&s.endpoint, id, cx.deadline, &mut s.timeline).await
        })
    }
}
