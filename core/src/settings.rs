//! The detector's settable keys, defined once.
//!
//! Every key a `set_detector` command (`docs/protocol.md`) or a scenario's
//! `[config] detector = { … }` (`docs/scenarios.md`) may set is one entry of
//! the `detector_settings!` invocation below: its name (the
//! [`DetectorConfig`] field it sets), Rust type, accepted values, default and
//! meaning. From that one list follow:
//!
//! - [`DetectorChange`]: some of the keys, as parsed from a JSON object
//!   ([`DetectorChange::from_object`], [`DetectorChange::from_config_object`])
//!   and applied to a config ([`DetectorChange::apply`]);
//! - [`DetectorSettings`]: all of the keys, the `detector` object of a
//!   `set_detector` ack ([`DetectorSettings::of`]);
//! - [`DETECTOR_KEYS`]: the table of keys, and from it [`markdown_table`],
//!   the "Parameters" table of `docs/detector.md` (a core test fails when
//!   that file drifts from it).
//!
//! `threshold` (`set_threshold`) and `max_dimension` (fixed per build) are
//! not detector settings in this sense.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::detector::DetectorConfig;

/// The values one setting accepts. Numbers come from JSON numbers: `12` and
/// `12.0` are the same whole number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepts {
    /// A whole number in `min..=max`.
    Whole {
        /// Smallest accepted value.
        min: u64,
        /// Largest accepted value.
        max: u64,
    },
    /// Any number above 0.
    AboveZero,
    /// `true` or `false`.
    Flag,
}

impl Accepts {
    /// The accepted values in a few words, for tables: `4–32`, `above 0`,
    /// `true or false`. Numbers above 999 are grouped: `0–3,600,000`.
    pub fn range_text(self) -> String {
        match self {
            Accepts::Whole { min, max } => alloc::format!("{}–{}", grouped(min), grouped(max)),
            Accepts::AboveZero => "above 0".into(),
            Accepts::Flag => "true or false".into(),
        }
    }

    /// What a value must be, for error messages: `a whole number in 4–32`,
    /// `a number above 0`, `true or false`.
    pub fn expected(self) -> String {
        match self {
            Accepts::Whole { .. } => alloc::format!("a whole number in {}", self.range_text()),
            Accepts::AboveZero => "a number above 0".into(),
            Accepts::Flag => "true or false".into(),
        }
    }
}

/// `n` with its digits grouped by threes: `3600000` → `3,600,000` (the
/// accepted ranges here; the harness's tables of counts).
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// One settable detector key: one row of [`DETECTOR_KEYS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettingKey {
    /// The JSON key, which is also the [`DetectorConfig`] field it sets.
    pub name: &'static str,
    /// The values accepted in a build with the `full-decode` feature.
    pub accepts: Accepts,
    /// The only value accepted in a build without the `full-decode` feature
    /// (such as the firmware), if that build restricts the key.
    pub only_without_full_decode: Option<u64>,
    /// The default ([`DetectorConfig::default`]) as the docs write it: a
    /// number, or `on`/`off` for flags.
    pub default: &'static str,
    /// What the key does, in one line.
    pub meaning: &'static str,
}

impl SettingKey {
    /// The accepted values as the docs' table gives them, e.g. `0–255` or
    /// `4–32; 8 without full-decode (the firmware)`.
    pub fn accepted_values(&self) -> String {
        match self.only_without_full_decode {
            None => self.accepts.range_text(),
            Some(only) => {
                alloc::format!("{}; {only} without `full-decode` (the firmware)", self.accepts.range_text())
            }
        }
    }

    /// Reads this key from `obj`: `Ok(None)` when it is absent.
    fn read<T: SettingValue>(&self, obj: &Map<String, Value>, full_decode: bool) -> Result<Option<T>, BadSetting> {
        let Some(v) = obj.get(self.name) else {
            return Ok(None);
        };
        let bad = |expected: String| BadSetting::Value { key: self.name, expected };
        let value = T::from_json(v, self.accepts).ok_or_else(|| bad(self.accepts.expected()))?;
        match self.only_without_full_decode {
            Some(only) if !full_decode && whole_number(v) != Some(only) => {
                Err(bad(alloc::format!("{only} in a build without `full-decode` (such as the firmware)")))
            }
            _ => Ok(Some(value)),
        }
    }
}

