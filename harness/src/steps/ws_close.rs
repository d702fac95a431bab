//! `ws_close`: close the control WebSocket; the cam must answer the close.

use super::{Action, Empty, Kind, StepCx, StepFuture, StepTable};
use crate::outcome::Failure;
use crate::runner::Session;
use crate::scenario::ScenarioError;
use crate::timeline::Channel;

/// The `ws_close` step kind.
pub const KIND: Kind = Kind {
    keywords: &["ws_close"],
    modifiers: &[],
    example: r#"[[step]]
ws_close = {}                          # the cam must answer the close
"#,
    parse,
};

/// Close the control WebSocket.
#[derive(Debug)]
pub struct WsClose;

fn parse(t: &mut StepTable<'_>) -> Result<Box<dyn Action>, ScenarioError> {
    let _: Empty = t.take("ws_close")?.expect("chosen");
    Ok(Box::new(WsClose))
}

impl Action for WsClose {
    fn kind(&self) -> &'static str {
        KIND.name()
    }

    fn waits_for(&self) -> String {
        "the cam's close frame".into()
    }

    fn run<'a>(&'a self, s: &'a mut Session<'_>, cx: &'a StepCx<'_>) -> StepFuture<'a> {
        Box::pin(async move {
            s.control.get(&s.endpoint, cx.deadline, &mut s.timeline).await?;
            let control = s.control.take().expect("connected above");
            control.close().await.map_err(|e| Failure::differs("WebSocket close", "", "a close frame", e))?;
            s.timeline.push(Channel::Ws, "closed cleanly");
            Ok(())
        })
    }
}
