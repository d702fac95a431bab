//! `replay`: inject frames of a clip into the cam (`POST /hil/frame`), each
//! with its capture timestamp (`X-Frame-Ts`), and record the cam's ack.

use std::path::PathBuf;
use std::time::Duration;

use cam_core::protocol::{FRAME_TS_HEADER, FrameReply};
use serde::Deserialize;
use tokio::time::timeout_at;

use super::{Action, Kind, StepCx, StepFuture, StepTable, clip_text, error_chain};
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
    let clip = match (&r.fixture, t.fixture()) {
        (Some(f), _) => crate::scenario::check_clip(t.base(), f).map_err(at)?,
        (None, Some(f)) => f.to_path_buf(),
        (None, None) => return Err(at("replay needs a fixture (top-level `fixture` or `replay.fixture`)".into())),
    };
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

impl Replay {
    async fn replay(&self, s: &mut Session<'_>, cx: &StepCx<'_>) -> Result<(), Failure> {
        let clip = s.clips.get(&self.clip).map_err(Failure::setup)?;
        let t0 = clip.frames[self.from].t_ms;
        let total = self.to - self.from + 1;
        let start = tokio::time::Instant::now();
        for index in self.from..=self.to {
            let frame = &clip.frames[index];
            if let Pace::Recorded(speed) = self.pace {
                let offset = Duration::from_secs_f64((frame.t_ms - t0) as f64 / 1000.0 / speed);
                // Pacing at the recorded frame rate is what this step does.
                tokio::time::sleep_until(start + offset).await;
            }
            let ts_ms = s.recorder.base_ts_ms + frame.t_ms;
            let sent_ms = s.timeline.now_ms();
            let request = s
                .http
                .request(reqwest::Method::POST, "/hil/frame")
                .header(FRAME_TS_HEADER, ts_ms.to_string())
                .header(reqwest::header::CONTENT_TYPE, "image/jpeg")
                .body(frame.jpeg.clone())
                .send();
            let exchange = async {
                let resp = request.await?;
                let status = resp.status();
                Ok::<_, reqwest::Error>((status, resp.text().await.unwrap_or_default()))
            };
            let context = format!("frame {index} ({}): POST /hil/frame", frame.file);
            let (status, body) = timeout_at(cx.deadline, exchange)
                .await
                .map_err(|_| {
                    Failure::timeout(
                        format!("the ack of frame {index}"),
                        format!("{context}: no answer before the step's timeout ({} ms)", cx.step.timeout.as_millis()),
                    )
                })?
                .map_err(|e| Failure::transport(format!("{context}: {}", error_chain(&e))))?;
            if !status.is_success() {
                s.timeline.push(Channel::Frame, format!("frame {index} -> {status} {body}"));
                return Err(Failure::differs(context, "status", "2xx", format!("{status}: {}", clip_text(&body))));
            }
            let reply: FrameReply = serde_json::from_str(&body).map_err(|e| {
                Failure::differs(context.clone(), "body", "a frame ack", format!("{} ({e})", clip_text(&body)))
            })?;
            let motion = if reply.motion { " MOTION" } else { "" };
            s.timeline
                .push(Channel::Frame, format!("frame {index} -> seq {} change {:.4}{motion}", reply.frame, reply.change));
            s.sse.ledger.on_ack(&reply);
            let label = frame.label;
            s.recorder.frames.push(FrameRecord { clip: self.clip.clone(), index, label, sent_ms, ts_ms, reply });
            s.drain();
            let done = index - self.from + 1;
            cx.progress.step(format!("frame {done} of {total}, {} event(s)", s.sse.ledger.counts().1));
        }
        Ok(())
    }
}
