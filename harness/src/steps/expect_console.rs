//! `expect_console`: the next serial console line (after those an earlier
//! `expect_console` step consumed) matching a regex; consumes it and those
//! before it. The scenario then needs a target with a console, unless the
//! step says `if_console = true`: then it passes at once on a cam without
//! one.

use serde::Deserialize;

use super::{Action, Kind, StepCx, StepFuture, StepTable};
use crate::runner::Session;
use crate::scenario::{Needs, ScenarioError};

/// The `expect_console` step kind.
pub const KIND: Kind = Kind {
    keywords: &["expect_console"],
    modifiers: &[],
    example: r#"[[step]]
expect_console = { regex = '^cam-fw: motion id=[0-9a-f]{8}-\d+ frame=11 ' }

[[step]]
expect_console = { regex = '^cam-fw: cost frame=60 ', if_console = true }  # passes at once on a cam without one
"#,
    parse,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    regex: String,
    #[serde(default)]
    if_console: bool,
}

/// Wait for a console line.
#[derive(Debug)]
pub struct ExpectConsole {
    /// What the line must match.
    pub regex: regex::Regex,
    /// Only on a cam with a console: on one without (a cam at a URL, the
    /// simulator) the step passes at once, and the scenario does not need
    /// a console.
    pub if_console: bool,
}

fn parse(t: &mut StepTable<'_>) -> Result<Box<dyn Action>, ScenarioError> {
    let raw: Raw = t.take("expect_console")?.expect("chosen");
    let regex = regex::Regex::new(&raw.regex).map_err(|e| t.step_error(format!("bad regex: {e}")))?;
    Ok(Box::new(ExpectConsole { regex, if_console: raw.if_console }))
}

impl Action for ExpectConsole {
    fn kind(&self) -> &'static str {
        KIND.name()
    }

    fn waits_for(&self) -> String {
        format!("a console line matching /{}/", self.regex.as_str())
    }

    fn needs(&self, needs: &mut Needs) {
        needs.console |= !self.if_console;
    }

    fn run<'a>(&'a self, s: &'a mut Session<'_>, cx: &'a StepCx<'_>) -> StepFuture<'a> {
        Box::pin(async move {
            if self.if_console && !s.console.exists() {
                return Ok(());
            }
            let timeout_ms = cx.step.timeout.as_millis();
            s.console.next_matching(&self.regex, cx.deadline, timeout_ms, &mut s.timeline).await
        })
    }
}
