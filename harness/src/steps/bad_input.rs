//! `bad_input`: protocol-level abuse a cam must shrug off, sent through the
//! same path as every other client (the fault proxy, when a plan is on):
//! malformed HTTP, a slowloris client, bad WebSocket handshakes, fragmented
//! and interleaved WebSocket frames, a flood of pings, connections that
//! never speak. Each must get a clean answer (a 4xx, or the WebSocket
//! reply the protocol gives) or a close; never a 5xx, never a hang. The
//! scenario then checks that the cam's counters did not change and that
//! other clients were not affected.

use std::time::Duration;

use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout_at;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

use super::{Action, Kind, StepCx, StepFuture, StepTable};
use crate::client::{Control, Credentials, Reply};
use crate::outcome::Failure;
use crate::runner::Session;
use crate::scenario::ScenarioError;
use crate::timeline::Channel;

/// The `bad_input` step kind.
pub const KIND: Kind = Kind {
    keywords: &["bad_input"],
    modifiers: &[],
    example: r#"[[step]]
bad_input = { kind = "bad_request_line" }   # also: oversize_header, duplicate_content_length, slowloris,
                                            # ws_bad_key, ws_bad_version, ws_fragmented, ws_interleaved,
                                            # ws_ping_flood, silent_connections
"#,
    parse,
};

/// What abuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Abuse {
    /// `GARBAGE / HTTP/9.9`: a request line that is not one.
    BadRequestLine,
    /// A 64 KiB header.
    OversizeHeader,
    /// `POST /hil/frame` with two different `Content-Length` headers.
    DuplicateContentLength,
    /// Headers trickled a byte every 50 ms (about 1.5 s); meanwhile
    /// another client's `GET /status` must be answered.
    Slowloris,
    /// A WebSocket upgrade whose `Sec-WebSocket-Key` is not 16 bytes.
    WsBadKey,
    /// A WebSocket upgrade asking for version 99.
    WsBadVersion,
    /// `{"cmd":"status"}` in three fragments: one ack for the whole.
    WsFragmented,
    /// Fragments with a ping between them (allowed): the pong, then the
    /// ack; then a data frame inside a fragmented message (not allowed):
    /// a close (1002).
    WsInterleaved,
    /// 500 pings at once: the connection answers them and still acks.
    WsPingFlood,
    /// 3 connections that never send a byte, while another client's
    /// `GET /status` must be answered.
    SilentConnections,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    kind: Abuse,
}

/// Send one kind of bad input.
#[derive(Debug)]
pub struct BadInput {
    /// What.
    pub abuse: Abuse,
}

fn parse(t: &mut StepTable<'_>) -> Result<Box<dyn Action>, ScenarioError> {
    let raw: Raw = t.take("bad_input")?.expect("chosen by its keyword");
    Ok(Box::new(BadInput { abuse: raw.kind }))
}

impl Action for BadInput {
    fn kind(&self) -> &'static str {
        KIND.name()
    }

    fn waits_for(&self) -> String {
        format!("the cam's answer to {:?}", self.abuse)
    }

    fn needs(&self, needs: &mut crate::scenario::Needs) {
        needs.plain_http = true;
    }

    fn run<'a>(&'a self, s: &'a mut Session<'_>, cx: &'a StepCx<'_>) -> StepFuture<'a> {
        Box::pin(async move {
            let what = match self.abuse {
                Abuse::BadRequestLine => raw_http(s, cx, b"GARBAGE / HTTP/9.9\r\n\r\n".to_vec()).await?,
                Abuse::OversizeHeader => {
                    let mut req = b"GET /status HTTP/1.1\r\nHost: cam\r\nX-Filler: ".to_vec();
                    req.extend(std::iter::repeat_n(b'a', 64 * 1024));
                    req.extend_from_slice(b"\r\n\r\n");
                    raw_http(s, cx, req).await?
                }
                Abuse::DuplicateContentLength => {
                    let req = b"POST /hil/frame HTTP/1.1\r\nHost: cam\r\nContent-Length: 4\r\nContent-Length: 9\r\n\r\nabcdefghi";
                    raw_http(s, cx, req.to_vec()).await?
                }
                Abuse::Slowloris => slowloris(s, cx).await?,
                Abuse::WsBadKey => bad_upgrade(s, cx, "Sec-WebSocket-Key: x\r\nSec-WebSocket-Version: 13").await?,
                Abuse::WsBadVersion => {
                    bad_upgrade(s, cx, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 99")
                        .await?
                }
                Abuse::WsFragmented => fragmented(s, cx, false).await?,
                Abuse::WsInterleaved => fragmented(s, cx, true).await?,
                Abuse::WsPingFlood => ping_flood(s, cx).await?,
                Abuse::SilentConnections => silent(s, cx).await?,
            };
            s.timeline.push(Channel::Fault, format!("bad input {:?}: {what}", self.abuse));
            Ok(())
        })
    }
}