/// Why a JSON object is not a [`DetectorChange`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadSetting {
    /// A known key with a value it does not accept (out of range or
    /// mistyped). Displays as e.g. "`cell_delta` must be a whole number in
    /// 0–255".
    Value {
        /// The key, as in [`DETECTOR_KEYS`].
        key: &'static str,
        /// What the value must be, e.g. `a whole number in 0–255`.
        expected: String,
    },
    /// A key that is not in [`DETECTOR_KEYS`] (only from
    /// [`DetectorChange::from_config_object`]); the key as given.
    Unknown(String),
}

impl fmt::Display for BadSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadSetting::Value { key, expected } => write!(f, "`{key}` must be {expected}"),
            BadSetting::Unknown(key) => {
                let known: Vec<String> = DETECTOR_KEYS.iter().map(|k| alloc::format!("`{}`", k.name)).collect();
                write!(f, "unknown detector setting `{key}` (the settings are {})", known.join(", "))
            }
        }
    }
}

impl core::error::Error for BadSetting {}

/// A Rust type a setting can have, read from a JSON value under the key's
/// [`Accepts`].
trait SettingValue: Sized {
    /// The value if `v` is of this type and accepted; `None` otherwise.
    fn from_json(v: &Value, accepts: Accepts) -> Option<Self>;
}

/// A JSON number that is a whole number ≥ 0 (`12` or `12.0`).
fn whole_number(v: &Value) -> Option<u64> {
    // Whole floats past u64::MAX saturate to it; every range is far below.
    v.as_u64().or_else(|| v.as_f64().filter(|x| *x >= 0.0 && (*x as u64) as f64 == *x).map(|x| x as u64))
}

macro_rules! whole_setting_value {
    ($($t:ty),*) => {$(
        impl SettingValue for $t {
            fn from_json(v: &Value, accepts: Accepts) -> Option<Self> {
                let Accepts::Whole { min, max } = accepts else { return None };
                whole_number(v).filter(|n| (min..=max).contains(n)).and_then(|n| <$t>::try_from(n).ok())
            }
        }
    )*};
}
whole_setting_value!(u8, u16, u32, u64);

impl SettingValue for f64 {
    fn from_json(v: &Value, accepts: Accepts) -> Option<Self> {
        match accepts {
            Accepts::AboveZero => v.as_f64().filter(|x| *x > 0.0),
            _ => None,
        }
    }
}

impl SettingValue for bool {
    fn from_json(v: &Value, accepts: Accepts) -> Option<Self> {
        match accepts {
            Accepts::Flag => v.as_bool(),
            _ => None,
        }
    }
}

