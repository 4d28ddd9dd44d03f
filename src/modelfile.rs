//! The model file: plain JSON that other tools can read without this engine.
//!
//! ```json
//! {"format": "rbm-lab-model", "version": 1, "n_visible": m, "n_hidden": n,
//!  "weights": [m*n numbers, weights[i*n + j] couples visible i and hidden j],
//!  "visible_bias": [m], "hidden_bias": [n],
//!  "image_shape": [rows, cols], "training": {"config": {...}, "steps_done": s}}
//! ```
//! `image_shape` and `training` are optional; other keys are ignored. Numbers are
//! written in the shortest form that reads back as the same f32, so save-then-load is
//! exact to the bit.
//!
//! Files come from anywhere, so reading is careful about memory: the text is first
//! scanned for the header fields without building anything (a JSON value tree of a
//! hostile file can take many times its size), its length is compared with what the
//! declared sizes can need, and only then are the arrays read, each straight into a
//! `Vec<f32>` that may not grow past its declared length.

use core::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::error::{RbmError, Result};
use crate::model::Rbm;
use crate::size;
use crate::train::{TrainConfig, DIVERGENCE_LIMIT};

pub const FORMAT: &str = "rbm-lab-model";
pub const VERSION: u32 = 1;
/// No model file may be longer than this (a 784 x 2000 model takes about 20 MB).
pub const MAX_FILE_BYTES: usize = 256 << 20;
/// Bytes allowed per number of the declared model (the shortest f32 form takes at
/// most 15 characters; this leaves room for spaces and line breaks), and for the rest.
const BYTES_PER_NUMBER: u64 = 48;
const BYTES_BESIDES_NUMBERS: u64 = 1 << 20;
/// Most updates a file may say were done: 2^53, exact in a JS number.
pub const MAX_STEPS_DONE: u64 = 1 << 53;

/// What the file says about how the model was trained.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainingInfo {
    /// The settings of the run that wrote the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<TrainConfig>,
    /// Updates done by the run so far.
    #[serde(default)]
    pub steps_done: u64,
}

/// A model with what the file says about it besides the parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelFile {
    pub model: Rbm,
    pub image_shape: Option<(usize, usize)>,
    pub training: Option<TrainingInfo>,
}

#[derive(Serialize)]
struct ModelFileOut<'a> {
    format: &'a str,
    version: u32,
    n_visible: usize,
    n_hidden: usize,
    weights: &'a [f32],
    visible_bias: &'a [f32],
    hidden_bias: &'a [f32],
    #[serde(skip_serializing_if = "Option::is_none")]
    image_shape: Option<[usize; 2]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    training: Option<&'a TrainingInfo>,
}

/// Serialises a model; fails only if a parameter is not finite (JSON has no NaN).
pub fn to_json(file: &ModelFile) -> Result<String> {
    let model = &file.model;
    if !model.is_sane(f32::MAX) {
        return Err(RbmError::ModelFile(
            "the model has non-finite parameters and cannot be saved".into(),
        ));
    }
    let out = ModelFileOut {
        format: FORMAT,
        version: VERSION,
        n_visible: model.n_visible(),
        n_hidden: model.n_hidden(),
        weights: model.weights(),
        visible_bias: model.visible_bias(),
        hidden_bias: model.hidden_bias(),
        image_shape: file.image_shape.map(|(r, c)| [r, c]),
        training: file.training.as_ref(),
    };
    serde_json::to_string(&out).map_err(|e| RbmError::ModelFile(e.to_string()))
}

fn bad(message: impl Into<String>) -> RbmError {
    RbmError::ModelFile(message.into())
}

/// Parses and validates a model file, naming the first problem found.
pub fn from_json(text: &str) -> Result<ModelFile> {
    if text.len() > MAX_FILE_BYTES {
        return Err(bad(format!(
            "the file is {}, more than the {} a model file may take",
            megabytes(text.len() as u64),
            megabytes(MAX_FILE_BYTES as u64)
        )));
    }
    let header = read_header(text)?;
    let (m, n) = crate::model::check_sizes(header.n_visible, header.n_hidden)
        .map_err(|e| bad(e.to_string()))?;
    let numbers = (m as u64) * (n as u64) + m as u64 + n as u64;
    let allowed = numbers * BYTES_PER_NUMBER + BYTES_BESIDES_NUMBERS;
    if text.len() as u64 > allowed {
        return Err(bad(format!(
            "the file is {}, far more than a {m} x {n} model needs (at most {}): \
             it holds something else besides the model",
            megabytes(text.len() as u64),
            megabytes(allowed)
        )));
    }
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let body = BodySeed {
        m,
        n,
        // Each number takes at least two bytes ("0,"): never reserve more than that.
        max_capacity: text.len() / 2,
    }
    .deserialize(&mut deserializer)
    .map_err(|e| bad(e.to_string()))?;
    deserializer.end().map_err(|e| bad(e.to_string()))?;
    let weights = body.weights.ok_or_else(|| bad("missing field `weights`"))?;
    let visible_bias = body
        .visible_bias
        .ok_or_else(|| bad("missing field `visible_bias`"))?;
    let hidden_bias = body
        .hidden_bias
        .ok_or_else(|| bad("missing field `hidden_bias`"))?;
    ModelFile::from_parts(
        m as u64,
        n as u64,
        weights,
        visible_bias,
        hidden_bias,
        body.image_shape,
        body.training,
    )
}

