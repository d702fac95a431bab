//! `ping`: a WebSocket ping on the control connection; the pong must carry
//! the same payload.

use super::{Action, Kind, StepCx, StepFuture, StepTable};
use crate::outcome::Failure;
use crate::runner::Session;
use crate::scenario::ScenarioError;
use crate::timeline::Channel;

/// The `ping` step kind.
pub const KIND: Kind = Kind {
    keywords: &["ping"],
    modifiers: &[],
    example: r#"[[step]]
ping = "are you there"                 # the pong must carry the same payload
"#,
    parse,
};

/// Send a WebSocket ping; the pong must carry the same payload.
#[derive(Debug)]
pub struct Ping {
    /// Ping payload.
    pub payload: String,
}

fn parse(t: &mut StepTable<'_>) -> Result<Box<dyn Action>, ScenarioError> {
    Ok(Box::new(Ping { payload: t.take("ping")?.expect("chosen") }))
}

impl Action for Ping {
    fn kind(&self) -> &'static str {
        KIND.name()
    }

    fn waits_for(&self) -> String {
        "the pong".into()
    }

    fn run<'a>(&'a self, s: &'a mut Session<'_>, cx: &'a StepCx<'_>) -> StepFuture<'a> {
        Box::pin(async move {
            let control = s.control.get(&s.endpoint, cx.deadline, &mut s.timeline).await?;
            let pong = control.ping(self.payload.as_bytes()).await.map_err(Failure::transport)?;
            let got = String::from_utf8_lossy(&pong).into_owned();
            s.timeline.push(Channel::Ws, format!("ping {:?} -> pong {got:?}", self.payload));
            if pong == self.payload.as_bytes() {
                Ok(())
            } else {
                Err(Failure::differs("ping", "pong payload", format!("{:?}", self.payload), format!("{got:?}")))
            }
        })
    }
}
