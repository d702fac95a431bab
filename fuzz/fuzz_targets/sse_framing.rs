//! The cam's SSE framing read back by a spec-following parser
//! (eventsource-stream): every framed event comes back as one event with
//! the same type, id, retry and data (line breaks normalised to LF), even
//! when the bytes arrive split at arbitrary points.
#![no_main]

use arbitrary::Arbitrary;
use cam_core::sse::SseEvent;
use eventsource_stream::Eventsource;
use futures::StreamExt;
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    event: Option<String>,
    id: Option<String>,
    retry_ms: Option<u32>,
    data: String,
    split: Vec<u8>,
}

fuzz_target!(|input: Input| {
    let framed = SseEvent {
        event: input.event.as_deref(),
        id: input.id.as_deref(),
        retry_ms: input.retry_ms.map(u64::from),
        data: &input.data,
    }
    .frame();
    // Split the bytes into chunks at the fuzzer's chosen points.
    let bytes = framed.as_bytes().to_vec();
    let mut chunks = Vec::new();
    let mut at = 0;
    for s in &input.split {
        let end = (at + usize::from(*s % 32) + 1).min(bytes.len());
        chunks.push(Ok::<_, std::convert::Infallible>(bytes[at..end].to_vec()));
        at = end;
    }
    chunks.push(Ok(bytes[at..].to_vec()));
    let events: Vec<_> = futures::executor::block_on(futures::stream::iter(chunks).eventsource().collect());
    let [Ok(event)] = events.as_slice() else { panic!("one event expected from {framed:?}, got {events:?}") };

    let one_line = |s: &str| s.replace(['\r', '\n'], " ");
    let want_type = input.event.as_deref().map(one_line).filter(|e| !e.is_empty()).unwrap_or("message".into());
    assert_eq!(event.event, want_type, "{framed:?}");
    let want_id = input.id.as_deref().filter(|id| !id.contains('\0')).map(one_line).unwrap_or_default();
    assert_eq!(event.id, want_id, "{framed:?}");
    assert_eq!(event.retry.map(|d| d.as_millis() as u64), input.retry_ms.map(u64::from), "{framed:?}");
    let want_data = input.data.replace("\r\n", "\n").replace('\r', "\n");
    assert_eq!(event.data, want_data, "{framed:?}");
});
