//! `hold`: open more clients of the cam and keep them until the scenario
//! ends: `sse` reading `GET /events` streams and `stalled_sse` ones that
//! never read past the headers (each must be answered 200), `ws` silent
//! WebSockets (each upgraded), and `idle` TCP connections that never send a
//! byte ([`crate::hold`]).

use serde::Deserialize;

use super::{Action, Kind, StepCx, StepFuture, StepTable};
use crate::outcome::Failure;
use crate::runner::Session;
use crate::scenario::ScenarioError;
use crate::timeline::Channel;

/// The `hold` step kind.
pub const KIND: Kind = Kind {
    keywords: &["hold"],
    modifiers: &[],
    example: r#"[[step]]
hold = { sse = 1 }           # SSE clients that read everything (each must get 200)

[[step]]
hold = { stalled_sse = 1 }   # SSE clients that never read past the headers

[[step]]
hold = { ws = 1, idle = 1 }  # silent WebSockets (each upgraded), TCP connections that never send a byte
"#,
    parse,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    sse: usize,
    #[serde(default)]
    stalled_sse: usize,
    #[serde(default)]
    ws: usize,
    #[serde(default)]
    idle: usize,
}

/// Open and keep more clients.
#[derive(Debug)]
pub struct Hold {
    /// Silent WebSocket clients.
    pub ws: usize,
    /// SSE clients that read everything.
    pub sse: usize,
    /// SSE clients that stop reading after the response headers.
    pub stalled_sse: usize,
    /// Connections that never speak.
    pub idle: usize,
}

fn parse(t: &mut StepTable<'_>) -> Result<Box<dyn Action>, ScenarioError> {
    let h: Raw = t.take("hold")?.expect("chosen");
    if h.sse + h.stalled_sse + h.ws + h.idle == 0 {
        return Err(t.step_error("`hold` opens nothing: give `sse`, `stalled_sse`, `ws` or `idle` above 0"));
    }
    Ok(Box::new(Hold { sse: h.sse, stalled_sse: h.stalled_sse, ws: h.ws, idle: h.idle }))
}

impl Action for Hold {
    fn kind(&self) -> &'static str {
        KIND.name()
    }

    fn waits_for(&self) -> String {
        format!("{} client(s) to be answered", self.sse + self.stalled_sse + self.ws + self.idle)
    }

    fn run<'a>(&'a self, s: &'a mut Session<'_>, _cx: &'a StepCx<'_>) -> StepFuture<'a> {
        Box::pin(async move {
            let endpoint = s.endpoint.clone();
            let refused = |what: &str, k: usize, e: String| Failure::transport(format!("{what} {}: {e}", k + 1));
            for k in 0..self.sse {
                s.held.sse(&endpoint, true).await.map_err(|e| refused("held SSE client", k, e))?;
                s.timeline.push(Channel::Sse, format!("held client {} connected (reading)", s.held.len()));
            }
            for k in 0..self.stalled_sse {
                s.held.sse(&endpoint, false).await.map_err(|e| refused("stalled SSE client", k, e))?;
                s.timeline.push(Channel::Sse, format!("held client {} connected (never reads)", s.held.len()));
            }
            for k in 0..self.ws {
                s.held.ws(&endpoint).await.map_err(|e| refused("held WebSocket", k, e))?;
                s.timeline.push(Channel::Ws, format!("held client {} connected (silent)", s.held.len()));
            }
            for k in 0..self.idle {
                s.held.idle(&endpoint).await.map_err(|e| refused("idle connection", k, e))?;
                s.timeline.push(Channel::Http, format!("held client {} connected (never speaks)", s.held.len()));
            }
            Ok(())
        })
    }
}
