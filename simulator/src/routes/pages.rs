//! The dashboard files, `GET /status` and `GET /snapshot.jpg`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cam_core::web;

use super::json_error;
use crate::config::Fault;
use crate::shared::Shared;

pub(super) async fn index() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], web::INDEX_HTML)
}

pub(super) async fn app_js() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], web::APP_JS)
}

pub(super) async fn status(State(shared): State<Arc<Shared>>) -> Response {
    let mut resp = Json(shared.with_cam(|cam| cam.status())).into_response();
    if shared.config.faults.has(Fault::WrongContentTypes) {
        resp.headers_mut().insert(header::CONTENT_TYPE, OCTETS);
    }
    resp
}

const OCTETS: HeaderValue = HeaderValue::from_static("application/octet-stream");

pub(super) async fn snapshot(State(shared): State<Arc<Shared>>) -> Response {
    match shared.with_cam(|cam| cam.latest().map(|f| (f.jpeg.clone(), f.ts_ms, f.seq))) {
        Some((jpeg, ts_ms, seq)) => {
            let ctype = if shared.config.faults.has(Fault::WrongContentTypes) {
                OCTETS
            } else {
                HeaderValue::from_static("image/jpeg")
            };
            let no_cache = HeaderValue::from_static("no-cache");
            let ts = HeaderValue::from(ts_ms);
            let seq = HeaderValue::from(seq);
            let headers = [
                (header::CONTENT_TYPE, ctype),
                (header::CACHE_CONTROL, no_cache),
                (header::HeaderName::from_static("x-frame-ts"), ts),
                (header::HeaderName::from_static("x-frame-seq"), seq),
            ];
            (headers, jpeg).into_response()
        }
        None => json_error(StatusCode::SERVICE_UNAVAILABLE, "no frame yet"),
    }
}
