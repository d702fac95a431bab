//! JSON matchers for acks, HTTP bodies and SSE event data.
//!
//! An expected value is matched against what arrived:
//! - a number, string, bool or null matches an equal value (numbers compare
//!   as f64);
//! - an array matches an array of the same length, element by element;
//! - a table matches an object holding at least those keys, each matching
//!   (a JSON subset match);
//! - a table whose keys are all matcher keywords is a matcher:
//!   `{ range = [lo, hi] }` (inclusive), `{ min = x }`, `{ max = y }` (and
//!   both), `{ approx = x, tol = t }` (|v − x| ≤ t, default tol 1e-6),
//!   `{ regex = "…" }` (a string matching it), `{ any = true }` (present,
//!   any value), `{ exact = v }` (v literally, for tables that would
//!   otherwise read as matchers).

use std::fmt;

use regex::Regex;

use crate::outcome::Mismatch;
use serde_json::{Map, Value};

/// A compiled expectation on a JSON value.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// Equal to this value (numbers as f64).
    Exact(Value),
    /// A number in `[min, max]` (either bound may be open).
    Range {
        /// Lower bound, inclusive.
        min: Option<f64>,
        /// Upper bound, inclusive.
        max: Option<f64>,
    },
    /// A number within `tol` of `value`.
    Approx {
        /// Expected number.
        value: f64,
        /// Allowed absolute difference.
        tol: f64,
    },
    /// A string this regex finds a match in.
    Regex(Regex),
    /// Anything (the key must be present).
    Any,
    /// An array of exactly these elements.
    Array(Vec<Matcher>),
    /// An object with at least these keys.
    Object(Vec<(String, Matcher)>),
}

const KEYWORDS: [&str; 7] = ["range", "min", "max", "approx", "tol", "regex", "any"];

impl Matcher {
    /// Compiles an expected value (see the module docs).
    ///
    /// # Errors
    /// A malformed matcher table: a bad regex, a range that is not two
    /// numbers, keywords that do not go together.
    pub fn compile(expected: &Value) -> Result<Self, String> {
        Ok(match expected {
            Value::Array(items) => Matcher::Array(items.iter().map(Matcher::compile).collect::<Result<_, _>>()?),
            Value::Object(map) if map.len() == 1 && map.contains_key("exact") => Matcher::Exact(map["exact"].clone()),
            Value::Object(map) if !map.is_empty() && map.keys().all(|k| KEYWORDS.contains(&k.as_str())) => {
                compile_keywords(map)?
            }
            Value::Object(map) => Matcher::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), Matcher::compile(v).map_err(|e| format!("{k}: {e}"))?)))
                    .collect::<Result<_, String>>()?,
            ),
            other => Matcher::Exact(other.clone()),
        })
    }

    /// `Ok(())` when `actual` matches; otherwise where and why not: a
    /// [`Mismatch`] with the JSON path, what was expected and what arrived
    /// (`$.saved: expected a string matching "…", got 3`).
    ///
    /// # Errors
    /// The first mismatch found, with its JSON path.
    pub fn check(&self, actual: &Value) -> Result<(), Mismatch> {
        self.check_at("$", actual)
    }

    fn check_at(&self, path: &str, actual: &Value) -> Result<(), Mismatch> {
        let fail = |what: String| Err(Mismatch { path: path.to_string(), expected: what, actual: actual.to_string() });
        match self {
            Matcher::Exact(v) => match (v.as_f64(), actual.as_f64()) {
                (Some(a), Some(b)) if a == b => Ok(()),
                _ if v == actual => Ok(()),
                _ => fail(v.to_string()),
            },
            Matcher::Range { min, max } => match actual.as_f64() {
                Some(x) if min.is_none_or(|m| x >= m) && max.is_none_or(|m| x <= m) => Ok(()),
                _ => fail(format!(
                    "a number in [{}, {}]",
                    min.map_or("-inf".into(), |m| m.to_string()),
                    max.map_or("inf".into(), |m| m.to_string())
                )),
            },
            Matcher::Approx { value, tol } => match actual.as_f64() {
                Some(x) if (x - value).abs() <= *tol => Ok(()),
                _ => fail(format!("{value} ± {tol}")),
            },
            Matcher::Regex(re) => match actual.as_str() {
                Some(s) if re.is_match(s) => Ok(()),
                _ => fail(format!("a string matching {:?}", re.as_str())),
            },
            Matcher::Any => Ok(()),
            Matcher::Array(items) => match actual.as_array() {
                Some(a) if a.len() == items.len() => {
                    items.iter().zip(a).enumerate().try_for_each(|(i, (m, v))| m.check_at(&format!("{path}[{i}]"), v))
                }
                _ => fail(format!("an array of {} elements", items.len())),
            },
            Matcher::Object(fields) => {
                let Some(obj) = actual.as_object() else {
                    return fail("an object".into());
                };
                fields.iter().try_for_each(|(k, m)| match obj.get(k) {
                    Some(v) => m.check_at(&format!("{path}.{k}"), v),
                    None => Err(Mismatch {
                        path: format!("{path}.{k}"),
                        expected: m.to_string(),
                        actual: format!("no key `{k}` in {actual}"),
                    }),
                })
            }
        }
    }
}

