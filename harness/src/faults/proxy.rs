//! The fault proxy: a loopback TCP proxy between the harness's clients and
//! a cam, started per scenario run, that applies a [`FaultPlan`]'s network
//! faults to the bytes going through.
//!
//! Each connection is classified by its first request: `GET /events` is an
//! SSE stream, a `GET /control` upgrade a WebSocket, anything else plain
//! HTTP. SSE streams are followed event by event (through chunked transfer
//! coding when the cam uses it), so cuts can land between two events or in
//! the middle of one; WebSocket messages from the cam are followed frame by
//! frame, so an ack can be held back or dropped whole. Over TLS the proxy
//! sees only bytes: byte cuts, latency, throttling, stalls and refusals
//! still apply, event-aware cuts and ack faults do not.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

use super::{Cut, Dice, FaultPlan};

/// Largest request head the proxy reads to classify a connection, in bytes.
const MAX_HEAD: usize = 16 * 1024;

/// What a connection carries, from its first request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sse,
    WebSocket,
    Http,
    /// TLS: bytes the proxy cannot read.
    Opaque,
}

/// A fault proxy for one scenario run. Dropping it stops it and every
/// connection through it.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
        for c in self.state.conns.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
            c.task.abort();
        }
    }
}

#[derive(Debug)]
struct State {
    plan: FaultPlan,
    /// Stalls after frames.
    stalls: Dice,
    cuts: Dice,
    jitter: Dice,
    acks: Dice,
    upstream: String,
    /// New connections are refused until then.
    refuse_until: Mutex<Option<Instant>>,
    /// The oldest SSE connection reads nothing from the cam until then.
    stall_until: Mutex<Option<Instant>>,
    conns: Mutex<Vec<Conn>>,
    next_id: AtomicU64,
    /// What the proxy did, for the scenario's timeline.
    notes: Mutex<Vec<(Instant, String)>>,
}

#[derive(Debug)]
struct Conn {
    id: u64,
    kind: Option<Kind>,
    task: tokio::task::AbortHandle,
}

impl State {
    fn note(&self, text: String) {
        tracing::debug!("fault proxy: {text}");
        self.notes.lock().unwrap_or_else(|p| p.into_inner()).push((Instant::now(), text));
    }

    /// Whether `id` is the oldest open SSE connection.
    fn oldest_sse(&self, id: u64) -> bool {
        let conns = self.conns.lock().unwrap_or_else(|p| p.into_inner());
        conns.iter().find(|c| c.kind == Some(Kind::Sse)).is_some_and(|c| c.id == id)
    }

    fn until(slot: &Mutex<Option<Instant>>) -> Option<Instant> {
        slot.lock().unwrap_or_else(|p| p.into_inner()).filter(|t| *t > Instant::now())
    }
}