impl ModelFile {
    /// A model file from its parts, checked as a file's are: the sizes, the picture's
    /// shape against `n_visible`, the update count, and parameters that are finite and
    /// at most [`DIVERGENCE_LIMIT`] in magnitude.
    pub fn from_parts(
        n_visible: u64,
        n_hidden: u64,
        weights: Vec<f32>,
        visible_bias: Vec<f32>,
        hidden_bias: Vec<f32>,
        image_shape: Option<[u64; 2]>,
        training: Option<TrainingInfo>,
    ) -> Result<ModelFile> {
        let (m, n) =
            crate::model::check_sizes(n_visible, n_hidden).map_err(|e| bad(e.to_string()))?;
        let image_shape = match image_shape {
            None => None,
            Some([rows, cols]) => {
                if size::product(&[rows, cols]) != Some(m) {
                    return Err(bad(format!(
                        "image_shape {rows} x {cols} does not have n_visible = {m} pixels"
                    )));
                }
                Some((rows as usize, cols as usize))
            }
        };
        if let Some(training) = &training {
            if training.steps_done > MAX_STEPS_DONE {
                return Err(bad(format!(
                    "training.steps_done = {} is more than the {MAX_STEPS_DONE} updates a run can count",
                    training.steps_done
                )));
            }
        }
        for (name, values) in [
            ("weights", &weights),
            ("visible_bias", &visible_bias),
            ("hidden_bias", &hidden_bias),
        ] {
            // (NaN fails the comparison too; Rbm::from_parts names it.)
            if let Some(i) = values.iter().position(|v| v.abs() > DIVERGENCE_LIMIT) {
                return Err(bad(format!(
                    "{name}[{i}] = {} is larger in magnitude than {DIVERGENCE_LIMIT}, \
                     which training treats as diverged; this model cannot be used",
                    values[i]
                )));
            }
        }
        let model = Rbm::from_parts(m, n, weights, visible_bias, hidden_bias)
            .map_err(|e| bad(e.to_string()))?;
        Ok(ModelFile {
            model,
            image_shape,
            training,
        })
    }
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

// ---- the header pass ---------------------------------------------------------------

struct Header {
    n_visible: u64,
    n_hidden: u64,
}

/// Reads `format`, `version`, `n_visible` and `n_hidden` and skips everything else
/// without keeping it, checking the identity first so that a wrong kind of file gets
/// a message about that.
fn read_header(text: &str) -> Result<Header> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let fields = deserializer
        .deserialize_any(HeaderVisitor)
        .map_err(|e| bad(format!("not valid JSON ({e})")))?;
    deserializer
        .end()
        .map_err(|e| bad(format!("not valid JSON ({e})")))?;
    let Some(fields) = fields else {
        return Err(bad(format!(
            "the file is not a JSON object; this is not an RBM Lab model (no \"format\": \"{FORMAT}\")"
        )));
    };
    match &fields.format {
        Some(Scalar::Text(f)) if f == FORMAT => {}
        Some(other) => return Err(bad(format!("format is {other}, expected \"{FORMAT}\""))),
        None => {
            return Err(bad(format!(
                "no \"format\": \"{FORMAT}\" field; this is not an RBM Lab model"
            )))
        }
    }
    match &fields.version {
        Some(Scalar::Number(v)) if *v == f64::from(VERSION) => {}
        Some(Scalar::Number(v)) => {
            return Err(bad(format!(
                "version {v} is not supported; this build reads version {VERSION}"
            )))
        }
        _ => return Err(bad("no numeric \"version\" field")),
    }
    let size = |name: &str, value: &Option<Scalar>| match value {
        Some(Scalar::Number(v)) if *v >= 0.0 && v.fract() == 0.0 && *v < 1.8e19 => Ok(*v as u64),
        Some(other) => Err(bad(format!("{name} is {other}, expected a whole number"))),
        None => Err(bad(format!("missing field `{name}`"))),
    };
    Ok(Header {
        n_visible: size("n_visible", &fields.n_visible)?,
        n_hidden: size("n_hidden", &fields.n_hidden)?,
    })
}

