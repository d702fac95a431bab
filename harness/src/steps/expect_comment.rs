//! `expect_comment`: the next SSE comment arriving after the step starts
//! has this text (`: keepalive`).

use serde::Deserialize;

use super::{Action, Kind, StepCx, StepFuture, StepTable};
use crate::outcome::Failure;
use crate::runner::Session;
use crate::scenario::ScenarioError;

/// The `expect_comment` step kind.
pub const KIND: Kind = Kind {
    keywords: &["expect_comment"],
    modifiers: &[],
    example: r#"[[step]]
expect_comment = { text = "keepalive" }   # the next comment after the step starts
timeout_ms = 16000                        # the protocol's 15 s period, plus slack
"#,
    parse,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    text: String,
}

/// Wait for an SSE comment.
#[derive(Debug)]
pub struct ExpectComment {
    /// Comment text, e.g. `keepalive`.
    pub text: String,
}

fn parse(t: &mut StepTable<'_>) -> Result<Box<dyn Action>, ScenarioError> {
    let raw: Raw = t.take("expect_comment")?.expect("chosen");
    Ok(Box::new(ExpectComment { text: raw.text }))
}

impl Action for ExpectComment {
    fn kind(&self) -> &'static str {
        KIND.name()
    }

    fn waits_for(&self) -> String {
        format!("an SSE comment `: {}`", self.text)
    }

    fn run<'a>(&'a self, s: &'a mut Session<'_>, cx: &'a StepCx<'_>) -> StepFuture<'a> {
        Box::pin(async move {
            let seen = s.sse.comments.len();
            loop {
                if s.sse.comments[seen..].iter().any(|c| c == &self.text) {
                    return Ok(());
                }
                if !s.sse.next(cx.deadline, &mut s.timeline).await? {
                    return Err(Failure::timeout(
                        self.waits_for(),
                        format!(
                            "no `: {}` comment within {} ms (comments seen meanwhile: {:?})",
                            self.text,
                            cx.step.timeout.as_millis(),
                            &s.sse.comments[seen..]
                        ),
                    ));
                }
            }
        })
    }
}