/// Expands the one list of keys into [`DetectorChange`],
/// [`DetectorSettings`] and [`DETECTOR_KEYS`]. Each `name` must be a
/// [`DetectorConfig`] field of type `ty`.
macro_rules! detector_settings {
    ($(
        $name:ident: $ty:ty {
            accepts: $accepts:expr,
            only_without_full_decode: $only:expr,
            default: $default:literal,
            meaning: $meaning:literal $(,)?
        }
    )*) => {
        /// Some of the detector settings, as a `set_detector` command or a
        /// scenario's `detector = { … }` gives them; `None` fields stay as
        /// they are. One field per row of [`DETECTOR_KEYS`] (accepted values
        /// and defaults are there).
        ///
        /// Serialises to a JSON object with exactly the `Some` fields.
        /// Deserialises like [`DetectorChange::from_config_object`]
        /// (unknown keys refused).
        #[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
        pub struct DetectorChange {
            $(
                #[doc = $meaning]
                #[serde(skip_serializing_if = "Option::is_none")]
                pub $name: Option<$ty>,
            )*
        }

        /// All the detector settings in force: the `detector` object of a
        /// `set_detector` ack (`docs/protocol.md`). One field per row of
        /// [`DETECTOR_KEYS`], in that order.
        #[derive(Debug, Clone, Copy, PartialEq, Serialize)]
        pub struct DetectorSettings {
            $(
                #[doc = $meaning]
                pub $name: $ty,
            )*
        }

        /// Every settable detector key, in the order of the ack's
        /// `detector` object. Source of the `docs/detector.md` table
        /// ([`markdown_table`]).
        pub const DETECTOR_KEYS: &[SettingKey] = &[$(
            SettingKey {
                name: stringify!($name),
                accepts: $accepts,
                only_without_full_decode: $only,
                default: $default,
                meaning: $meaning,
            },
        )*];

        impl DetectorChange {
            /// Reads every key of [`DETECTOR_KEYS`] from `obj`;
            /// `full_decode` says whether this build has the `full-decode`
            /// feature.
            fn read(obj: &Map<String, Value>, full_decode: bool) -> Result<Self, BadSetting> {
                Ok(Self {
                    $(
                        $name: SettingKey {
                            name: stringify!($name),
                            accepts: $accepts,
                            only_without_full_decode: $only,
                            default: $default,
                            meaning: $meaning,
                        }
                        .read::<$ty>(obj, full_decode)?,
                    )*
                })
            }

            /// Sets each `Some` field's setting in `config`; the others
            /// stay as they are.
            pub fn apply(&self, config: &mut DetectorConfig) {
                $(
                    if let Some(v) = self.$name {
                        config.$name = v;
                    }
                )*
            }
        }

        impl DetectorSettings {
            /// The settings of `config`.
            pub fn of(config: &DetectorConfig) -> Self {
                Self { $($name: config.$name,)* }
            }
        }
    };
}

detector_settings! {
    cell_px: u16 {
        accepts: Accepts::Whole { min: 4, max: 32 },
        // Without the full decoder only the JPEG's own 8-pixel blocks are cells.
        only_without_full_decode: Some(8),
        default: "8",
        meaning: "cell side in pixels",
    }
    cell_delta: u8 {
        accepts: Accepts::Whole { min: 0, max: 255 },
        only_without_full_decode: None,
        default: "16",
        meaning: "grey levels a cell's mean must move to count as changed",
    }
    compensate_lighting: bool {
        accepts: Accepts::Flag,
        only_without_full_decode: None,
        default: "on",
        meaning: "also compare after removing the median brightness shift",
    }
    lightswitch: f64 {
        accepts: Accepts::AboveZero,
        only_without_full_decode: None,
        default: "0.9",
        meaning: "changed fraction at which a frame is a lighting change (above 1: off)",
    }
    min_motion_frames: u32 {
        accepts: Accepts::Whole { min: 1, max: 1000 },
        only_without_full_decode: None,
        default: "1",
        meaning: "motion frames in a row before the first counts",
    }
    event_gap_ms: u64 {
        accepts: Accepts::Whole { min: 0, max: 3_600_000 },
        only_without_full_decode: None,
        default: "0",
        meaning: "capture-time gap (ms) that ends a motion episode; within an episode only its first motion frame raises an event",
    }
    tolerate_shake: bool {
        accepts: Accepts::Flag,
        only_without_full_decode: None,
        default: "on",
        meaning: "when cells changed, estimate the whole image's shift against the reference (camera shake, up to 6 px) and compare each cell with where its content came from; the smaller change counts",
    }
    background: bool {
        accepts: Accepts::Flag,
        only_without_full_decode: None,
        default: "off",
        meaning: "compare with a per-cell background model (running mean and spread) instead of the previous frame",
    }
    learn_frames: u32 {
        // Beyond 64 frames a 1/16-grey-level mean would no longer follow
        // differences of a few levels.
        accepts: Accepts::Whole { min: 1, max: 64 },
        only_without_full_decode: None,
        default: "8",
        meaning: "background model: frames over which a cell's mean and spread follow it while it is not foreground",
    }
    absorb_frames: u32 {
        accepts: Accepts::Whole { min: 0, max: 100_000 },
        only_without_full_decode: None,
        default: "10",
        meaning: "background model: frames a foreground cell must hold still before it becomes background (an object left, a person sitting still); 0: what holds still is background at once, only what moved is foreground",
    }
    noise_factor: f64 {
        accepts: Accepts::AboveZero,
        only_without_full_decode: None,
        default: "3.0",
        meaning: "background model: a cell is foreground when it is more than the larger of `cell_delta` and this many times its spread from its mean",
    }
    grade_cells: bool {
        accepts: Accepts::Flag,
        only_without_full_decode: None,
        default: "on",
        meaning: "a changed cell counts by how far it moved beyond its threshold: in full from twice the threshold, in part below (a cell that barely passes counts little)",
    }
    hysteresis: f64 {
        accepts: Accepts::AboveZero,
        only_without_full_decode: None,
        default: "0.3",
        meaning: "motion goes on while `change` stays above `threshold` × this (1 or more: no hysteresis)",
    }
}

