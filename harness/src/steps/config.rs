//! `config`: change the cam's threshold mid-scenario (`set_threshold` over
//! the control WebSocket; the ack must say `"ok": true`).

use serde::Deserialize;

use super::{Action, Kind, StepCx, StepFuture, StepTable};
use crate::runner::Session;
use crate::scenario::ScenarioError;

/// The `config` step kind.
pub const KIND: Kind = Kind {
    keywords: &["config"],
    modifiers: &[],
    example: r#"[[step]]
config = { threshold = 0.2 }   # sent as set_threshold; the ack must be ok
"#,
    parse,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    threshold: f64,
}

/// Change the threshold.
#[derive(Debug)]
pub struct Config {
    /// New threshold, in `[0, 1]`.
    pub threshold: f64,
}

fn parse(t: &mut StepTable<'_>) -> Result<Box<dyn Action>, ScenarioError> {
    let raw: Raw = t.take("config")?.expect("chosen");
    if !(0.0..=1.0).contains(&raw.threshold) {
        return Err(t.step_error("threshold must be in [0, 1]"));
    }
    Ok(Box::new(Config { threshold: raw.threshold }))
}

impl Action for Config {
    fn kind(&self) -> &'static str {
        KIND.name()
    }

    fn waits_for(&self) -> String {
        "the ack of set_threshold".into()
    }

    fn run<'a>(&'a self, s: &'a mut Session<'_>, cx: &'a StepCx<'_>) -> StepFuture<'a> {
        Box::pin(async move {
            s.configure(serde_json::json!({"cmd": "set_threshold", "value": self.threshold}), cx.deadline).await
        })
    }
}
