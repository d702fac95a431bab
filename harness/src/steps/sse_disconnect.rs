//! `sse_disconnect`: cut the SSE stream (the client goes away without a
//! word).

use super::{Action, Empty, Kind, StepCx, StepFuture, StepTable};
use crate::runner::Session;
use crate::scenario::ScenarioError;
use crate::timeline::Channel;

/// The `sse_disconnect` step kind.
pub const KIND: Kind = Kind {
    keywords: &["sse_disconnect"],
    modifiers: &[],
    example: r#"[[step]]
sse_disconnect = {}                    # the client goes away without a word
"#,
    parse,
};

/// Cut the SSE stream.
#[derive(Debug)]
pub struct SseDisconnect;

fn parse(t: &mut StepTable<'_>) -> Result<Box<dyn Action>, ScenarioError> {
    let _: Empty = t.take("sse_disconnect")?.expect("chosen");
    Ok(Box::new(SseDisconnect))
}

impl Action for SseDisconnect {
    fn kind(&self) -> &'static str {
        KIND.name()
    }

    fn waits_for(&self) -> String {
        "nothing".into()
    }

    fn run<'a>(&'a self, s: &'a mut Session<'_>, _cx: &'a StepCx<'_>) -> StepFuture<'a> {
        Box::pin(async move {
            s.sse.disconnect(&mut s.timeline);
            s.timeline.push(Channel::Sse, "disconnected");
            Ok(())
        })
    }
}
