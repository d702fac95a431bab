//! `send` (and `send_text`, `send_binary`, `send_raw_text`): one WebSocket
//! message on the control connection, and what must come back: an ack
//! (`expect_ack`, a JSON matcher) or a close (`expect_close`, its code).

use serde_json::Value;

use super::{Action, Kind, StepCx, StepFuture, StepTable};
use crate::client::Reply;
use crate::matcher::Matcher;
use crate::outcome::Failure;
use crate::runner::Session;
use crate::runner::control::{Outgoing, show};
use crate::scenario::ScenarioError;

/// The `send` step kind.
pub const KIND: Kind = Kind {
    keywords: &["send", "send_text", "send_binary", "send_raw_text"],
    modifiers: &["expect_ack", "expect_close", "repeat"],
    example: r#"[[step]]
send = { cmd = "set_threshold", value = 0.3 }   # a TOML table, sent as JSON
expect_ack = { ok = true, threshold = 0.3 }

[[step]]
send_text = "{oops"                             # sent as it is
expect_ack = { error = "bad json" }

[[step]]
send_text = " "
repeat = 16385                        # the text repeated: 16385 bytes
expect_close = 1009                   # the cam must close with this code

[[step]]
send_binary = [1, 2, 3]               # a binary frame
expect_ack = { error = "bad json" }

[[step]]
send_raw_text = [123, 255, 254, 125]  # a text frame that is not UTF-8
expect_close = 1007
"#,
    parse,
};

/// What must come back for a WebSocket message.
#[derive(Debug, Clone)]
pub enum Expect {
    /// One text frame, matching (`expect_ack`; `None`: any ack).
    Ack(Option<Matcher>),
    /// The cam closes the connection with this code (`expect_close`).
    Close(u16),
}

/// Send one WebSocket message and read what comes back.
#[derive(Debug)]
pub struct Send {
    /// What to send.
    pub send: Outgoing,
    /// What must come back.
    pub expect: Expect,
}

fn parse(t: &mut StepTable<'_>) -> Result<Box<dyn Action>, ScenarioError> {
    let repeat: Option<usize> = t.take("repeat")?;
    if repeat.is_some() && t.keyword() != "send_text" {
        return Err(t.step_error("`repeat` belongs with `send_text`"));
    }
    /// The most text a `repeat` may make: 16 MiB, past any cam's message limit.
    const MAX_REPEATED: usize = 16 * 1024 * 1024;
    let send = match t.keyword() {
        "send" => {
            let (v, span): (toml::Value, _) = t.take_spanned("send")?.expect("chosen");
            Outgoing::Json(serde_json::to_value(v).map_err(|e| t.error(Some(span), e.to_string()))?)
        }
        "send_text" => {
            let text: String = t.take("send_text")?.expect("chosen");
            let n = repeat.unwrap_or(1);
            if text.len().saturating_mul(n) > MAX_REPEATED {
                return Err(t.step_error(format!("`repeat` makes {} bytes; at most {MAX_REPEATED} are sent", text.len().saturating_mul(n))));
            }
            Outgoing::Text(text.repeat(n))
        }
        "send_binary" => Outgoing::Binary(t.take("send_binary")?.expect("chosen")),
        _ => Outgoing::RawText(t.take("send_raw_text")?.expect("chosen")),
    };
    let ack = t.take_matcher("expect_ack")?;
    let close: Option<u16> = t.take("expect_close")?;
    let expect = match (ack, close) {
        (Some(_), Some(_)) => return Err(t.step_error("`expect_ack` and `expect_close` exclude each other")),
        (None, Some(code)) => Expect::Close(code),
        (ack, None) => Expect::Ack(ack),
    };
    Ok(Box::new(Send { send, expect }))
}

impl Action for Send {
    fn kind(&self) -> &'static str {
        KIND.name()
    }

    fn waits_for(&self) -> String {
        match &self.expect {
            Expect::Ack(_) => "the ack".into(),
            Expect::Close(code) => format!("a close with code {code}"),
        }
    }

    fn run<'a>(&'a self, s: &'a mut Session<'_>, cx: &'a StepCx<'_>) -> StepFuture<'a> {
        Box::pin(async move {
            let reply = s.command(&self.send, cx.deadline).await?;
            let sent = format!("sent {}", self.send.describe());
            match (&self.expect, reply) {
                (Expect::Ack(matcher), Reply::Text(t)) => {
                    let ack: Value = serde_json::from_str(&t)
                        .map_err(|e| Failure::differs(&sent, "ack", "JSON", format!("{t} ({e})")))?;
                    match matcher {
                        Some(m) => m.check(&ack).map_err(|mismatch| {
                            let message = format!("{sent}\nexpected ack {m}\n     got ack {ack}\n({mismatch})");
                            Failure::new(crate::outcome::FailureKind::Mismatch(mismatch), message)
                        }),
                        None => Ok(()),
                    }
                }
                (Expect::Ack(_), other) => {
                    let hint = match (&other, s.sse.ledger.restarts().is_empty()) {
                        (Reply::Closed(None, _), false) => {
                            " (the cam rebooted, which dropped the WebSocket: add `ws_connect = {}` first)"
                        }
                        _ => "",
                    };
                    Err(Failure::differs(sent, "", "an ack", format!("{}{hint}", show(&other))))
                }
                (Expect::Close(code), Reply::Closed(Some(c), _)) if c == *code => Ok(()),
                (Expect::Close(code), other) => {
                    Err(Failure::differs(sent, "close code", code.to_string(), show(&other)))
                }
            }
        })
    }
}
