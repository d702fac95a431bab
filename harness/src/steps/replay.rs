//! `replay`: inject frames of a clip into the cam (`POST /hil/frame`), each
//! with its capture timestamp (`X-Frame-Ts`), and record the cam's ack.

use std::path::PathBuf;
use std::time::Duration;

use cam_core::protocol::{FRAME_TS_HEADER, FrameReply};
use serde::Deserialize;
use tokio::time::timeout_at;

use super::{Action, Kind, StepCx, StepFuture, StepTable, clip_text, error_chain};
use crate::client::{CONNECT_RETRIES, retry_refused};
use crate::faults::frames::FrameFaults;
use crate::outcome::Failure;
use crate::runner::{FrameRecord, Session};
use crate::scenario::{ScenarioError, clip_times};
use crate::timeline::Channel;

/// The `replay` step kind.
pub const KIND: Kind = Kind {
    keywords: &["replay"],
    modifiers: &[],
    example: r#"[[step]]
replay = { from = 0, to = 9 }                        # manifest rows 0..=9, each as soon as the previous is acked

[[step]]
replay = { from = 10, to = 19, pace = "recorded", speed = 2.0 }  # at the recorded timing, twice as fast

[[step]]
replay = { fixture = "../fixtures/synthetic_bright_square" }  # another clip, all of it
"#,
    parse,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    fixture: Option<String>,
    from: Option<usize>,
    to: Option<usize>,
    #[serde(default)]
    pace: RawPace,
    speed: Option<f64>,
}

#[derive(Deserialize, Default, PartialEq)]
#[serde(rename_all = "lowercase")]
enum RawPace {
    #[default]
    Acked,
    Recorded,
}

/// How a `replay` step paces frames.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// Each frame as soon as the previous one is acked.
    Acked,
    /// At the recorded capture times divided by the speed factor.
    Recorded(f64),
}

/// Inject frames `from..=to` (manifest rows) of `clip`.
#[derive(Debug)]
pub struct Replay {
    /// The clip folder.
    pub clip: PathBuf,
    /// First frame index (0-based manifest row).
    pub from: usize,
    /// Last frame index, inclusive.
    pub to: usize,
    /// Pacing.
    pub pace: Pace,
}

fn parse(t: &mut StepTable<'_>) -> Result<Box<dyn Action>, ScenarioError> {
    let (r, span): (Raw, _) = t.take_spanned("replay")?.expect("chosen by its keyword");
    let at = |m: String| t.error(Some(span.clone()), m);
    let clip = t.clip(r.fixture.as_deref(), span.clone())?;
    let times = clip_times(&clip).map_err(at)?;
    let len = times.len();
    let (from, to) = (r.from.unwrap_or(0), r.to.unwrap_or(len - 1));
    if to >= len || from > to {
        return Err(at(format!(
            "frames {from}..={to} are not in the fixture ({} has frames 0..={})",
            clip.display(),
            len - 1
        )));
    }
    let pace = match (r.pace, r.speed) {
        (RawPace::Acked, None) => Pace::Acked,
        (RawPace::Acked, Some(_)) => return Err(at("`speed` needs `pace = \"recorded\"`".into())),
        (RawPace::Recorded, s) => match s.unwrap_or(1.0) {
            s if s > 0.0 && s.is_finite() => Pace::Recorded(s),
            s => return Err(at(format!("`speed` must be above 0, not {s}"))),
        },
    };
    if let Pace::Recorded(speed) = pace {
        let span_ms = (times[to] - times[from]) as f64 / speed;
        if span_ms >= t.timeout().as_millis() as f64 {
            return Err(at(format!(
                "at recorded pace (speed {speed}) frames {from}..={to} take {span_ms:.0} ms, not less than the step's timeout of {} ms: raise `timeout_ms` or `speed`",
                t.timeout().as_millis()
            )));
        }
    }
    Ok(Box::new(Replay { clip, from, to, pace }))
}

impl Action for Replay {
    fn kind(&self) -> &'static str {
        KIND.name()
    }

    fn waits_for(&self) -> String {
        format!("the cam's acks of frames {}..={}", self.from, self.to)
    }

    fn run<'a>(&'a self, s: &'a mut Session<'_>, cx: &'a StepCx<'_>) -> StepFuture<'a> {
        Box::pin(self.replay(s, cx))
    }
}

/// One frame as the fault plan has it sent.
struct Sending {
    index: usize,
    faults: FrameFaults,
}

impl Replay {
    /// The frames in the order they go, each with its faults: the clip's
    /// order unless a frame swaps places with the next.
    fn order(&self, s: &Session<'_>) -> Vec<Sending> {
        let mut order: Vec<Sending> = (self.from..=self.to)
            .map(|index| {
                let faults = match &s.faults {
                    Some(f) => FrameFaults::draw(&f.plan, &f.dice),
                    None => FrameFaults::default(),
                };
                Sending { index, faults }
            })
            .collect();
        let mut k = 0;
        while k + 1 < order.len() {
            if order[k].faults.swap {
                order.swap(k, k + 1);
                k += 2;
            } else {
                k += 1;
            }
        }
        order
    }

