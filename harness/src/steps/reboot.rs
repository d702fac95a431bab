//! `reboot`: reset the cam, each target its own way: a board through its
//! reset line (the RTS/DTR sequence espflash uses), the emulated board
//! through QEMU's `system_reset`, the simulator by its own reboot. A cam at
//! a URL has no reset line: the scenario is skipped there, with the reason.
//!
//! The SSE stream first catches up, so that what is judged is the cam's
//! reboot; the harness then waits for the cam's `listening on` line (on a
//! target with a console). The stream resumes by itself with
//! `Last-Event-ID`; an `expect_restart` step then checks that the reboot was
//! announced and that nothing acked was lost.

use super::{Action, Empty, Kind, StepCx, StepFuture, StepTable};
use crate::runner::Session;
use crate::scenario::{Needs, ScenarioError};

/// The `reboot` step kind.
pub const KIND: Kind = Kind {
    keywords: &["reboot"],
    modifiers: &[],
    example: r#"[[step]]
reboot = {}                            # reset the cam: its reset line, QEMU's system_reset, the simulator's reboot
"#,
    parse,
};

/// Reset the cam.
#[derive(Debug)]
pub struct Reboot;

fn parse(t: &mut StepTable<'_>) -> Result<Box<dyn Action>, ScenarioError> {
    let _: Empty = t.take("reboot")?.expect("chosen by its keyword");
    Ok(Box::new(Reboot))
}

impl Action for Reboot {
    fn kind(&self) -> &'static str {
        KIND.name()
    }

    fn waits_for(&self) -> String {
        "the cam to come back after its reset".into()
    }

    fn needs(&self, needs: &mut Needs) {
        needs.reset = true;
    }

    fn run<'a>(&'a self, s: &'a mut Session<'_>, cx: &'a StepCx<'_>) -> StepFuture<'a> {
        Box::pin(s.reset(cx.deadline))
    }
}
