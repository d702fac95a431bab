//! The core's SSE framing, read back by a spec-following parser: the
//! eventsource-client crate, over a real HTTP stream. Seeded random texts
//! with CR, LF, CRLF, blank lines, colons, leading spaces and non-ASCII
//! must come back exactly (line breaks normalised to LF, as the
//! event-stream format defines).

use std::convert::Infallible;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use cam_core::sse::{self, SseEvent};
use cam_hil::client::{SseKind, open_sse};
use cam_hil::target::Endpoint;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

const PIECES: [&str; 14] =
    ["a", "motion", " ", ":", "\n", "\r", "\r\n", "\n\n", "data: x", "id: 9", "ü", "🎥", "{\"k\":1}", "event"];

fn random_text(rng: &mut StdRng) -> String {
    let n = rng.random_range(1..12);
    (0..n).map(|_| PIECES[rng.random_range(0..PIECES.len())]).collect()
}

#[tokio::test]
async fn framed_events_read_back_exactly() {
    let mut rng = StdRng::seed_from_u64(0x5eed);
    let mut expected = Vec::new();
    let mut body = String::new();
    for i in 0..300u64 {
        let data = random_text(&mut rng);
        let name = ["motion", "gap", "x y"][rng.random_range(0..3)];
        let id = i.to_string();
        if rng.random_range(0..4) == 0 {
            body.push_str(&sse::comment(&random_text(&mut rng)));
        }
        body.push_str(&SseEvent { event: Some(name), id: Some(&id), retry_ms: Some(1000), data: &data }.frame());
        expected.push((name.to_string(), id, data.replace("\r\n", "\n").replace('\r', "\n")));
    }
    let app = Router::new().route(
        "/events",
        get(move || {
            let body = body.clone();
            async move {
                let stream =
                    futures_util::stream::iter([Ok::<_, Infallible>(body)]).chain(futures_util::stream::pending());
                ([("content-type", "text/event-stream")], Body::from_stream(stream))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let mut sse = open_sse(&Endpoint::new(base, None), None).unwrap();
    let mut got = Vec::new();
    while got.len() < expected.len() {
        match sse.rx.recv().await.expect("stream open").kind {
            SseKind::Event { name, id, data, .. } => got.push((name, id.unwrap_or_default(), data)),
            SseKind::Error(e) => panic!("{e}"),
            _ => {}
        }
    }
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(g, e, "event {i}");
    }
}

use futures_util::StreamExt as _;