impl FaultProxy {
    /// Listens on an ephemeral loopback port and forwards every connection
    /// to `upstream` (`host:port`), applying `plan`'s network faults with
    /// draws from generators seeded with its seed ([`Dice::stream`]).
    ///
    /// # Errors
    /// No loopback port.
    pub async fn start(upstream: &str, plan: FaultPlan) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let seed = plan.seed;
        let state = Arc::new(State {
            plan,
            stalls: Dice::stream(seed, super::STALLS),
            cuts: Dice::stream(seed, super::CUTS),
            jitter: Dice::stream(seed, super::JITTER),
            acks: Dice::stream(seed, super::ACKS),
            upstream: upstream.to_string(),
            refuse_until: Mutex::new(None),
            stall_until: Mutex::new(None),
            conns: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(1),
            notes: Mutex::new(Vec::new()),
        });
        let accepting = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let client = match listener.accept().await {
                    Ok((c, _)) => c,
                    // Out of file descriptors and the like: the next accept
                    // may succeed; the proxy must not stop for good.
                    Err(e) => {
                        accepting.note(format!("accept failed: {e}"));
                        tokio::task::yield_now().await;
                        continue;
                    }
                };
                let id = accepting.next_id.fetch_add(1, Ordering::Relaxed);
                if let Some(until) = State::until(&accepting.refuse_until) {
                    let left = until.saturating_duration_since(Instant::now()).as_millis();
                    accepting.note(format!("connection {id} refused ({left} ms of refusal left)"));
                    reset(&client);
                    continue;
                }
                let state = accepting.clone();
                let mut conns = accepting.conns.lock().unwrap_or_else(|p| p.into_inner());
                let task = tokio::spawn(async move {
                    let _ = serve(&state, id, client).await;
                    state.conns.lock().unwrap_or_else(|p| p.into_inner()).retain(|c| c.id != id);
                });
                conns.push(Conn { id, kind: None, task: task.abort_handle() });
            }
        });
        Ok(Self { addr, state, task })
    }

    /// Where clients connect instead of the cam.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The harness has sent `total` frames: starts the stalls and refusals
    /// the plan has for that moment.
    pub fn on_frame(&self, total: u64) {
        let plan = &self.state.plan;
        let now = Instant::now();
        if plan.stall_ms > 0 && (plan.stall_after_frames == Some(total) || self.state.stalls.roll(plan.stall_chance)) {
            *self.state.stall_until.lock().unwrap_or_else(|p| p.into_inner()) =
                Some(now + Duration::from_millis(plan.stall_ms));
            self.state.note(format!("stall: the oldest SSE reader stops reading for {} ms", plan.stall_ms));
        }
        if plan.refuse_ms > 0 && plan.refuse_after_frames == Some(total) {
            *self.state.refuse_until.lock().unwrap_or_else(|p| p.into_inner()) =
                Some(now + Duration::from_millis(plan.refuse_ms));
            self.state.note(format!("new connections refused for {} ms", plan.refuse_ms));
        }
    }

    /// What the proxy did since the last call, with when.
    pub fn take_notes(&self) -> Vec<(Instant, String)> {
        std::mem::take(&mut *self.state.notes.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// Resets a connection: RST instead of FIN when it is dropped.
// tokio deprecates SO_LINGER because a nonzero linger blocks the thread on
// drop; a zero linger never waits: the kernel resets at once.
#[allow(deprecated)]
fn reset(stream: &TcpStream) {
    let _ = stream.set_linger(Some(Duration::ZERO));
}

/// Reads a request or response head (up to the blank line) from `r`; the
/// bytes read, which may run past the head.
async fn read_head(r: &mut OwnedReadHalf) -> std::io::Result<(Vec<u8>, usize)> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Ok((buf, end + 4));
        }
        if buf.len() > MAX_HEAD {
            return Ok((buf.clone(), buf.len()));
        }
        let n = r.read(&mut chunk).await?;
        if n == 0 {
            let len = buf.len();
            return Ok((buf, len));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// What a connection carries, from its first line: `GET /events` is an SSE
/// stream, `GET /control` a WebSocket (once the cam answers 101), a TLS
/// handshake opaque bytes, anything else plain HTTP.
fn classify(first: &[u8]) -> Kind {
    if first.first() == Some(&0x16) {
        return Kind::Opaque;
    }
    let text = String::from_utf8_lossy(first).to_ascii_lowercase();
    let mut words = text.split_whitespace();
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let path = path.split('?').next().unwrap_or("");
    match (method, path) {
        ("get", "/events") => Kind::Sse,
        ("get", "/control") => Kind::WebSocket,
        _ => Kind::Http,
    }
}

/// A connection's own state, shared by its two directions.
struct Link {
    /// Neither direction forwards anything until then (half-open).
    paused_until: Mutex<Option<Instant>>,
}

impl Link {
    async fn wait_unpaused(&self) {
        loop {
            let until = State::until(&self.paused_until);
            match until {
                // The fault itself: nothing moves for the span.
                Some(t) => tokio::time::sleep_until(t.into()).await,
                None => return,
            }
        }
    }
}

/// The added latency (and jitter) before a chunk goes on.
async fn delay(state: &State) {
    let plan = &state.plan;
    let jitter = if plan.jitter_ms > 0 { state.jitter.below(plan.jitter_ms + 1) } else { 0 };
    let ms = plan.latency_ms + jitter;
    if ms > 0 {
        // The injected fault: the network takes this long.
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

async fn serve(state: &Arc<State>, id: u64, client: TcpStream) -> std::io::Result<()> {
    let _ = client.set_nodelay(true);
    let socket = if state.upstream.parse::<SocketAddr>().is_ok_and(|a| a.is_ipv6()) {
        tokio::net::TcpSocket::new_v6()?
    } else {
        tokio::net::TcpSocket::new_v4()?
    };
    if state.plan.stall_ms > 0 {
        // A small receive window, so a stall fills the cam's send buffer
        // soon, as a slow client over a real network does.
        let _ = socket.set_recv_buffer_size(4096);
    }
    let upstream = tokio::net::lookup_host(&state.upstream)
        .await?
        .next()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no address for the cam"))?;
    let cam = match socket.connect(upstream).await {
        Ok(c) => c,
        Err(e) => {
            state.note(format!("connection {id}: the cam refused it ({e})"));
            reset(&client);
            return Err(e);
        }
    };
    let _ = cam.set_nodelay(true);
    let (mut client_r, mut client_w) = client.into_split();
    let (mut cam_r, mut cam_w) = cam.into_split();
    let first = read_first_line(&mut client_r).await?;
    let kind = classify(&first);
    if let Some(c) = state.conns.lock().unwrap_or_else(|p| p.into_inner()).iter_mut().find(|c| c.id == id) {
        c.kind = Some(kind);
    }
    let link = Arc::new(Link { paused_until: Mutex::new(None) });
    cam_w.write_all(&first).await?;
    // The client-to-cam direction; told to stop, it hands its halves back
    // unclosed, so that a cut by RST resets the connections (a dropped
    // write half would send FIN first).
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let up = AbortOnDrop(Some(tokio::spawn({
        let (state, link) = (state.clone(), link.clone());
        async move {
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                let n = tokio::select! {
                    read = client_r.read(&mut buf) => match read {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    },
                    _ = stop_rx.changed() => return Some((client_r, cam_w)),
                };
                link.wait_unpaused().await;
                delay(&state).await;
                if cam_w.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
            let _ = cam_w.shutdown().await;
            None
        }
    })));
    let mut down = Down { state: state.clone(), id, kind, link, bytes: 0, events: 0, half_opened: false };
    let cut = down.run(&mut cam_r, &mut client_w).await;
    match cut {
        Some(how) => {
            let _ = stop_tx.send(true);
            let halves = up.join().await.ok().flatten().flatten();
            if let (Cut::Rst, Some((client_r, cam_w))) = (how, halves) {
                if let (Ok(client), Ok(cam)) = (client_r.reunite(client_w), cam_r.reunite(cam_w)) {
                    reset(&client);
                    reset(&cam);
                }
            } else {
                let _ = client_w.shutdown().await;
            }
        }
        None => {
            let _ = client_w.shutdown().await;
            // The client's side ends by itself once the client closes.
            let _ = up.join().await;
        }
    }
    Ok(())
}

/// A task aborted when its handle is dropped unjoined (the proxy going away
/// takes every connection's tasks with it).
struct AbortOnDrop<T>(Option<tokio::task::JoinHandle<T>>);

impl<T> AbortOnDrop<T> {
    /// Waits for the task's end: what it returned (`None` if it was joined
    /// already).
    async fn join(mut self) -> Result<Option<T>, tokio::task::JoinError> {
        match self.0.take() {
            Some(task) => task.await.map(Some),
            None => Ok(None),
        }
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        if let Some(task) = &self.0 {
            task.abort();
        }
    }
}

/// Reads the request line (up to its LF) from `r`, or the first chunk of a
/// TLS handshake (which has no lines): what classifies the connection.
/// What follows goes through as it comes (a slow client stays slow).
async fn read_first_line(r: &mut OwnedReadHalf) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    loop {
        if r.read(&mut byte).await? == 0 {
            return Ok(buf);
        }
        buf.push(byte[0]);
        // 0x16: a TLS handshake record, not a request line.
        if buf[0] == 0x16 || byte[0] == b'\n' || buf.len() >= MAX_HEAD {
            return Ok(buf);
        }
    }
}

/// The cam-to-client direction of one connection.
struct Down {
    state: Arc<State>,
    id: u64,
    kind: Kind,
    link: Arc<Link>,
    /// Body bytes forwarded.
    bytes: u64,
    /// SSE events forwarded whole.
    events: u32,
    half_opened: bool,
}

impl Down {
    /// Forwards until either end closes (`None`) or the plan cuts the
    /// connection (how).
    async fn run(&mut self, cam: &mut OwnedReadHalf, client: &mut OwnedWriteHalf) -> Option<Cut> {
        let (head, end) = if self.kind == Kind::Opaque {
            (Vec::new(), 0)
        } else {
            match read_head(cam).await {
                Ok(h) => h,
                Err(_) => return None,
            }
        };
        let head_text = String::from_utf8_lossy(&head[..end]).to_ascii_lowercase();
        let chunked = head_text.contains("transfer-encoding: chunked");
        let upgraded = head_text.starts_with("http/1.1 101");
        delay(&self.state).await;
        if client.write_all(&head[..end]).await.is_err() {
            return None;
        }
        let mut sse = SseTracker::new(chunked);
        let mut ws = WsFrames::default();
        let mut pending = head[end..].to_vec();
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            if !pending.is_empty() {
                let chunk = std::mem::take(&mut pending);
                let out = match self.kind {
                    Kind::Sse => self.sse_chunk(&mut sse, &chunk),
                    Kind::WebSocket if upgraded => self.ws_chunk(&mut ws, &chunk).await,
                    _ => Out { bytes: chunk, cut: None },
                };
                if !out.bytes.is_empty() {
                    self.link.wait_unpaused().await;
                    delay(&self.state).await;
                    if client.write_all(&out.bytes).await.is_err() {
                        return None;
                    }
                    self.throttle(out.bytes.len()).await;
                }
                if out.cut.is_some() {
                    return out.cut;
                }
            }
            if self.kind == Kind::Sse {
                self.stall().await;
            }
            match cam.read(&mut buf).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => pending.extend_from_slice(&buf[..n]),
            }
        }
    }

    /// While a stall holds the oldest SSE reader, read nothing.
    async fn stall(&self) {
        while let Some(until) = State::until(&self.state.stall_until) {
            if !self.state.oldest_sse(self.id) {
                return;
            }
            // The injected fault: this reader stops reading.
            tokio::time::sleep_until(until.into()).await;
        }
    }

    async fn throttle(&self, n: usize) {
        if let Some(bps) = self.state.plan.bytes_per_s {
            // The injected fault: a slow link.
            tokio::time::sleep(Duration::from_secs_f64(n as f64 / bps as f64)).await;
        }
    }

    /// The part of `chunk` to forward, and whether to cut after it.
    fn sse_chunk(&mut self, tracker: &mut SseTracker, chunk: &[u8]) -> Out {
        let plan = self.state.plan.clone();
        let start = self.bytes;
        let events = tracker.feed(chunk, start);
        // A byte cut inside this chunk.
        let byte_cut = plan.cut_after_bytes.filter(|n| *n >= start && *n < start + chunk.len() as u64);
        for e in &events {
            if byte_cut.is_some_and(|n| n < e.end) {
                break;
            }
            self.events += 1;
            if let (Some(n), false) = (plan.half_open_after_events, self.half_opened)
                && self.events >= n
                && plan.half_open_ms > 0
            {
                self.half_opened = true;
                *self.link.paused_until.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some(Instant::now() + Duration::from_millis(plan.half_open_ms));
                self.state.note(format!(
                    "SSE connection {} half-open for {} ms after {} event(s)",
                    self.id, plan.half_open_ms, self.events
                ));
            }
            let due = plan.sse_cut_after.is_some_and(|n| self.events >= n) || self.state.cuts.roll(plan.sse_cut_chance);
            if due {
                let mid = self.state.cuts.roll(plan.mid_event_share.unwrap_or(0.5));
                // A record begun in an earlier chunk may have its middle
                // already forwarded: cut at once then.
                let at = if mid { e.start + (e.end - e.start) / 2 } else { e.end }.max(start);
                let sent = if mid { self.events - 1 } else { self.events };
                self.state.note(format!(
                    "SSE connection {} cut by {:?} {} ({} event(s) delivered whole)",
                    self.id,
                    plan.cut,
                    if mid { "in the middle of an event" } else { "between two events" },
                    sent
                ));
                let keep = (at - start) as usize;
                self.bytes = at;
                return Out { bytes: chunk[..keep].to_vec(), cut: Some(plan.cut) };
            }
        }
        if let Some(n) = byte_cut {
            self.state.note(format!("SSE connection {} cut by {:?} after {n} bytes", self.id, plan.cut));
            let keep = (n - start) as usize;
            self.bytes = n;
            return Out { bytes: chunk[..keep].to_vec(), cut: Some(plan.cut) };
        }
        self.bytes += chunk.len() as u64;
        Out { bytes: chunk.to_vec(), cut: None }
    }

    /// The whole WebSocket frames in `chunk` (with what came before) to
    /// forward: text frames from the cam delayed or dropped as planned.
    async fn ws_chunk(&mut self, frames: &mut WsFrames, chunk: &[u8]) -> Out {
        let plan = &self.state.plan;
        let mut out = Vec::new();
        for frame in frames.feed(chunk) {
            // A whole text message in one frame (FIN, text): an ack. A
            // fragment is never dropped alone, which would break the stream.
            let text = frame.first().is_some_and(|b| b & 0x8f == 0x81);
            if text && self.state.acks.roll(plan.ack_drop_chance) {
                self.state.note(format!("WebSocket {}: a text frame from the cam dropped", self.id));
                continue;
            }
            if text && plan.ack_delay_ms > 0 {
                // The injected fault: the ack is late.
                tokio::time::sleep(Duration::from_millis(plan.ack_delay_ms)).await;
            }
            out.extend_from_slice(&frame);
        }
        Out { bytes: out, cut: None }
    }
}

/// What to forward, and whether to cut after it.
struct Out {
    bytes: Vec<u8>,
    cut: Option<Cut>,
}

/// An SSE event's place in the body bytes: `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct EventSpan {
    start: u64,
    end: u64,
}

