//! One `debug` log line per request (`RUST_LOG=cam_sim=debug`): method,
//! path and query, status, time. A `token` in the query is logged as `***`;
//! headers (where a bearer token travels) are never logged.

use std::time::Instant;

use axum::extract::Request;
use axum::http::Uri;
use axum::middleware::Next;
use axum::response::Response;

/// The middleware.
pub(crate) async fn access_log(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let target = redacted(req.uri());
    let start = Instant::now();
    let resp = next.run(req).await;
    let ms = start.elapsed().as_secs_f64() * 1e3;
    tracing::debug!(%method, %target, status = resp.status().as_u16(), ms = format!("{ms:.2}"), "request");
    resp
}

/// `uri`'s path and query with every `token` value replaced by `***`.
pub(crate) fn redacted(uri: &Uri) -> String {
    let Some(query) = uri.query() else { return uri.path().to_string() };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some(("token", _)) => "token=***".to_string(),
            _ => pair.to_string(),
        })
        .collect();
    format!("{}?{}", uri.path(), pairs.join("&"))
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn tokens_are_redacted() {
        let uri = |s: &str| s.parse().unwrap();
        assert_eq!(redacted(&uri("/events?token=s3cret")), "/events?token=***");
        assert_eq!(redacted(&uri("/?a=1&token=s3cret&b=2")), "/?a=1&token=***&b=2");
        assert_eq!(redacted(&uri("/status")), "/status");
        assert_eq!(redacted(&uri("/x?tokens=keep")), "/x?tokens=keep");
    }
}