/// The answer to `request` on a fresh connection: a 4xx status line or a
/// close is clean; a 5xx or nothing before the deadline fails.
async fn raw_http(s: &Session<'_>, cx: &StepCx<'_>, request: Vec<u8>) -> Result<String, Failure> {
    let authority = crate::hold::authority(&s.endpoint).map_err(Failure::setup)?;
    let mut conn = TcpStream::connect(&authority).await.map_err(|e| Failure::transport(format!("{authority}: {e}")))?;
    // The cam may close while the request is still going out: that is an
    // answer too.
    let _ = conn.write_all(&request).await;
    let answer = read_answer(&mut conn, cx).await?;
    judge(&answer)
}

/// What came back on a connection: the status line, or how it ended.
async fn read_answer(conn: &mut TcpStream, cx: &StepCx<'_>) -> Result<String, Failure> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = buf.windows(2).position(|w| w == b"\r\n") {
            return Ok(String::from_utf8_lossy(&buf[..end]).into_owned());
        }
        match timeout_at(cx.deadline, conn.read(&mut chunk)).await {
            Err(_) => {
                return Err(Failure::timeout(
                    "an answer or a close",
                    "the cam neither answered nor closed the connection before the step's timeout",
                ));
            }
            Ok(Ok(0)) => return Ok("closed".into()),
            Ok(Err(e)) => return Ok(format!("closed ({e})")),
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// A clean answer is a close, or an HTTP 4xx; anything else fails.
fn judge(answer: &str) -> Result<String, Failure> {
    if answer.starts_with("closed") {
        return Ok(answer.to_string());
    }
    let status = answer.split_whitespace().nth(1).and_then(|c| c.parse::<u16>().ok());
    match status {
        Some(c) if (400..500).contains(&c) => Ok(answer.to_string()),
        _ => Err(Failure::differs("bad input", "answer", "a 4xx or a close", answer.to_string())),
    }
}

/// Meanwhile, another client's `GET /status` is answered.
async fn status_answered(s: &Session<'_>, cx: &StepCx<'_>) -> Result<(), Failure> {
    let asked = timeout_at(cx.deadline, s.http.request(reqwest::Method::GET, "/status").send()).await;
    match asked {
        Ok(Ok(r)) if r.status().is_success() => {
            let _ = r.bytes().await;
            Ok(())
        }
        Ok(Ok(r)) => Err(Failure::differs("GET /status meanwhile", "status", "200", r.status().to_string())),
        Ok(Err(e)) => Err(Failure::transport(format!("GET /status meanwhile: {e}"))),
        Err(_) => Err(Failure::timeout("GET /status meanwhile", "another client was held up: GET /status had no answer")),
    }
}

async fn slowloris(s: &Session<'_>, cx: &StepCx<'_>) -> Result<String, Failure> {
    let authority = crate::hold::authority(&s.endpoint).map_err(Failure::setup)?;
    let mut conn = TcpStream::connect(&authority).await.map_err(|e| Failure::transport(format!("{authority}: {e}")))?;
    let head = b"GET /status HTTP/1.1\r\nX-Slow: a";
    let mut closed_after = None;
    for (k, b) in head.iter().enumerate() {
        if conn.write_all(std::slice::from_ref(b)).await.is_err() {
            closed_after = Some(k);
            break;
        }
        // The abuse itself: a client that trickles its request.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    status_answered(s, cx).await?;
    Ok(match closed_after {
        Some(k) => format!("the cam closed the slow connection after {k} bytes; others were served"),
        None => "others were served while it trickled".into(),
    })
}

async fn bad_upgrade(s: &Session<'_>, cx: &StepCx<'_>, headers: &str) -> Result<String, Failure> {
    let token = s.endpoint.token.as_ref().map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let req = format!(
        "GET /control HTTP/1.1\r\nHost: cam\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n{token}{headers}\r\n\r\n"
    );
    let answer = raw_http(s, cx, req.into_bytes()).await?;
    if answer.contains(" 101") {
        return Err(Failure::differs("a bad WebSocket handshake", "answer", "a 4xx or a close", answer));
    }
    Ok(answer)
}

async fn fragmented(s: &Session<'_>, cx: &StepCx<'_>, interleaved: bool) -> Result<String, Failure> {
    let mut ws = Control::connect(&s.endpoint, &Credentials::default()).await.map_err(|e| Failure::transport(e.message))?;
    let send = |e: String| Failure::transport(e);
    ws.send_frame(OpCode::Data(Data::Text), br#"{"cmd":"#, false).await.map_err(send)?;
    if interleaved {
        ws.send_ping(b"between").await.map_err(send)?;
    }
    ws.send_frame(OpCode::Data(Data::Continue), br#""sta"#, false).await.map_err(send)?;
    ws.send_frame(OpCode::Data(Data::Continue), br#"tus"}"#, true).await.map_err(send)?;
    let mut ponged = !interleaved;
    loop {
        match timeout_at(cx.deadline, ws.next_message()).await {
            Err(_) => return Err(Failure::timeout("the ack of a fragmented message", "no ack for the fragmented message")),
            Ok(Some(Ok(Message::Pong(p)))) if p.as_ref() == b"between" => ponged = true,
            Ok(Some(Ok(Message::Text(t)))) => {
                let ack: serde_json::Value = serde_json::from_str(t.as_str()).unwrap_or_default();
                if ack["ok"] != true || !ponged {
                    return Err(Failure::differs("a fragmented status command", "", "the pong, then an ok ack", t.to_string()));
                }
                break;
            }
            Ok(Some(Ok(_))) => continue,
            Ok(other) => return Err(Failure::differs("a fragmented status command", "", "an ack", format!("{other:?}"))),
        }
    }
    if !interleaved {
        return Ok("one ack for three fragments".into());
    }
    // A data frame inside a fragmented message breaks RFC 6455: a close.
    ws.send_frame(OpCode::Data(Data::Text), br#"{"cmd":"#, false).await.map_err(send)?;
    ws.send_frame(OpCode::Data(Data::Text), br#"{"cmd":"status"}"#, true).await.map_err(send)?;
    match timeout_at(cx.deadline, ws.next_reply()).await {
        Err(_) => Err(Failure::timeout("a close", "a data frame inside a fragmented message got no close")),
        Ok(Reply::Closed(code, _)) => Ok(format!("pong, ack, then a close ({code:?}) for the bad interleaving")),
        Ok(other) => Err(Failure::differs("a data frame inside a fragmented message", "", "a close", format!("{other:?}"))),
    }
}

async fn ping_flood(s: &Session<'_>, cx: &StepCx<'_>) -> Result<String, Failure> {
    let mut ws = Control::connect(&s.endpoint, &Credentials::default()).await.map_err(|e| Failure::transport(e.message))?;
    for k in 0..500u32 {
        if ws.send_ping(&k.to_be_bytes()).await.is_err() {
            return Ok(format!("the cam closed the connection after {k} pings"));
        }
    }
    ws.send_frame(OpCode::Data(Data::Text), br#"{"cmd":"status"}"#, true)
        .await
        .map_err(Failure::transport)?;
    match timeout_at(cx.deadline, ws.next_reply()).await {
        Err(_) => Err(Failure::timeout("the ack after the pings", "no ack after 500 pings")),
        Ok(Reply::Text(t)) if t.contains("\"ok\":true") => Ok("500 pings, then an ack".into()),
        Ok(Reply::Closed(code, _)) => Ok(format!("the cam closed the flooded connection ({code:?})")),
        Ok(other) => Err(Failure::differs("after a ping flood", "", "an ack or a close", format!("{other:?}"))),
    }
}

async fn silent(s: &Session<'_>, cx: &StepCx<'_>) -> Result<String, Failure> {
    let authority = crate::hold::authority(&s.endpoint).map_err(Failure::setup)?;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(&authority).await.map_err(|e| Failure::transport(format!("{authority}: {e}")))?);
    }
    status_answered(s, cx).await?;
    drop(held);
    Ok("3 silent connections; others were served".into())
}