impl DetectorChange {
    /// The settings given in `obj` (a `set_detector` command's object).
    /// Keys not in [`DETECTOR_KEYS`], such as `cmd`, are ignored, as the
    /// WebSocket command does.
    ///
    /// # Errors
    /// [`BadSetting::Value`] for the first key (in [`DETECTOR_KEYS`] order)
    /// whose value is mistyped or out of range, including a `cell_px` other
    /// than 8 in a build without the `full-decode` feature.
    pub fn from_object(obj: &Map<String, Value>) -> Result<Self, BadSetting> {
        Self::read(obj, cfg!(feature = "full-decode"))
    }

    /// Like [`DetectorChange::from_object`], but every key of `obj` must be
    /// a setting: for configuration files (a scenario's `detector = { … }`),
    /// where an unknown key is a typo. A `cmd` key is refused too.
    ///
    /// # Errors
    /// [`BadSetting::Unknown`] for the first key not in [`DETECTOR_KEYS`],
    /// else as [`DetectorChange::from_object`].
    pub fn from_config_object(obj: &Map<String, Value>) -> Result<Self, BadSetting> {
        Self::read_strict(obj, cfg!(feature = "full-decode"))
    }

    fn read_strict(obj: &Map<String, Value>, full_decode: bool) -> Result<Self, BadSetting> {
        if let Some(unknown) = obj.keys().find(|k| !DETECTOR_KEYS.iter().any(|s| s.name == k.as_str())) {
            return Err(BadSetting::Unknown(unknown.clone()));
        }
        Self::read(obj, full_decode)
    }
}

impl<'de> Deserialize<'de> for DetectorChange {
    /// Any self-describing format's map (JSON, TOML), checked as
    /// [`DetectorChange::from_config_object`] does; the error message is the
    /// [`BadSetting`]'s.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let obj = Map::<String, Value>::deserialize(deserializer)?;
        Self::from_config_object(&obj).map_err(serde::de::Error::custom)
    }
}

