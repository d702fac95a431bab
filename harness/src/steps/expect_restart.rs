//! `expect_restart`: the cam rebooted. A `restart` event arrives (or has
//! arrived since the last `expect_restart`), the stream has caught up, and
//! at most `max_lost` acked `motion` events were lost in the reboot.
//! Without this step a `restart` event fails the next `expect_*` step.

use serde::Deserialize;

use super::{Action, Kind, StepCx, StepFuture, StepTable};
use crate::outcome::Failure;
use crate::runner::Session;
use crate::scenario::ScenarioError;

/// The `expect_restart` step kind.
pub const KIND: Kind = Kind {
    keywords: &["expect_restart"],
    modifiers: &[],
    example: r#"[[step]]
expect_restart = {}                 # a `restart` event; no acked event lost in the reboot

[[step]]
expect_restart = { max_lost = 3 }   # ... or at most 3 lost
"#,
    parse,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    max_lost: usize,
}

/// Expect a reboot.
#[derive(Debug)]
pub struct ExpectRestart {
    /// Acked events that may never arrive (default 0).
    pub max_lost: usize,
}

fn parse(t: &mut StepTable<'_>) -> Result<Box<dyn Action>, ScenarioError> {
    let raw: Raw = t.take("expect_restart")?.expect("chosen");
    Ok(Box::new(ExpectRestart { max_lost: raw.max_lost }))
}

impl Action for ExpectRestart {
    fn kind(&self) -> &'static str {
        KIND.name()
    }

    fn waits_for(&self) -> String {
        "a `restart` event".into()
    }

    fn run<'a>(&'a self, s: &'a mut Session<'_>, cx: &'a StepCx<'_>) -> StepFuture<'a> {
        Box::pin(async move {
            // The restart comes when the stream reconnects after the
            // reboot: wait for it, then for what the new boot acked.
            loop {
                s.drain();
                if s.sse.ledger.restart_pending() {
                    break;
                }
                // Ids of a new boot without a restart break the rules.
                s.sse.ledger.check()?;
                if !s.sse.next(cx.deadline, &mut s.timeline).await? {
                    let ms = cx.step.timeout.as_millis();
                    let message = if s.resets > 0 {
                        format!("the harness reset the cam, but no `restart` event came within {ms} ms: the reboot was not announced")
                    } else {
                        format!("no `restart` event within {ms} ms: the stream shows no reboot")
                    };
                    return Err(Failure::timeout(self.waits_for(), message));
                }
            }
            s.catch_up(cx.deadline).await?;
            s.sse.ledger.expect_restart(self.max_lost)?;
            s.sse.ledger.check()
        })
    }
}
