//! SSE framing per the WHATWG event-stream format
//! (<https://html.spec.whatwg.org/multipage/server-sent-events.html>).
//!
//! Source: the microdot SSE reference among the seed chapters (`send(data,
//! event, event_id, retry, comment)`), `docs/protocol.md`.
//!
//! Every function returns the complete bytes of one block, ending in the
//! blank line that dispatches it. Data with CR, LF or CRLF inside is split
//! into several `data:` lines, so a spec-following parser reads back exactly
//! the text that was framed (with its line breaks normalised to LF). Field
//! values that must be single-line (`event`, `id`) have line breaks
//! replaced by spaces; an `id` containing NUL is dropped, as parsers ignore
//! it.

use alloc::string::String;
use core::fmt::Write;

/// One SSE event to frame. Empty optional fields are left out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SseEvent<'a> {
    /// `event:` name; `None` means the default `message` type.
    pub event: Option<&'a str>,
    /// `id:` (the client's next `Last-Event-ID`).
    pub id: Option<&'a str>,
    /// `retry:` reconnection delay in ms.
    pub retry_ms: Option<u64>,
    /// The `data:` payload (any text; split on line breaks).
    pub data: &'a str,
}

impl SseEvent<'_> {
    /// The bytes of this event, ending in a blank line.
    pub fn frame(&self) -> String {
        let mut out = String::with_capacity(self.data.len() + 48);
        if let Some(event) = self.event {
            push_field(&mut out, "event", event);
        }
        if let Some(id) = self.id.filter(|id| !id.contains('\0')) {
            push_field(&mut out, "id", id);
        }
        if let Some(ms) = self.retry_ms {
            let _ = writeln!(out, "retry: {ms}");
        }
        for line in lines(self.data) {
            out.push_str("data: ");
            out.push_str(line);
            out.push('\n');
        }
        out.push('\n');
        out
    }
}

/// A comment block (`: text`), which clients ignore; used for keep-alives.
/// Multi-line text becomes one comment line per line.
pub fn comment(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    for line in lines(text) {
        out.push_str(": ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    out
}

fn push_field(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push_str(": ");
    out.extend(value.chars().map(|c| if c == '\r' || c == '\n' { ' ' } else { c }));
    out.push('\n');
}

/// Splits on CRLF, CR or LF, as the event-stream grammar does. An empty text
/// is one empty line.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    core::iter::from_fn(move || {
        let s = rest?;
        match s.find(['\r', '\n']) {
            Some(i) => {
                let skip = if s[i..].starts_with("\r\n") { 2 } else { 1 };
                rest = Some(&s[i + skip..]);
                Some(&s[..i])
            }
            None => {
                rest = None;
                Some(s)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn motion_event_block() {
        let e = SseEvent { event: Some("motion"), id: Some("7"), retry_ms: Some(3000), data: "{}" };
        assert_eq!(e.frame(), "event: motion\nid: 7\nretry: 3000\ndata: {}\n\n");
    }

    #[test]
    fn multiline_data_becomes_several_data_lines() {
        let e = SseEvent { data: "a\r\nb\rc\nd", ..Default::default() };
        assert_eq!(e.frame(), "data: a\ndata: b\ndata: c\ndata: d\n\n");
    }

    #[test]
    fn single_line_fields_cannot_break_the_block() {
        let e = SseEvent { event: Some("x\ny"), id: Some("1\r2"), data: "", ..Default::default() };
        assert_eq!(e.frame(), "event: x y\nid: 1 2\ndata: \n\n");
    }

    #[test]
    fn keepalive_comment() {
        assert_eq!(comment("keepalive"), ": keepalive\n\n");
    }
}