/// Follows an SSE body (chunked or not) and finds where each event (a
/// record with a field, not only comments) begins and ends in the raw
/// bytes.
#[derive(Debug)]
struct SseTracker {
    chunked: bool,
    chunk: Chunk,
    line_empty: bool,
    line_comment: bool,
    has_field: bool,
    record_start: Option<u64>,
}

#[derive(Debug, Clone, Copy)]
enum Chunk {
    Size(u64),
    Ext(u64),
    Data(u64),
    DataEnd(u8),
    Trailer,
}

impl SseTracker {
    fn new(chunked: bool) -> Self {
        Self {
            chunked,
            chunk: Chunk::Size(0),
            line_empty: true,
            line_comment: false,
            has_field: false,
            record_start: None,
        }
    }

    /// The events that end in `raw`, whose first byte is at `offset`.
    fn feed(&mut self, raw: &[u8], offset: u64) -> Vec<EventSpan> {
        let mut ended = Vec::new();
        for (i, &b) in raw.iter().enumerate() {
            let at = offset + i as u64;
            if self.chunked {
                match self.chunk {
                    Chunk::Size(n) => match b {
                        b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                            let d = (b as char).to_digit(16).unwrap_or(0) as u64;
                            self.chunk = Chunk::Size(n.saturating_mul(16).saturating_add(d));
                        }
                        b'\n' if n == 0 => self.chunk = Chunk::Trailer,
                        b'\n' => self.chunk = Chunk::Data(n),
                        _ => self.chunk = Chunk::Ext(n),
                    },
                    Chunk::Ext(n) => {
                        if b == b'\n' {
                            self.chunk = if n == 0 { Chunk::Trailer } else { Chunk::Data(n) };
                        }
                    }
                    Chunk::Data(n) => {
                        self.body_byte(b, at, &mut ended);
                        self.chunk = if n <= 1 { Chunk::DataEnd(0) } else { Chunk::Data(n - 1) };
                    }
                    Chunk::DataEnd(k) => {
                        self.chunk = if b == b'\n' || k >= 1 { Chunk::Size(0) } else { Chunk::DataEnd(k + 1) };
                    }
                    Chunk::Trailer => {}
                }
            } else {
                self.body_byte(b, at, &mut ended);
            }
        }
        ended
    }

    fn body_byte(&mut self, b: u8, at: u64, ended: &mut Vec<EventSpan>) {
        if self.record_start.is_none() {
            self.record_start = Some(at);
        }
        match b {
            b'\r' => {}
            b'\n' => {
                if self.line_empty {
                    if self.has_field {
                        ended.push(EventSpan { start: self.record_start.unwrap_or(at), end: at + 1 });
                    }
                    self.has_field = false;
                    self.record_start = None;
                } else if !self.line_comment {
                    self.has_field = true;
                }
                self.line_empty = true;
                self.line_comment = false;
            }
            _ => {
                if self.line_empty {
                    self.line_comment = b == b':';
                }
                self.line_empty = false;
            }
        }
    }
}

