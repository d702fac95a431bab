//! Token auth: with a token configured, every route but `/` and `/app.js`
//! needs `Authorization: Bearer <token>` or `?token=<token>`, checked before
//! any stream or upgrade starts (`docs/protocol.md`, "token").

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use cam_core::protocol::token_matches;

use super::json_error;
use crate::config::Fault;
use crate::shared::Shared;

pub(super) async fn require_token(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let Some(expected) = shared.config.token.as_deref() else {
        return next.run(req).await;
    };
    let path = req.uri().path();
    let unguarded = shared.config.faults.has(Fault::UnguardedEvents) && path == "/events";
    if unguarded || matches!(path, "/" | "/app.js") {
        return next.run(req).await;
    }
    let bearer =
        req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let query = Query::<HashMap<String, String>>::try_from_uri(req.uri()).ok();
    let from_query = query.as_ref().and_then(|q| q.get("token")).map(String::as_str);
    if bearer.or(from_query).is_some_and(|t| token_matches(expected, t)) {
        next.run(req).await
    } else {
        json_error(StatusCode::UNAUTHORIZED, "unauthorized")
    }
}