/// A JSON value reduced to what a message needs; lists and objects are skipped.
enum Scalar {
    Text(String),
    Number(f64),
    Other(&'static str),
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Text(t) if t.chars().count() > 40 => {
                write!(f, "\"{}…\"", t.chars().take(40).collect::<String>())
            }
            Scalar::Text(t) => write!(f, "\"{t}\""),
            Scalar::Number(v) => write!(f, "{v}"),
            Scalar::Other(what) => f.write_str(what),
        }
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> core::result::Result<Self, D::Error> {
        struct ScalarVisitor;
        impl<'de> Visitor<'de> for ScalarVisitor {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E>(self, v: &str) -> core::result::Result<Scalar, E> {
                Ok(Scalar::Text(v.chars().take(41).collect()))
            }
            fn visit_u64<E>(self, v: u64) -> core::result::Result<Scalar, E> {
                Ok(Scalar::Number(v as f64))
            }
            fn visit_i64<E>(self, v: i64) -> core::result::Result<Scalar, E> {
                Ok(Scalar::Number(v as f64))
            }
            fn visit_f64<E>(self, v: f64) -> core::result::Result<Scalar, E> {
                Ok(Scalar::Number(v))
            }
            fn visit_bool<E>(self, v: bool) -> core::result::Result<Scalar, E> {
                Ok(Scalar::Other(if v { "true" } else { "false" }))
            }
            fn visit_unit<E>(self) -> core::result::Result<Scalar, E> {
                Ok(Scalar::Other("null"))
            }
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> core::result::Result<Scalar, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other("a list"))
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> core::result::Result<Scalar, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other("an object"))
            }
        }
        deserializer.deserialize_any(ScalarVisitor)
    }
}

#[derive(Default)]
struct HeaderFields {
    format: Option<Scalar>,
    version: Option<Scalar>,
    n_visible: Option<Scalar>,
    n_hidden: Option<Scalar>,
}

/// `Some(fields)` for a JSON object, `None` for any other JSON value.
struct HeaderVisitor;

