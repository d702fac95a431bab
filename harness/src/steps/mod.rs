//! The steps of the scenario language: one module per step kind, each
//! holding its parse, its load-time checks, its run and its documentation
//! example.
//!
//! A step kind is a [`Kind`]: the keys that choose it (`replay`, or `send`,
//! `send_text`, … for the WebSocket send), the keys that go with it
//! (`expect_ack`), an example, and a parser that turns the `[[step]]`
//! table into an [`Action`]. [`KINDS`] lists them; the scenario loader
//! ([`crate::scenario`]) dispatches each `[[step]]` table through it and
//! the runner ([`crate::runner`]) runs each action on a [`Session`].
//!
//! Adding a step kind is a new module here, its line in the `kinds!` list
//! below, and its section in `docs/scenarios.md` (a test checks that every
//! kind's example is there and loads).

// The error carries the file's text for miette; it is made once per load,
// never on a hot path.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::Duration;

use serde::de::DeserializeOwned;
use toml::Spanned;

use crate::client::{Auth, Credentials};
use crate::matcher::Matcher;
use crate::outcome::Failure;
use crate::runner::{Progress, Session};
use crate::scenario::{Needs, ScenarioError};

/// Declares the step modules and lists their [`Kind`]s, in the order
/// `docs/scenarios.md` presents them.
macro_rules! kinds {
    ($($module:ident),* $(,)?) => {
        $(pub mod $module;)*
        /// Every step kind.
        pub const KINDS: &[&Kind] = &[$(&$module::KIND),*];
    };
}

kinds! {
    replay,
    send,
    ws_connect,
    ping,
    ws_close,
    hold,
    sse_disconnect,
    sse_connect,
    expect_comment,
    expect_events,
    expect_no_event,
    reboot,
    expect_restart,
    expect_labels,
    config,
    expect_console,
    expect_snapshot,
    expect_latest_frame,
    http,
    bad_input,
}

/// One step kind of the scenario language.
pub struct Kind {
    /// The keys that choose this kind; a step holds exactly one action key
    /// of all kinds. The first is the kind's name in step labels.
    pub keywords: &'static [&'static str],
    /// Further keys a step of this kind may hold (`expect_ack` with `send`).
    pub modifiers: &'static [&'static str],
    /// A documentation example: `[[step]]` tables as `docs/scenarios.md`
    /// shows them, loadable in a scenario whose `fixture` is
    /// `fixtures/synthetic_bright_square`.
    pub example: &'static str,
    /// Parses and checks a step of this kind.
    pub parse: fn(&mut StepTable<'_>) -> Result<Box<dyn Action>, ScenarioError>,
}

impl Kind {
    /// The kind's name: its first keyword.
    pub fn name(&self) -> &'static str {
        self.keywords[0]
    }
}

/// What a running step returns.
pub type StepFuture<'a> = Pin<Box<dyn Future<Output = Result<(), Failure>> + Send + 'a>>;

/// A checked step, ready to run.
pub trait Action: fmt::Debug + Send + Sync {
    /// The step kind's name, e.g. `expect_events`.
    fn kind(&self) -> &'static str;

    /// What the step waits for, shown while it runs (`3 motion event(s)`)
    /// and named when its timeout ends it.
    fn waits_for(&self) -> String;

    /// Adds what this step needs of its target (a serial console, access to
    /// the cam's storage).
    fn needs(&self, _needs: &mut Needs) {}

    /// Runs the step on `session`.
    ///
    /// # Errors
    /// A [`Failure`] saying what went wrong and of what kind.
    fn run<'a>(&'a self, session: &'a mut Session<'_>, cx: &'a StepCx<'_>) -> StepFuture<'a>;
}

/// What a running step knows besides the session.
pub struct StepCx<'a> {
    /// The step.
    pub step: &'a Step,
    /// Inner waits end here, just before the step's own deadline, so that
    /// they can say what they were waiting for.
    pub deadline: tokio::time::Instant,
    /// Where the step reports how far it got (a replay's frames).
    pub progress: &'a Progress,
}

