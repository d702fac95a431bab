//! `http`: one HTTP request and its expected reply: status
//! (`expect_status`), `Content-Type` prefix (`expect_content_type`) and a
//! JSON body matcher (`expect_json`).

use serde::Deserialize;
use serde_json::Value;

use super::{Action, Kind, StepCx, StepFuture, StepTable, clip_text, error_chain};
use crate::client::Credentials;
use crate::ledger::is_event_stream;
use crate::matcher::Matcher;
use crate::outcome::{Failure, FailureKind};
use crate::runner::Session;
use crate::scenario::ScenarioError;
use crate::timeline::Channel;

/// The `http` step kind.
pub const KIND: Kind = Kind {
    keywords: &["http"],
    modifiers: &["expect_status", "expect_json", "expect_content_type"],
    example: r#"[[step]]
http = { path = "/status" }                      # method defaults to GET
expect_status = 200
expect_content_type = "application/json"         # prefix match
expect_json = { trigger_count = 0, frames = 10 }

[[step]]
http = { method = "POST", path = "/hil/frame", body = "not a JPEG" }
expect_status = 400

[[step]]
http = { path = "/status", close = true }      # Connection: close: the cam closes it after the reply

[[step]]
http = { path = "/events", no_token = true }   # no token at all
expect_status = 401

[[step]]
http = { path = "/status", token = "wrong", token_in = "query" }   # this token, as ?token=
expect_status = 401
"#,
    parse,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default = "get")]
    method: String,
    path: String,
    body: Option<String>,
    token: Option<String>,
    #[serde(default)]
    no_token: bool,
    token_in: Option<super::TokenIn>,
    #[serde(default)]
    close: bool,
}

fn get() -> String {
    "GET".into()
}

/// One HTTP request and its expected reply.
#[derive(Debug)]
pub struct Http {
    /// Token to send.
    pub credentials: Credentials,
    /// `GET`, `POST`, …
    pub method: String,
    /// Path and query, e.g. `/status`.
    pub path: String,
    /// Request body.
    pub body: Option<String>,
    /// Expected status code.
    pub status: Option<u16>,
    /// What the JSON body must match.
    pub json: Option<Matcher>,
    /// Expected `Content-Type` prefix.
    pub content_type: Option<String>,
    /// `close = true`: send `Connection: close`, so the cam closes this
    /// connection after its reply rather than keep it for the next request
    /// (a cam with few connection slots then has one free).
    pub close: bool,
}

fn parse(t: &mut StepTable<'_>) -> Result<Box<dyn Action>, ScenarioError> {
    let (raw, span): (Raw, _) = t.take_spanned("http")?.expect("chosen");
    if !raw.path.starts_with('/') {
        return Err(t.step_error(format!("http path must start with `/`: {:?}", raw.path)));
    }
    let credentials = super::RawCredentials { token: raw.token, no_token: raw.no_token, token_in: raw.token_in }
        .credentials()
        .map_err(|m| t.error(Some(span), m))?;
    let method = raw.method.to_uppercase();
    if reqwest::Method::from_bytes(method.as_bytes()).is_err() {
        return Err(t.step_error(format!("`{}` is not an HTTP method", raw.method)));
    }
    Ok(Box::new(Http {
        credentials,
        method,
        path: raw.path,
        body: raw.body,
        status: t.take("expect_status")?,
        json: t.take_matcher("expect_json")?,
        content_type: t.take("expect_content_type")?,
        close: raw.close,
    }))
}

impl Action for Http {
    fn kind(&self) -> &'static str {
        KIND.name()
    }

    fn waits_for(&self) -> String {
        format!("the reply to {} {}", self.method, self.path)
    }

    fn run<'a>(&'a self, s: &'a mut Session<'_>, _cx: &'a StepCx<'_>) -> StepFuture<'a> {
        Box::pin(async move {
            let (method, path) = (&self.method, &self.path);
            let context = format!("{method} {path}");
            let m = reqwest::Method::from_bytes(method.as_bytes())
                .map_err(|e| Failure::setup(format!("method {method}: {e}")))?;
            let mut req = s.http.request_as(m, path, &self.credentials);
            if self.close {
                req = req.header(reqwest::header::CONNECTION, "close");
            }
            if let Some(b) = &self.body {
                req = req.body(b.clone());
            }
            let resp = req.send().await.map_err(|e| Failure::transport(format!("{context}: {}", error_chain(&e))))?;
            let code = resp.status().as_u16();
            let ctype =
                resp.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            // A 200 on /events is a stream: read only its headers.
            let bytes = if is_event_stream(&ctype) {
                Default::default()
            } else {
                resp.bytes().await.map_err(|e| Failure::transport(format!("{context}: body: {e}")))?
            };
            let text = String::from_utf8_lossy(&bytes);
            s.timeline.push(Channel::Http, format!("{context} -> {code} {ctype} {}", clip_text(&text)));
            if let Some(want) = self.status.filter(|want| *want != code) {
                return Err(Failure::differs(&context, "status", want.to_string(), format!("{code}: {}", clip_text(&text))));
            }
            if let Some(c) = self.content_type.as_ref().filter(|c| !ctype.starts_with(c.as_str())) {
                return Err(Failure::differs(&context, "Content-Type", c, format!("{ctype:?}")));
            }
            if let Some(m) = &self.json {
                let v: Value = serde_json::from_slice(&bytes).map_err(|e| {
                    Failure::differs(&context, "body", "JSON", format!("{} ({e})", clip_text(&text)))
                })?;
                m.check(&v).map_err(|mismatch| {
                    let message = format!("{context}: expected {m}, got {v} ({mismatch})");
                    Failure::new(FailureKind::Mismatch(mismatch), message)
                })?;
            }
            Ok(())
        })
    }
}
