//! `ws_connect`: open the control WebSocket with these credentials; with
//! `expect_status` the upgrade must be refused with that HTTP status, with
//! `expect_reset` the cam must reset the connection (no free slot).

use super::{Action, Kind, RawCredentials, StepCx, StepFuture, StepTable};
use crate::client::{Control, Credentials};
use crate::outcome::Failure;
use crate::runner::Session;
use crate::runner::control::connected_text;
use crate::scenario::ScenarioError;
use crate::timeline::Channel;

/// The `ws_connect` step kind.
pub const KIND: Kind = Kind {
    keywords: &["ws_connect"],
    modifiers: &["expect_status", "expect_reset"],
    example: r#"[[step]]
ws_connect = { no_token = true }       # the upgrade must be refused...
expect_status = 401                    # ...with this HTTP status

[[step]]
ws_connect = { token_in = "query" }    # must succeed (token as ?token=)

[[step]]
ws_connect = {}                        # a client more (the open one stays)...
expect_reset = true                    # ...that the cam resets before answering (no free slot); one try
"#,
    parse,
};

/// Open the control WebSocket.
#[derive(Debug)]
pub struct WsConnect {
    /// Token to send.
    pub credentials: Credentials,
    /// Expected refusal status (`None`: the upgrade must succeed).
    pub status: Option<u16>,
    /// `expect_reset = true`: the cam must reset the connection before
    /// answering (no free connection slot); tried once.
    pub reset: bool,
}

fn parse(t: &mut StepTable<'_>) -> Result<Box<dyn Action>, ScenarioError> {
    let raw: RawCredentials = t.take("ws_connect")?.expect("chosen");
    let credentials = raw.credentials().map_err(|m| t.step_error(m))?;
    let status: Option<u16> = t.take("expect_status")?;
    let reset = t.take::<bool>("expect_reset")?.unwrap_or(false);
    if reset && status.is_some() {
        return Err(t.step_error("`expect_reset` and `expect_status` exclude each other"));
    }
    Ok(Box::new(WsConnect { credentials, status, reset }))
}

impl Action for WsConnect {
    fn kind(&self) -> &'static str {
        KIND.name()
    }

    fn waits_for(&self) -> String {
        match (self.status, self.reset) {
            (_, true) => "the cam to reset the upgrade".into(),
            (Some(s), _) => format!("the upgrade refused with {s}"),
            (None, false) => "the WebSocket upgrade".into(),
        }
    }

    fn run<'a>(&'a self, s: &'a mut Session<'_>, _cx: &'a StepCx<'_>) -> StepFuture<'a> {
        Box::pin(async move {
            if self.reset {
                // A client more (the connection already open stays), tried
                // once: a retry could find a slot an idle connection freed.
                return match Control::connect_once(&s.endpoint, &self.credentials).await {
                    Err(e) if e.reset => {
                        s.timeline.push(Channel::Ws, format!("refused: {}", e.message));
                        Ok(())
                    }
                    Err(e) => Err(Failure::differs("GET /control", "", "a reset connection", e.message)),
                    Ok(_) => Err(Failure::differs(
                        "GET /control",
                        "upgrade",
                        "a reset connection (no free slot)",
                        "accepted",
                    )),
                };
            }
            s.control.set(None);
            let result = Control::connect(&s.endpoint, &self.credentials).await;
            match (result, self.status) {
                (Ok(c), None) => {
                    s.timeline.push(Channel::Ws, connected_text(c.resets()));
                    s.control.set(Some(c));
                    Ok(())
                }
                (Err(e), Some(want)) if e.status == Some(want) => {
                    s.timeline.push(Channel::Ws, e.message);
                    Ok(())
                }
                (Ok(_), Some(want)) => {
                    Err(Failure::differs("GET /control", "status", format!("refused: {want}"), "101: accepted"))
                }
                (Err(e), Some(want)) => Err(match e.status {
                    Some(_) => Failure::differs("GET /control", "status", format!("refused: {want}"), e.message),
                    None => Failure::transport(format!("WebSocket upgrade: {}", e.message)),
                }),
                (Err(e), None) => Err(match e.status {
                    Some(_) => Failure::differs("GET /control", "status", "101", e.message),
                    None => Failure::transport(format!("WebSocket upgrade: {}", e.message)),
                }),
            }
        })
    }
}