/// One step: where it is, how long it may take, what it does.
#[derive(Debug)]
pub struct Step {
    /// 1-based position in the scenario, counting included steps.
    pub index: usize,
    /// Line of its `[[step]]` table (0: a step made in code, as `cam-hil
    /// eval --target` makes them).
    pub line: usize,
    /// The included file it comes from (`None`: the scenario file).
    pub file: Option<PathBuf>,
    /// `name`, if given.
    pub name: Option<String>,
    /// Its time limit (`timeout_ms`, or the scenario's, or 10 s).
    pub timeout: Duration,
    /// What it does.
    pub action: Box<dyn Action>,
}

impl Step {
    /// `step 3 (expect_events, line 14)` or with its name; without the
    /// line for a step made in code.
    pub fn label(&self) -> String {
        let at = match (&self.file, self.line) {
            (_, 0) => String::new(),
            (Some(f), line) => format!(", {} line {line}", f.display()),
            (None, line) => format!(", line {line}"),
        };
        match &self.name {
            Some(n) => format!("step {} `{n}` ({}{at})", self.index, self.action.kind()),
            None => format!("step {} ({}{at})", self.index, self.action.kind()),
        }
    }
}

/// Keys every step may hold besides its action.
const COMMON: [&str; 3] = ["include", "name", "timeout_ms"];

/// A `[[step]]` table being parsed: its keys with their places in the
/// file, and what a step inherits from its scenario.
pub struct StepTable<'a> {
    path: &'a Path,
    src: &'a str,
    span: Range<usize>,
    keyword: &'static str,
    keys: BTreeMap<String, (Range<usize>, Spanned<toml::Value>)>,
    fixture: Option<&'a Path>,
    timeout: Duration,
}

/// The raw keys of one `[[step]]` table.
pub(crate) type RawKeys = BTreeMap<Spanned<String>, Spanned<toml::Value>>;

impl<'a> StepTable<'a> {
    /// The action key this step was chosen by (`send_text`).
    pub fn keyword(&self) -> &'static str {
        self.keyword
    }

    /// The scenario's folder, against which fixture names resolve.
    pub fn base(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// The scenario's clip folder (top-level `fixture`), if any.
    pub fn fixture(&self) -> Option<&Path> {
        self.fixture
    }

    /// The clip a step names (`fixture = "…"`, against the scenario's
    /// folder), else the scenario's own; the error is at `span`.
    ///
    /// # Errors
    /// Neither names a clip, or the named one is unusable.
    pub fn clip(&self, named: Option<&str>, span: Range<usize>) -> Result<PathBuf, ScenarioError> {
        match (named, self.fixture) {
            (Some(f), _) => crate::scenario::check_clip(self.base(), f).map_err(|m| self.error(Some(span), m)),
            (None, Some(f)) => Ok(f.to_path_buf()),
            (None, None) => {
                Err(self
                    .error(Some(span), format!("{} needs a fixture (top-level `fixture` or its own)", self.keyword)))
            }
        }
    }

    /// The step's time limit.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Whether the table holds `key`.
    pub fn has(&self, key: &str) -> bool {
        self.keys.contains_key(key)
    }

    /// Takes `key` out of the table and deserialises it, with its span.
    ///
    /// # Errors
    /// The value does not have the shape `T` wants (unknown keys inside,
    /// wrong types), named at its place in the file.
    pub fn take_spanned<T: DeserializeOwned>(&mut self, key: &str) -> Result<Option<(T, Range<usize>)>, ScenarioError> {
        let Some((_, value)) = self.keys.remove(key) else { return Ok(None) };
        let span = value.span();
        // Read the value's own text again, so errors inside it keep their
        // exact place; a value that is not a standalone TOML value (a
        // `[step.x]` sub-table) is read from the parsed tree.
        let slice = self.src.get(span.clone()).unwrap_or("");
        let parsed = match toml::de::ValueDeserializer::parse(slice) {
            Ok(de) => T::deserialize(de).map_err(|e| {
                let inner = e.span().map(|s| s.start + span.start..s.end + span.start);
                self.error(inner.or(Some(span.clone())), e.message().to_string())
            }),
            Err(_) => {
                T::deserialize(value.into_inner()).map_err(|e| self.error(Some(span.clone()), e.message().into()))
            }
        };
        parsed.map(|v| Some((v, span)))
    }

    /// [`Self::take_spanned`] without the span.
    ///
    /// # Errors
    /// As [`Self::take_spanned`].
    pub fn take<T: DeserializeOwned>(&mut self, key: &str) -> Result<Option<T>, ScenarioError> {
        Ok(self.take_spanned(key)?.map(|(v, _)| v))
    }

    /// Takes `key` as a JSON matcher.
    ///
    /// # Errors
    /// A malformed matcher (see [`Matcher::compile`]), at its place.
    pub fn take_matcher(&mut self, key: &str) -> Result<Option<Matcher>, ScenarioError> {
        match self.take_spanned::<toml::Value>(key)? {
            None => Ok(None),
            Some((v, span)) => self.matcher(v, span).map(Some),
        }
    }

    /// Compiles a TOML value found at `span` as a JSON matcher.
    ///
    /// # Errors
    /// A malformed matcher, at `span`.
    pub fn matcher(&self, value: toml::Value, span: Range<usize>) -> Result<Matcher, ScenarioError> {
        let json = serde_json::to_value(value).map_err(|e| self.error(Some(span.clone()), e.to_string()))?;
        Matcher::compile(&json).map_err(|m| self.error(Some(span), format!("bad matcher: {m}")))
    }

    /// An error at `span` (`None`: the whole step).
    pub fn error(&self, span: Option<Range<usize>>, message: String) -> ScenarioError {
        ScenarioError::new(self.path, self.src, Some(span.unwrap_or_else(|| self.span.clone())), message)
    }

    /// An error at the step's `[[step]]` table.
    pub fn step_error(&self, message: impl Into<String>) -> ScenarioError {
        self.error(None, message.into())
    }
}