    async fn replay(&self, s: &mut Session<'_>, cx: &StepCx<'_>) -> Result<(), Failure> {
        let clip = s.clips.get(&self.clip).map_err(Failure::setup)?;
        let t0 = clip.frames[self.from].t_ms;
        let total = self.to - self.from + 1;
        let start = tokio::time::Instant::now();
        let order = self.order(s);
        let mut previous_ts = None;
        for (k, sending) in order.iter().enumerate() {
            let index = sending.index;
            let frame = &clip.frames[index];
            if let Pace::Recorded(speed) = self.pace {
                let offset = Duration::from_secs_f64((frame.t_ms.saturating_sub(t0)) as f64 / 1000.0 / speed);
                // Pacing at the recorded frame rate is what this step does.
                tokio::time::sleep_until(start + offset).await;
            }
            let f = sending.faults;
            let mut ts_ms = s.recorder.base_ts_ms + frame.t_ms;
            if f.repeat_ts && let Some(prev) = previous_ts {
                ts_ms = prev;
            }
            previous_ts = Some(ts_ms);
            let bytes = match &s.faults {
                Some(fs) if f.alters_bytes() => f.apply(&frame.jpeg, &fs.dice),
                _ => frame.jpeg.clone(),
            };
            if f != FrameFaults::default() {
                s.timeline.push(Channel::Fault, format!("frame {index}: {}", f.describe()));
            }
            for _ in 0..(1 + usize::from(f.duplicate)) {
                self.send(s, cx, index, &frame.file, frame.label, ts_ms, &bytes, f).await?;
            }
            s.frame_sent(cx.deadline).await?;
            s.drain();
            cx.progress.step(format!("frame {} of {total}, {} event(s)", k + 1, s.sse.ledger.counts().1));
        }
        Ok(())
    }

    /// Sends one frame and judges the answer: an ack (recorded), or for a
    /// frame the fault plan touched a refusal (4xx, or a closed connection
    /// for an oversized one) that must change nothing; never a 5xx.
    #[allow(clippy::too_many_arguments)]
    async fn send(
        &self,
        s: &mut Session<'_>,
        cx: &StepCx<'_>,
        index: usize,
        file: &str,
        label: Option<bool>,
        ts_ms: u64,
        bytes: &[u8],
        faults: FrameFaults,
    ) -> Result<(), Failure> {
        let sent_ms = s.timeline.now_ms();
        let http = &s.http;
        let attempt = || {
            let request = http
                .request(reqwest::Method::POST, "/hil/frame")
                .header(FRAME_TS_HEADER, ts_ms.to_string())
                .header(reqwest::header::CONTENT_TYPE, "image/jpeg")
                .body(bytes.to_vec())
                .send();
            async move {
                let resp = request.await?;
                let status = resp.status();
                Ok::<_, reqwest::Error>((status, resp.text().await.unwrap_or_default()))
            }
        };
        // A connection refused before it opened never carried the frame:
        // try again, as any client backs off (a fault plan's refusals, a
        // small cam with every slot taken).
        let exchange = retry_refused(CONNECT_RETRIES.len(), reqwest::Error::is_connect, attempt);
        let context = format!("frame {index} ({file}): POST /hil/frame");
        let (answer, refusals) = timeout_at(cx.deadline, exchange).await.map_err(|_| {
            Failure::timeout(
                format!("the ack of frame {index}"),
                format!("{context}: no answer before the step's timeout ({} ms)", cx.step.timeout.as_millis()),
            )
        })?;
        if refusals > 0 {
            s.timeline.push(Channel::Frame, format!("frame {index}: sent after {refusals} refused connection(s)"));
        }
        if faults.oversize {
            // A cam may answer an oversized frame before reading it all and
            // then close the connection: the next frame goes on a new one.
            s.http = crate::client::Http::new(&s.endpoint).map_err(Failure::setup)?;
        }
        let (status, body) = match answer {
            Ok(a) => a,
            // A cam may refuse a frame past its limit by closing the
            // connection before reading it all.
            Err(e) if faults.oversize && crate::client::is_connection_reset(&e) => {
                s.timeline.push(Channel::Frame, format!("frame {index} -> connection closed: refused (oversized)"));
                s.recorder.refused_since_ack = true;
                return Ok(());
            }
            Err(e) => return Err(Failure::transport(format!("{context}: {}", error_chain(&e)))),
        };
        if status.is_server_error() {
            s.timeline.push(Channel::Frame, format!("frame {index} -> {status} {body}"));
            return Err(Failure::differs(context, "status", "200 or a 4xx refusal, never 5xx", format!("{status}: {}", clip_text(&body))));
        }
        // Any frame the plan touched may be refused: bytes altered, sent
        // again, out of order or with a capture time that repeats.
        if status.is_client_error() && faults != FrameFaults::default() {
            s.timeline.push(Channel::Frame, format!("frame {index} -> {status}: refused ({})", clip_text(&body)));
            s.recorder.refused_since_ack = true;
            return Ok(());
        }
        if !status.is_success() {
            s.timeline.push(Channel::Frame, format!("frame {index} -> {status} {body}"));
            return Err(Failure::differs(context, "status", "2xx", format!("{status}: {}", clip_text(&body))));
        }
        let reply: FrameReply = serde_json::from_str(&body).map_err(|e| {
            Failure::differs(context.clone(), "body", "a frame ack", format!("{} ({e})", clip_text(&body)))
        })?;
        let motion = if reply.motion { " MOTION" } else { "" };
        s.timeline.push(Channel::Frame, format!("frame {index} -> seq {} change {:.4}{motion}", reply.frame, reply.change));
        // A refused frame changes nothing: the cam's frame numbers go on
        // as if it had never been sent.
        if s.recorder.refused_since_ack
            && let Some(last) = s.recorder.last_ack_seq
            && reply.frame != last + 1
        {
            return Err(Failure::differs(
                format!("{context}: after a refused frame"),
                "$.frame",
                format!("{} (a refused frame changes nothing)", last + 1),
                reply.frame.to_string(),
            ));
        }
        s.recorder.refused_since_ack = false;
        s.recorder.last_ack_seq = Some(reply.frame);
        s.sse.ledger.on_ack(&reply);
        s.recorder.frames.push(FrameRecord { clip: self.clip.clone(), index, label, sent_ms, ts_ms, reply });
        Ok(())
    }
}