/// The detector keys as a Markdown table (header included, one row per
/// entry of [`DETECTOR_KEYS`], `\n` after every line): what
/// `docs/detector.md` holds between `<!-- detector-keys:begin -->` and
/// `<!-- detector-keys:end -->`.
pub fn markdown_table() -> String {
    let mut out = String::from("| parameter | accepted values | default | meaning |\n|---|---|---|---|\n");
    for key in DETECTOR_KEYS {
        out.push_str(&alloc::format!(
            "| `{}` | {} | {} | {} |\n",
            key.name,
            key.accepted_values(),
            key.default,
            key.meaning
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use alloc::vec;

    use serde_json::json;

    use super::*;

    fn object(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            other => panic!("not an object: {other}"),
        }
    }

    /// Values of a key this build accepts, edges included.
    fn good_values(key: &SettingKey) -> Vec<Value> {
        if let (false, Some(only)) = (cfg!(feature = "full-decode"), key.only_without_full_decode) {
            return vec![json!(only)];
        }
        match key.accepts {
            Accepts::Whole { min, max } => vec![json!(min), json!(max), json!((min + max) / 2)],
            Accepts::AboveZero => vec![json!(0.5), json!(2.0), json!(1e-9)],
            Accepts::Flag => vec![json!(true), json!(false)],
        }
    }

    /// Refused values of a key: out of range and mistyped.
    fn bad_values(accepts: Accepts) -> Vec<Value> {
        let mut bad = vec![json!("x"), Value::Null, json!([1]), json!({})];
        match accepts {
            Accepts::Whole { min, max } => {
                bad.extend([json!(max + 1), json!(min as f64 + 0.5), json!(true)]);
                bad.push(if min > 0 { json!(min - 1) } else { json!(-1) });
            }
            Accepts::AboveZero => bad.extend([json!(0), json!(0.0), json!(-0.5), json!(true)]),
            Accepts::Flag => bad.extend([json!(1), json!(0), json!("true")]),
        }
        bad
    }

    #[test]
    fn each_key_round_trips() {
        for key in DETECTOR_KEYS {
            for value in good_values(key) {
                let given = object(json!({ key.name: value }));
                let change = DetectorChange::from_object(&given).unwrap_or_else(|e| panic!("{given:?}: {e}"));
                assert_eq!(serde_json::to_value(change).unwrap(), Value::Object(given.clone()), "{}", key.name);
                assert_eq!(DetectorChange::from_config_object(&given), Ok(change));
                let mut config = DetectorConfig::default();
                change.apply(&mut config);
                let settings = serde_json::to_value(DetectorSettings::of(&config)).unwrap();
                assert_eq!(settings[key.name], value, "{} after apply", key.name);
            }
        }
    }

    #[test]
    fn apply_changes_only_the_given_keys() {
        let mut config = DetectorConfig::default();
        let change = DetectorChange::from_object(&object(json!({"cell_delta": 20, "tolerate_shake": true}))).unwrap();
        change.apply(&mut config);
        assert_eq!(config, DetectorConfig { cell_delta: 20, tolerate_shake: true, ..DetectorConfig::default() });
        let mut again = config;
        DetectorChange::default().apply(&mut again);
        assert_eq!(again, config);
    }

    #[test]
    fn each_bad_value_is_refused_naming_the_key() {
        for key in DETECTOR_KEYS {
            for value in bad_values(key.accepts) {
                let given = object(json!({ "cmd": "set_detector", key.name: value }));
                let e = DetectorChange::from_object(&given).unwrap_err();
                assert_eq!(e, BadSetting::Value { key: key.name, expected: key.accepts.expected() }, "{given:?}");
                assert!(e.to_string().starts_with(&alloc::format!("`{}` must be ", key.name)), "{e}");
            }
        }
    }

    #[test]
    fn messages_give_the_range() {
        let e = DetectorChange::from_object(&object(json!({"cell_delta": 256}))).unwrap_err();
        assert_eq!(e.to_string(), "`cell_delta` must be a whole number in 0–255");
        let e = DetectorChange::from_object(&object(json!({"event_gap_ms": 3_600_001}))).unwrap_err();
        assert_eq!(e.to_string(), "`event_gap_ms` must be a whole number in 0–3,600,000");
        let e = DetectorChange::from_object(&object(json!({"lightswitch": 0}))).unwrap_err();
        assert_eq!(e.to_string(), "`lightswitch` must be a number above 0");
        let e = DetectorChange::from_object(&object(json!({"tolerate_shake": "yes"}))).unwrap_err();
        assert_eq!(e.to_string(), "`tolerate_shake` must be true or false");
    }

    #[test]
    fn whole_numbers_may_be_written_as_floats() {
        let change =
            DetectorChange::from_object(&object(json!({"cell_delta": 16.0, "event_gap_ms": 3_600_000}))).unwrap();
        assert_eq!(
            change,
            DetectorChange { cell_delta: Some(16), event_gap_ms: Some(3_600_000), ..Default::default() }
        );
    }

    #[test]
    fn cell_px_is_8_without_full_decode() {
        let with = |v: Value| DetectorChange::read(&object(json!({ "cell_px": v })), false);
        assert_eq!(with(json!(8)).map(|c| c.cell_px), Ok(Some(8)));
        for other in [json!(16), json!(4), json!(32)] {
            let e = with(other).unwrap_err();
            assert_eq!(e.to_string(), "`cell_px` must be 8 in a build without `full-decode` (such as the firmware)");
        }
        // Out of range is still reported as such.
        assert_eq!(with(json!(2)).unwrap_err().to_string(), "`cell_px` must be a whole number in 4–32");
        assert_eq!(DetectorChange::read(&object(json!({"cell_px": 16})), true).map(|c| c.cell_px), Ok(Some(16)));
    }

    /// The build's own rule, through the public readers.
    #[test]
    fn cell_px_16_follows_this_build() {
        let r = DetectorChange::from_object(&object(json!({"cell_px": 16})));
        assert_eq!(r.is_ok(), cfg!(feature = "full-decode"), "{r:?}");
    }

    #[test]
    fn unknown_keys_are_ignored_or_refused() {
        let given = object(json!({"cmd": "set_detector", "cell_delta": 3, "colour": 1}));
        assert_eq!(
            DetectorChange::from_object(&given),
            Ok(DetectorChange { cell_delta: Some(3), ..Default::default() })
        );
        let e = DetectorChange::from_config_object(&object(json!({"cell_delta": 3, "cel_px": 8}))).unwrap_err();
        assert_eq!(e, BadSetting::Unknown("cel_px".into()));
        assert!(e.to_string().starts_with("unknown detector setting `cel_px` (the settings are `cell_px`, "), "{e}");
        assert!(DetectorChange::from_config_object(&given).is_err());
    }

    #[test]
    fn deserialises_strictly() {
        let change: DetectorChange = serde_json::from_str(r#"{"lightswitch":2,"compensate_lighting":false}"#).unwrap();
        assert_eq!(
            change,
            DetectorChange { lightswitch: Some(2.0), compensate_lighting: Some(false), ..Default::default() }
        );
        let e = serde_json::from_str::<DetectorChange>(r#"{"min_motion_frames":0}"#).unwrap_err();
        assert!(e.to_string().contains("`min_motion_frames` must be a whole number in 1–1,000"), "{e}");
        assert!(serde_json::from_str::<DetectorChange>(r#"{"x":1}"#).is_err());
        assert!(serde_json::from_str::<DetectorChange>("[1]").is_err());
    }

    /// The table's default texts are [`DetectorConfig::default`]'s values.
    #[test]
    fn defaults_match_the_config() {
        let defaults = serde_json::to_value(DetectorSettings::of(&DetectorConfig::default())).unwrap();
        let defaults = object(defaults);
        assert_eq!(defaults.len(), DETECTOR_KEYS.len());
        for key in DETECTOR_KEYS {
            let text = match &defaults[key.name] {
                Value::Bool(true) => "on".to_string(),
                Value::Bool(false) => "off".to_string(),
                v => v.to_string(),
            };
            assert_eq!(key.default, text, "{}", key.name);
        }
    }

    #[test]
    fn ranges_read_as_in_the_docs() {
        let texts: Vec<String> = DETECTOR_KEYS.iter().map(SettingKey::accepted_values).collect();
        assert_eq!(
            texts,
            [
                "4–32; 8 without `full-decode` (the firmware)",
                "0–255",
                "true or false",
                "above 0",
                "1–1,000",
                "0–3,600,000",
                "true or false",
                "true or false",
                "1–64",
                "0–100,000",
                "above 0",
                "true or false",
                "above 0",
            ]
        );
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(12_345_678), "12,345,678");
    }
}