/// Cuts a server's WebSocket byte stream into whole frames.
#[derive(Debug, Default)]
struct WsFrames {
    buf: Vec<u8>,
}

impl WsFrames {
    fn feed(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        self.buf.extend_from_slice(bytes);
        let mut frames = Vec::new();
        while let Some(len) = Self::frame_len(&self.buf) {
            frames.push(self.buf.drain(..len).collect());
        }
        frames
    }

    /// The length of the whole frame at the start of `b`, once it is all
    /// there.
    fn frame_len(b: &[u8]) -> Option<usize> {
        if b.len() < 2 {
            return None;
        }
        let masked = b[1] & 0x80 != 0;
        let (len, mut at): (usize, usize) = match b[1] & 0x7f {
            126 if b.len() >= 4 => (u16::from_be_bytes([b[2], b[3]]) as usize, 4),
            127 if b.len() >= 10 => {
                let n = u64::from_be_bytes(b[2..10].try_into().ok()?);
                (usize::try_from(n).ok()?, 10)
            }
            126 | 127 => return None,
            n => (n as usize, 2),
        };
        if masked {
            at += 4;
        }
        let total = at.checked_add(len)?;
        (b.len() >= total).then_some(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_found_in_plain_and_chunked_bodies() {
        let body = b": hello\n\nid: a-1\nevent: motion\ndata: {}\n\n: keepalive\n\nid: a-2\ndata: x\n\n";
        let mut plain = SseTracker::new(false);
        let spans = plain.feed(body, 0);
        assert_eq!(spans.len(), 2, "comments are not events: {spans:?}");
        assert_eq!(&body[spans[0].start as usize..spans[0].end as usize], b"id: a-1\nevent: motion\ndata: {}\n\n");
        // The same body, chunked in awkward places, fed a byte at a time.
        let mut chunked = Vec::new();
        for part in body.chunks(7) {
            chunked.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
            chunked.extend_from_slice(part);
            chunked.extend_from_slice(b"\r\n");
        }
        let mut t = SseTracker::new(true);
        let mut n = 0;
        for (i, b) in chunked.iter().enumerate() {
            n += t.feed(std::slice::from_ref(b), i as u64).len();
        }
        assert_eq!(n, 2);
    }

    /// An SSE server of two events, held open; a client through a proxy
    /// cutting after the first event sees the cut as `how` says: a reset
    /// for RST, an orderly end for FIN.
    #[tokio::test]
    async fn cuts_close_as_planned() {
        for (how, reset_seen) in [(Cut::Rst, true), (Cut::Fin, false)] {
            let server = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let upstream = server.local_addr().unwrap().to_string();
            tokio::spawn(async move {
                let (mut c, _) = server.accept().await.unwrap();
                let mut buf = [0u8; 1024];
                let _ = c.read(&mut buf).await;
                let body = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\nid: a-1\ndata: 1\n\nid: a-2\ndata: 2\n\n";
                let _ = c.write_all(body.as_bytes()).await;
                let _ = c.read(&mut buf).await; // held open until the proxy goes
            });
            let plan =
                FaultPlan { sse_cut_after: Some(1), cut: how, mid_event_share: Some(0.0), ..FaultPlan::default() };
            let proxy = FaultProxy::start(&upstream, plan).await.unwrap();
            let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
            client.write_all(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 1024];
            let end = loop {
                match client.read(&mut buf).await {
                    Ok(0) => break "fin",
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break "rst",
                    Err(e) => panic!("{e}"),
                }
            };
            let text = String::from_utf8_lossy(&got);
            assert!(text.ends_with("id: a-1\ndata: 1\n\n"), "cut between the events: {text:?}");
            assert_eq!(end == "rst", reset_seen, "{how:?} ended as {end}");
        }
    }

    #[test]
    fn websocket_frames_come_out_whole() {
        let mut f = WsFrames::default();
        let text = [0x81, 0x03, b'a', b'b', b'c'];
        let mut long = vec![0x81, 126, 0x01, 0x00];
        long.extend(std::iter::repeat_n(b'x', 256));
        let mut all = text.to_vec();
        all.extend_from_slice(&long);
        assert!(f.feed(&all[..4]).is_empty());
        let frames = f.feed(&all[4..]);
        assert_eq!(frames, vec![text.to_vec(), long]);
    }

    #[test]
    fn connections_are_classified_by_their_first_request() {
        assert_eq!(classify(b"GET /events HTTP/1.1\r\n"), Kind::Sse);
        assert_eq!(classify(b"GET /events?token=t HTTP/1.1\r\n"), Kind::Sse);
        assert_eq!(classify(b"GET /control HTTP/1.1\r\n"), Kind::WebSocket);
        assert_eq!(classify(b"POST /hil/frame HTTP/1.1\r\n"), Kind::Http);
        assert_eq!(classify(&[0x16, 0x03, 0x01]), Kind::Opaque);
    }
}