/// Parses one `[[step]]` table (not an `include`) of the file at `path`
/// (text `src`): finds its kind by its one action key, refuses keys that
/// do not belong, and lets the kind parse the rest.
///
/// # Errors
/// A [`ScenarioError`] at the offending key or the step.
#[allow(clippy::too_many_arguments)]
pub(crate) fn parse(
    path: &Path,
    src: &str,
    span: Range<usize>,
    raw: RawKeys,
    fixture: Option<&Path>,
    timeout: Duration,
) -> Result<Box<dyn Action>, ScenarioError> {
    let at = |span: Range<usize>, message: String| ScenarioError::new(path, src, Some(span), message);
    let keys: BTreeMap<String, (Range<usize>, Spanned<toml::Value>)> =
        raw.into_iter().map(|(k, v)| (k.get_ref().clone(), (k.span(), v))).collect();
    let known = |k: &str| {
        COMMON.contains(&k) || KINDS.iter().any(|kind| kind.keywords.contains(&k) || kind.modifiers.contains(&k))
    };
    if let Some((key, (kspan, _))) = keys.iter().find(|(k, _)| !known(k)) {
        return Err(at(kspan.clone(), format!("unknown field `{key}` (a step takes one action: {})", action_list())));
    }
    let chosen: Vec<(&str, &Kind)> = keys
        .keys()
        .filter_map(|k| KINDS.iter().find(|kind| kind.keywords.contains(&k.as_str())).map(|kind| (k.as_str(), *kind)))
        .collect();
    let (keyword, kind) = match chosen.as_slice() {
        [one] => *one,
        [] => return Err(at(span, format!("this step has no action: give exactly one of {}", action_list()))),
        many => {
            let names: Vec<&str> = many.iter().map(|(k, _)| *k).collect();
            return Err(at(
                span,
                format!("this step has more than one action ({}): give exactly one", names.join(", ")),
            ));
        }
    };
    let keyword = kind.keywords.iter().find(|k| **k == keyword).copied().unwrap_or(kind.name());
    for key in keys.keys() {
        let k = key.as_str();
        if !(COMMON.contains(&k) || kind.keywords.contains(&k) || kind.modifiers.contains(&k)) {
            let owners: Vec<&str> = KINDS.iter().filter(|o| o.modifiers.contains(&k)).map(|o| o.name()).collect();
            return Err(at(span, format!("`{key}` belongs with `{}`", owners.join("` or `"))));
        }
    }
    let mut keys = keys;
    for common in COMMON {
        keys.remove(common);
    }
    let mut table = StepTable { path, src, span, keyword, keys, fixture, timeout };
    let action = (kind.parse)(&mut table)?;
    if let Some((key, (kspan, _))) = table.keys.iter().next() {
        return Err(at(kspan.clone(), format!("`{key}` is not used by a `{keyword}` step")));
    }
    Ok(action)
}