impl<'de> Visitor<'de> for HeaderVisitor {
    type Value = Option<HeaderFields>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(
        self,
        mut map: A,
    ) -> core::result::Result<Self::Value, A::Error> {
        let mut fields = HeaderFields::default();
        while let Some(key) = map.next_key::<Key>()? {
            let slot = match key {
                Key::Format => &mut fields.format,
                Key::Version => &mut fields.version,
                Key::NVisible => &mut fields.n_visible,
                Key::NHidden => &mut fields.n_hidden,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            if slot.is_some() {
                return Err(de::Error::custom(format!(
                    "duplicate field `{}`",
                    key.name()
                )));
            }
            *slot = Some(map.next_value::<Scalar>()?);
        }
        Ok(Some(fields))
    }
    fn visit_seq<A: SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> core::result::Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> core::result::Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> core::result::Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> core::result::Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> core::result::Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_bool<E>(self, _: bool) -> core::result::Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> core::result::Result<Self::Value, E> {
        Ok(None)
    }
}

/// The file's keys; anything else is skipped.
#[derive(Clone, Copy)]
enum Key {
    Format,
    Version,
    NVisible,
    NHidden,
    Weights,
    VisibleBias,
    HiddenBias,
    ImageShape,
    Training,
    Other,
}

impl Key {
    fn name(self) -> &'static str {
        match self {
            Key::Format => "format",
            Key::Version => "version",
            Key::NVisible => "n_visible",
            Key::NHidden => "n_hidden",
            Key::Weights => "weights",
            Key::VisibleBias => "visible_bias",
            Key::HiddenBias => "hidden_bias",
            Key::ImageShape => "image_shape",
            Key::Training => "training",
            Key::Other => "other",
        }
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> core::result::Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E>(self, v: &str) -> core::result::Result<Key, E> {
                Ok(match v {
                    "format" => Key::Format,
                    "version" => Key::Version,
                    "n_visible" => Key::NVisible,
                    "n_hidden" => Key::NHidden,
                    "weights" => Key::Weights,
                    "visible_bias" => Key::VisibleBias,
                    "hidden_bias" => Key::HiddenBias,
                    "image_shape" => Key::ImageShape,
                    "training" => Key::Training,
                    _ => Key::Other,
                })
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

// ---- the body pass -----------------------------------------------------------------

struct Body {
    weights: Option<Vec<f32>>,
    visible_bias: Option<Vec<f32>>,
    hidden_bias: Option<Vec<f32>>,
    image_shape: Option<[u64; 2]>,
    training: Option<TrainingInfo>,
}

/// Reads the file knowing the layer sizes, so each array is read with its length.
struct BodySeed {
    m: usize,
    n: usize,
    max_capacity: usize,
}

impl<'de> DeserializeSeed<'de> for BodySeed {
    type Value = Body;
    fn deserialize<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> core::result::Result<Body, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for BodySeed {
    type Value = Body;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a model file object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> core::result::Result<Body, A::Error> {
        let mut body = Body {
            weights: None,
            visible_bias: None,
            hidden_bias: None,
            image_shape: None,
            training: None,
        };
        // m * n was checked by check_sizes: at most MAX_WEIGHTS, no overflow.
        let (m, n, cap) = (self.m, self.n, self.max_capacity);
        let (mut seen_image_shape, mut seen_training) = (false, false);
        while let Some(key) = map.next_key::<Key>()? {
            let duplicate = || de::Error::custom(format!("duplicate field `{}`", key.name()));
            match key {
                Key::Weights => {
                    if body.weights.is_some() {
                        return Err(duplicate());
                    }
                    body.weights = Some(map.next_value_seed(Numbers {
                        name: "weights",
                        len: m * n,
                        capacity: cap,
                    })?);
                }
                Key::VisibleBias => {
                    if body.visible_bias.is_some() {
                        return Err(duplicate());
                    }
                    body.visible_bias = Some(map.next_value_seed(Numbers {
                        name: "visible_bias",
                        len: m,
                        capacity: cap,
                    })?);
                }
                Key::HiddenBias => {
                    if body.hidden_bias.is_some() {
                        return Err(duplicate());
                    }
                    body.hidden_bias = Some(map.next_value_seed(Numbers {
                        name: "hidden_bias",
                        len: n,
                        capacity: cap,
                    })?);
                }
                Key::ImageShape => {
                    if seen_image_shape {
                        return Err(duplicate());
                    }
                    seen_image_shape = true;
                    // null reads as "not given", as in files other tools write.
                    body.image_shape = map.next_value::<Option<[u64; 2]>>()?;
                }
                Key::Training => {
                    if seen_training {
                        return Err(duplicate());
                    }
                    seen_training = true;
                    body.training = map.next_value::<Option<TrainingInfo>>()?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(body)
    }
}

/// A JSON list of exactly `len` numbers, each a finite f32 no larger in magnitude than
/// training allows ([`DIVERGENCE_LIMIT`]): a model training would refuse is refused here.
struct Numbers {
    name: &'static str,
    len: usize,
    /// Most values worth reserving room for before they are seen.
    capacity: usize,
}

impl<'de> DeserializeSeed<'de> for Numbers {
    type Value = Vec<f32>;
    fn deserialize<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> core::result::Result<Vec<f32>, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Numbers {
    type Value = Vec<f32>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a list of {} numbers for {}", self.len, self.name)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> core::result::Result<Vec<f32>, A::Error> {
        let (name, len) = (self.name, self.len);
        let mut values = Vec::with_capacity(len.min(self.capacity));
        // Each number's text is parsed straight to f32 (correctly rounded). Reading it
        // as f64 first and rounding that would round twice: ±7.038531e-26 would come
        // back one bit off. A number beyond the f32 range becomes infinite here and gets
        // the message below.
        while let Some(raw) = seq.next_element::<&RawValue>()? {
            let text = raw.get();
            let i = values.len();
            let value: f32 = if text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
                text.parse().map_err(|_| {
                    de::Error::custom(format!("{name}[{i}] = {text} is not a number"))
                })?
            } else {
                let shown: String = text.chars().take(20).collect();
                return Err(de::Error::custom(format!(
                    "{name}[{i}] is {shown}, expected a number"
                )));
            };
            if i == len {
                return Err(de::Error::custom(format!(
                    "{name} has more than the {len} values the sizes call for"
                )));
            }
            if !value.is_finite() {
                return Err(de::Error::custom(format!(
                    "{name}[{i}] is not a finite 32-bit number"
                )));
            }
            if value.abs() > DIVERGENCE_LIMIT {
                return Err(de::Error::custom(format!(
                    "{name}[{i}] = {value} is larger in magnitude than {DIVERGENCE_LIMIT}, \
                     which training treats as diverged; this model cannot be used"
                )));
            }
            values.push(value);
        }
        if values.len() != len {
            return Err(de::Error::custom(format!(
                "{name} has {} values, expected {len}",
                values.len()
            )));
        }
        Ok(values)
    }
}
