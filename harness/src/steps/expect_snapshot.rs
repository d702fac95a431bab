//! `expect_snapshot`: the file named by the last ack's `saved` exists on
//! the target and holds exactly this frame of the scenario's fixture. The
//! scenario then needs a target that gives access to its storage.

use serde::Deserialize;

use super::{Action, Kind, StepCx, StepFuture, StepTable};
use crate::outcome::Failure;
use crate::runner::Session;
use crate::scenario::{Needs, ScenarioError, clip_len};

/// The `expect_snapshot` step kind.
pub const KIND: Kind = Kind {
    keywords: &["expect_snapshot"],
    modifiers: &[],
    example: r#"[[step]]
expect_snapshot = { frame = 4 }
"#,
    parse,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    frame: usize,
}

/// Check the saved snapshot's bytes.
#[derive(Debug)]
pub struct ExpectSnapshot {
    /// Frame index in the fixture.
    pub frame: usize,
    clip: std::path::PathBuf,
}

fn parse(t: &mut StepTable<'_>) -> Result<Box<dyn Action>, ScenarioError> {
    let (raw, span): (Raw, _) = t.take_spanned("expect_snapshot")?.expect("chosen");
    let Some(clip) = t.fixture().map(std::path::Path::to_path_buf) else {
        return Err(t.error(Some(span), "expect_snapshot needs the top-level `fixture`".into()));
    };
    let len = clip_len(&clip).map_err(|m| t.error(Some(span.clone()), m))?;
    if raw.frame >= len {
        return Err(t.error(Some(span), format!("frame {} is not in the fixture (0..={})", raw.frame, len - 1)));
    }
    Ok(Box::new(ExpectSnapshot { frame: raw.frame, clip }))
}

impl Action for ExpectSnapshot {
    fn kind(&self) -> &'static str {
        KIND.name()
    }

    fn waits_for(&self) -> String {
        "the snapshot file".into()
    }

    fn needs(&self, needs: &mut Needs) {
        needs.storage = true;
    }

    fn run<'a>(&'a self, s: &'a mut Session<'_>, _cx: &'a StepCx<'_>) -> StepFuture<'a> {
        Box::pin(async move {
            let saved = s.control.last_saved.clone().ok_or_else(|| {
                Failure::differs("expect_snapshot", "", "an earlier ack naming a `saved` file", "none")
            })?;
            let clip = s.clips.get(&self.clip).map_err(Failure::setup)?;
            let expected = &clip.frames[self.frame].jpeg;
            let context = format!("{saved} on {}", s.target.describe());
            match s.target.read_file(&saved).map_err(|e| Failure::differs(&context, "", "the file", e))? {
                None => Err(Failure::setup(format!("target {} gives no access to its storage", s.target.describe()))),
                Some(bytes) if &bytes == expected => Ok(()),
                Some(bytes) => Err(Failure::differs(
                    context,
                    "bytes",
                    format!("fixture frame {} ({} bytes)", self.frame, expected.len()),
                    format!(
                        "{} bytes that are not it{}",
                        bytes.len(),
                        clip.frames
                            .iter()
                            .position(|f| f.jpeg == bytes)
                            .map_or(String::new(), |i| format!("; it is frame {i}"))
                    ),
                )),
            }
        })
    }
}