/// The action keys of every kind, for error messages.
fn action_list() -> String {
    KINDS.iter().flat_map(|k| k.keywords.iter().copied()).collect::<Vec<_>>().join(", ")
}

/// The credentials keys shared by `http` and `ws_connect`: `token`,
/// `no_token`, `token_in`.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawCredentials {
    pub(crate) token: Option<String>,
    #[serde(default)]
    pub(crate) no_token: bool,
    pub(crate) token_in: Option<TokenIn>,
}

/// Where a token goes: `header` (`Authorization: Bearer`) or `query`.
#[derive(serde::Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum TokenIn {
    Header,
    Query,
}

impl RawCredentials {
    /// The credentials these keys give.
    ///
    /// # Errors
    /// `token` and `no_token` together.
    pub fn credentials(self) -> Result<Credentials, String> {
        let auth = match (self.token, self.no_token) {
            (Some(_), true) => return Err("`token` and `no_token` exclude each other".into()),
            (Some(t), false) => Auth::Token(t),
            (None, true) => Auth::None,
            (None, false) => Auth::Target,
        };
        Ok(Credentials { auth, in_query: self.token_in == Some(TokenIn::Query) })
    }
}

/// An empty table, for steps without settings (`ws_close = {}`).
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// Text cut to 200 bytes for timelines and messages.
pub fn clip_text(s: &str) -> String {
    const MAX: usize = 200;
    if s.len() <= MAX {
        s.to_string()
    } else {
        let cut = (0..=MAX).rev().find(|i| s.is_char_boundary(*i)).unwrap_or(0);
        format!("{}… ({} bytes)", &s[..cut], s.len())
    }
}

/// An error and its causes, `outer: inner: innermost` (reqwest's own text
/// leaves out why a request failed, e.g. a certificate problem).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    /// Every kind's example loads, holds only steps of that kind, and is in
    /// `docs/scenarios.md` as it is: a step kind is its module plus its docs.
    #[test]
    fn every_kind_has_a_loading_example_that_the_docs_show() {
        let docs = std::fs::read_to_string(root().join("docs/scenarios.md")).unwrap();
        for kind in KINDS {
            let src = format!("fixture = \"../fixtures/synthetic_bright_square\"\n{}", kind.example);
            let s = crate::scenario::parse(&root().join("scenarios/example.toml"), &src)
                .unwrap_or_else(|e| panic!("the example of `{}` does not load: {e}", kind.name()));
            assert!(s.steps.iter().all(|step| step.action.kind() == kind.name()), "{}", kind.name());
            let block = format!("```toml\n{}```\n", kind.example);
            assert!(docs.contains(&block), "docs/scenarios.md lacks the example of `{}`:\n{block}", kind.name());
        }
    }

    #[test]
    fn keys_belong_to_one_kind_each_except_shared_modifiers() {
        let mut keywords: Vec<&str> = KINDS.iter().flat_map(|k| k.keywords.iter().copied()).collect();
        let n = keywords.len();
        keywords.sort_unstable();
        keywords.dedup();
        assert_eq!(keywords.len(), n, "an action key chooses one kind");
        for k in KINDS {
            for m in k.modifiers {
                assert!(!keywords.contains(m) && !COMMON.contains(m), "`{m}` of `{}` is also an action", k.name());
            }
        }
    }
}
