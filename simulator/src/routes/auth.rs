//! Token auth: with a token configured, every route but `/` and `/app.js`
//! needs `Authorization: Bearer <token>` or `?token=<token>`, checked before
//! any stream or upgrade starts (`docs/protocol.md`, "token").

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use cam_core::protocol::{bearer_token, query_token, token_matches};

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
    let bearer = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(bearer_token);
    let from_query = req.uri().query().and_then(query_token);
    if bearer.or(from_query.as_deref()).is_some_and(|t| token_matches(expected, t)) {
        next.run(req).await
    } else {
        json_error(StatusCode::UNAUTHORIZED, "unauthorized")
    }
}