fn number(map: &Map<String, Value>, key: &str) -> Result<Option<f64>, String> {
    match map.get(key) {
        None => Ok(None),
        Some(v) => v.as_f64().map(Some).ok_or_else(|| format!("`{key}` must be a number, not {v}")),
    }
}

fn compile_keywords(map: &Map<String, Value>) -> Result<Matcher, String> {
    let keys: Vec<&str> = map.keys().map(String::as_str).collect();
    let only = |allowed: &[&str]| keys.iter().all(|k| allowed.contains(k));
    if let Some(r) = map.get("range") {
        if !only(&["range"]) {
            return Err("`range` cannot be combined with other keywords".into());
        }
        let bounds = r.as_array().filter(|a| a.len() == 2).and_then(|a| Some((a[0].as_f64()?, a[1].as_f64()?)));
        let (lo, hi) = bounds.ok_or_else(|| format!("`range` must be [low, high] numbers, not {r}"))?;
        if lo > hi {
            return Err(format!("`range` [{lo}, {hi}] is empty"));
        }
        return Ok(Matcher::Range { min: Some(lo), max: Some(hi) });
    }
    if map.contains_key("min") || map.contains_key("max") {
        if !only(&["min", "max"]) {
            return Err("`min`/`max` cannot be combined with other keywords".into());
        }
        return Ok(Matcher::Range { min: number(map, "min")?, max: number(map, "max")? });
    }
    if map.contains_key("approx") || map.contains_key("tol") {
        if !only(&["approx", "tol"]) {
            return Err("`approx`/`tol` cannot be combined with other keywords".into());
        }
        let value = number(map, "approx")?.ok_or("`tol` needs `approx`")?;
        let tol = number(map, "tol")?.unwrap_or(1e-6);
        return Ok(Matcher::Approx { value, tol });
    }
    if let Some(r) = map.get("regex") {
        if !only(&["regex"]) {
            return Err("`regex` cannot be combined with other keywords".into());
        }
        let src = r.as_str().ok_or_else(|| format!("`regex` must be a string, not {r}"))?;
        return Regex::new(src).map(Matcher::Regex).map_err(|e| format!("bad regex: {e}"));
    }
    match map.get("any") {
        Some(Value::Bool(true)) if keys.len() == 1 => Ok(Matcher::Any),
        _ => Err("`any` must be `any = true`, alone".into()),
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Matcher::Exact(v) => write!(f, "{v}"),
            Matcher::Range { min, max } => write!(f, "{{range {min:?}..{max:?}}}"),
            Matcher::Approx { value, tol } => write!(f, "{value}±{tol}"),
            Matcher::Regex(r) => write!(f, "/{}/", r.as_str()),
            Matcher::Any => write!(f, "<any>"),
            Matcher::Array(items) => {
                write!(f, "[")?;
                for (i, m) in items.iter().enumerate() {
                    write!(f, "{}{m}", if i > 0 { ", " } else { "" })?;
                }
                write!(f, "]")
            }
            Matcher::Object(fields) => {
                write!(f, "{{")?;
                for (i, (k, m)) in fields.iter().enumerate() {
                    write!(f, "{}{k}: {m}", if i > 0 { ", " } else { "" })?;
                }
                write!(f, "}}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(v: Value) -> Matcher {
        Matcher::compile(&v).unwrap()
    }

    #[test]
    fn subset_and_exact() {
        let ack = json!({"ok": true, "saved": "/sdcard/snaps/manual-1.jpg"});
        assert!(m(json!({"ok": true})).check(&ack).is_ok());
        assert_eq!(m(json!({"ok": false})).check(&ack).unwrap_err().path, "$.ok");
        let missing = m(json!({"reason": {"any": true}})).check(&ack).unwrap_err();
        assert_eq!(missing.path, "$.reason");
        assert!(missing.actual.contains("no key `reason`"), "{missing}");
        assert!(m(json!(1)).check(&json!(1.0)).is_ok());
    }

    #[test]
    fn keyword_matchers() {
        assert!(m(json!({"range": [0.05, 1]})).check(&json!(0.5)).is_ok());
        assert!(m(json!({"range": [0.05, 1]})).check(&json!(0.01)).is_err());
        assert!(m(json!({"min": 2})).check(&json!(2)).is_ok());
        assert!(m(json!({"max": 2})).check(&json!(3)).is_err());
        assert!(m(json!({"approx": 0.1, "tol": 0.01})).check(&json!(0.105)).is_ok());
        assert!(
            m(json!({"regex": r"^/sdcard/snaps/manual-\d+\.jpg$"}))
                .check(&json!("/sdcard/snaps/manual-17.jpg"))
                .is_ok()
        );
        assert!(m(json!({"regex": "^a$"})).check(&json!(3)).is_err());
        assert!(m(json!({"exact": {"any": true}})).check(&json!({"any": true})).is_ok());
        assert!(m(json!({"exact": {"any": true}})).check(&json!({"any": false})).is_err());
    }

    #[test]
    fn malformed_matchers_are_refused() {
        for bad in [
            json!({"range": [1]}),
            json!({"range": [2, 1]}),
            json!({"regex": "("}),
            json!({"any": false}),
            json!({"min": "a"}),
            json!({"range": [0, 1], "min": 0}),
        ] {
            assert!(Matcher::compile(&bad).is_err(), "{bad}");
        }
    }
}
