//! `expect_no_event`: no SSE event beyond those already consumed, once the
//! stream has caught up, and none for `for_ms` more.

use std::time::Duration;

use serde::Deserialize;

use super::{Action, Kind, StepCx, StepFuture, StepTable};
use crate::runner::Session;
use crate::scenario::ScenarioError;

/// The `expect_no_event` step kind.
pub const KIND: Kind = Kind {
    keywords: &["expect_no_event"],
    modifiers: &[],
    example: r#"[[step]]
expect_no_event = {}                 # none once the stream has caught up

[[step]]
expect_no_event = { for_ms = 300 }   # and none for 300 ms more (less than the step's timeout)
"#,
    parse,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    for_ms: u64,
}

/// Expect no event.
#[derive(Debug)]
pub struct ExpectNoEvent {
    /// Extra span to watch, in ms (0: just the catch-up).
    pub for_ms: u64,
}

fn parse(t: &mut StepTable<'_>) -> Result<Box<dyn Action>, ScenarioError> {
    let (raw, span): (Raw, _) = t.take_spanned("expect_no_event")?.expect("chosen");
    let timeout_ms = t.timeout().as_millis() as u64;
    if raw.for_ms >= timeout_ms {
        return Err(t.error(
            Some(span),
            format!(
                "`for_ms` {} is not shorter than the step's timeout of {timeout_ms} ms (the wait would always time out): raise `timeout_ms`",
                raw.for_ms
            ),
        ));
    }
    Ok(Box::new(ExpectNoEvent { for_ms: raw.for_ms }))
}

impl Action for ExpectNoEvent {
    fn kind(&self) -> &'static str {
        KIND.name()
    }

    fn waits_for(&self) -> String {
        format!("the stream to catch up, then {} ms without an event", self.for_ms)
    }

    fn run<'a>(&'a self, s: &'a mut Session<'_>, cx: &'a StepCx<'_>) -> StepFuture<'a> {
        Box::pin(async move {
            s.catch_up(cx.deadline).await?;
            s.sse.ledger.check()?;
            s.sse.check_no_new_event()?;
            if self.for_ms > 0 {
                // The assertion itself spans this time: watch the stream
                // until it ends, failing on the first event.
                let until = (tokio::time::Instant::now() + Duration::from_millis(self.for_ms)).min(cx.deadline);
                s.sse.watch_quiet(until, &mut s.timeline).await?;
            }
            Ok(())
        })
    }
}
