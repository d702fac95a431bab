//! `expect_latest_frame`: `GET /snapshot.jpg` answers exactly this frame of
//! a clip: the latest frame the cam accepted. Works on any target (it only
//! needs the network), so a frame the cam refused can be shown to have
//! changed nothing.

use std::path::PathBuf;

use serde::Deserialize;

use super::{Action, Kind, StepCx, StepFuture, StepTable, clip_text, error_chain};
use crate::outcome::Failure;
use crate::runner::Session;
use crate::scenario::{ScenarioError, clip_len};
use crate::timeline::Channel;

/// The `expect_latest_frame` step kind.
pub const KIND: Kind = Kind {
    keywords: &["expect_latest_frame"],
    modifiers: &[],
    example: r#"[[step]]
expect_latest_frame = { frame = 2 }    # GET /snapshot.jpg is fixture frame 2, byte for byte

[[step]]
expect_latest_frame = { fixture = "../fixtures/synthetic_bright_square", frame = 2 }  # of another clip
"#,
    parse,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    fixture: Option<String>,
    frame: usize,
}

/// Check the cam's latest frame.
#[derive(Debug)]
pub struct ExpectLatestFrame {
    /// The clip folder.
    pub clip: PathBuf,
    /// Frame index in the clip (0-based manifest row).
    pub frame: usize,
}

fn parse(t: &mut StepTable<'_>) -> Result<Box<dyn Action>, ScenarioError> {
    let (raw, span): (Raw, _) = t.take_spanned("expect_latest_frame")?.expect("chosen by its keyword");
    let at = |m: String| t.error(Some(span.clone()), m);
    let clip = t.clip(raw.fixture.as_deref(), span.clone())?;
    let len = clip_len(&clip).map_err(at)?;
    if raw.frame >= len {
        return Err(at(format!("frame {} is not in the fixture (0..={})", raw.frame, len - 1)));
    }
    Ok(Box::new(ExpectLatestFrame { clip, frame: raw.frame }))
}

impl Action for ExpectLatestFrame {
    fn kind(&self) -> &'static str {
        KIND.name()
    }

    fn waits_for(&self) -> String {
        "GET /snapshot.jpg".into()
    }

    fn run<'a>(&'a self, s: &'a mut Session<'_>, _cx: &'a StepCx<'_>) -> StepFuture<'a> {
        Box::pin(async move {
            let clip = s.clips.get(&self.clip).map_err(Failure::setup)?;
            let expected = &clip.frames[self.frame].jpeg;
            let context = "GET /snapshot.jpg";
            let resp = s
                .http
                .request(reqwest::Method::GET, "/snapshot.jpg")
                .send()
                .await
                .map_err(|e| Failure::transport(format!("{context}: {}", error_chain(&e))))?;
            let status = resp.status().as_u16();
            let body = resp.bytes().await.map_err(|e| Failure::transport(format!("{context}: body: {e}")))?;
            s.timeline.push(Channel::Http, format!("{context} -> {status}, {} bytes", body.len()));
            if status != 200 {
                let text = clip_text(&String::from_utf8_lossy(&body));
                return Err(Failure::differs(context, "status", "200", format!("{status}: {text}")));
            }
            if body.as_ref() == expected.as_slice() {
                return Ok(());
            }
            let which = clip.frames.iter().position(|f| f.jpeg == body.as_ref());
            Err(Failure::differs(
                context,
                "",
                format!("fixture frame {} ({} bytes)", self.frame, expected.len()),
                match which {
                    Some(i) => format!("fixture frame {i}"),
                    None => format!("{} bytes that are no frame of the fixture", body.len()),
                },
            ))
        })
    }
}
