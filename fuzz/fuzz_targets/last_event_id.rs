//! `Last-Event-ID` parsing: any header text is parsed or refused without a
//! panic; every id the cam issues (`<boot>-<seq>`) reads back as itself;
//! and what the event log makes of a parsed id never panics.
#![no_main]

use arbitrary::Arbitrary;
use cam_core::event_log::{EventId, EventLog, LastEventId, MotionEvent};
use cam_core::protocol::parse_last_event_id;
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    header: String,
    boot: u32,
    seq: u64,
    issued: u8,
}

fuzz_target!(|input: Input| {
    let issued = EventId { boot: input.boot, seq: input.seq };
    assert_eq!(parse_last_event_id(Some(&issued.to_string())), Ok(Some(LastEventId::Id(issued))));
    let mut log = EventLog::new(16, input.boot);
    for frame in 0..u64::from(input.issued % 40) {
        log.push(MotionEvent { id: EventId::default(), ts: 0.0, count: frame, change: 0.5, frame });
    }
    if let Ok(last) = parse_last_event_id(Some(&input.header)) {
        let resume = log.since(last);
        // Resumed events are this boot's, in order, after the client's id.
        assert!(resume.events.iter().all(|e| e.id.boot == input.boot));
        assert!(resume.events.windows(2).all(|w| w[0].id.seq < w[1].id.seq));
        if let Some(LastEventId::Id(id)) = last {
            assert_eq!(resume.restarted, id.boot != input.boot || id.seq >= log.next_id().seq);
        }
    }
});
