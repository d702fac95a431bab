//! The control connection: the scenario's `GET /control` WebSocket,
//! opened on first use with the target's token, and what its acks told.

use serde_json::Value;
use tokio::time::timeout_at;

use crate::client::{Control, Credentials, Reply};
use crate::outcome::Failure;
use crate::steps::clip_text;
use crate::target::Endpoint;
use crate::timeline::{Channel, Timeline};

/// What a WebSocket message carries.
#[derive(Debug, Clone, PartialEq)]
pub enum Outgoing {
    /// A TOML table or value, sent as JSON text.
    Json(Value),
    /// Text sent as it is (for bad-JSON checks).
    Text(String),
    /// A binary frame.
    Binary(Vec<u8>),
    /// A text frame holding these bytes, UTF-8 or not.
    RawText(Vec<u8>),
}

impl Outgoing {
    /// One line for messages: the JSON or text, or the frame's size.
    pub fn describe(&self) -> String {
        match self {
            Outgoing::Json(v) => v.to_string(),
            Outgoing::Text(t) => t.clone(),
            Outgoing::Binary(b) => format!("binary frame of {} bytes", b.len()),
            Outgoing::RawText(b) => format!("text frame of {} raw bytes", b.len()),
        }
    }
}

/// The control side of a scenario run.
#[derive(Debug, Default)]
pub struct ControlLink {
    conn: Option<Control>,
    /// The `saved` path of the latest ack that named one.
    pub last_saved: Option<String>,
}

impl ControlLink {
    /// The connection, opened with the target's token if there is none.
    ///
    /// # Errors
    /// The upgrade fails or times out.
    pub async fn get(
        &mut self,
        endpoint: &Endpoint,
        deadline: tokio::time::Instant,
        timeline: &mut Timeline,
    ) -> Result<&mut Control, Failure> {
        if self.conn.is_none() {
            let credentials = Credentials::default();
            let c = timeout_at(deadline, Control::connect(endpoint, &credentials))
                .await
                .map_err(|_| Failure::timeout("the WebSocket upgrade", "WebSocket connect timed out"))?
                .map_err(|e| Failure::transport(e.message))?;
            timeline.push(Channel::Ws, connected_text(c.resets()));
            self.conn = Some(c);
        }
        Ok(self.conn.as_mut().expect("connected above"))
    }

    /// Replaces the connection (`None`: forget it without a close).
    pub fn set(&mut self, conn: Option<Control>) {
        self.conn = conn;
    }

    /// Takes the connection out, if open.
    pub fn take(&mut self) -> Option<Control> {
        self.conn.take()
    }

    /// Sends one message and returns what came back: a text frame (its
    /// `saved` path remembered), a binary frame or the close.
    ///
    /// # Errors
    /// The connection fails, or nothing comes back before `deadline`.
    pub async fn command(
        &mut self,
        endpoint: &Endpoint,
        send: &Outgoing,
        deadline: tokio::time::Instant,
        timeline: &mut Timeline,
    ) -> Result<Reply, Failure> {
        let control = self.get(endpoint, deadline, timeline).await?;
        match send {
            Outgoing::Json(v) => control.send_text(&v.to_string()).await,
            Outgoing::Text(t) => control.send_text(t).await,
            Outgoing::Binary(b) => control.send_binary(b).await,
            Outgoing::RawText(b) => control.send_raw_text(b).await,
        }
        .map_err(Failure::transport)?;
        let reply = timeout_at(deadline, control.next_reply()).await;
        timeline.push(Channel::Ws, format!("> {}", clip_text(&send.describe())));
        let reply = reply.map_err(|_| {
            Failure::timeout("the reply", format!("sent {}: no reply before the step's timeout", send.describe()))
        })?;
        match &reply {
            Reply::Text(t) => {
                timeline.push(Channel::Ws, format!("< {}", clip_text(t)));
                let ack = serde_json::from_str::<Value>(t).unwrap_or(Value::Null);
                if let Some(saved) = ack.get("saved").and_then(Value::as_str) {
                    self.last_saved = Some(saved.to_string());
                }
            }
            Reply::Binary(n) => timeline.push(Channel::Ws, format!("< binary frame, {n} bytes")),
            Reply::Closed(code, reason) => {
                self.conn = None;
                timeline.push(Channel::Ws, format!("< closed, code {code:?} {reason}"));
            }
        }
        Ok(reply)
    }
}

/// What came back, for messages.
pub fn show(reply: &Reply) -> String {
    match reply {
        Reply::Text(t) => format!("text {}", clip_text(t)),
        Reply::Binary(n) => format!("a binary frame of {n} bytes"),
        Reply::Closed(Some(code), reason) => format!("close code {code} {reason:?}"),
        Reply::Closed(None, reason) => {
            format!("the connection ended without a close frame ({reason})")
        }
    }
}

/// The timeline's line for a WebSocket connection, naming the resets the
/// cam gave before it answered (its connection slots were all taken).
pub fn connected_text(resets: usize) -> String {
    match resets {
        0 => "connected /control".to_string(),
        n => format!("connected /control (after {n} reset(s) by the cam: no free connection slot)"),
    }
}
