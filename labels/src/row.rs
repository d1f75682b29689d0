//! The label row wire format (Encord's label-row JSON, `encord-wire.md` §3j).
//!
//! Only the keys this crate reasons about are typed; every other key is kept
//! in an `extra` map and written back as it came, so parse → serialize loses
//! nothing.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The JSON body of a label row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowData {
    pub data_hash: String,
    #[serde(default)]
    pub data_title: String,
    /// Lowercase here: `image`, `video`, `img_group`, ...
    pub data_type: String,
    #[serde(default)]
    pub object_answers: IndexMap<String, ObjectAnswer>,
    #[serde(default)]
    pub classification_answers: IndexMap<String, ClassificationAnswer>,
    #[serde(default)]
    pub data_units: IndexMap<String, DataUnit>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One data unit (an image, a video, or one image of a group).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataUnit {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Labels>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The labels of a data unit: one frame (image, image-group unit) or a map of
/// frame number → frame labels (video).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Labels {
    Frame(FrameLabels),
    Frames(IndexMap<String, FrameLabels>),
}

/// Objects and (legacy) classifications on one frame.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrameLabels {
    pub objects: Vec<FrameObject>,
    #[serde(default)]
    pub classifications: Vec<Value>,
}

/// One object on one frame: its identity, its geometry key and metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameObject {
    #[serde(rename = "objectHash")]
    pub object_hash: String,
    #[serde(rename = "featureHash")]
    pub feature_hash: String,
    pub shape: String,
    /// Geometry (`boundingBox`, `polygon`, ...) and metadata (`createdAt`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The static attribute answers of one object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectAnswer {
    #[serde(rename = "objectHash")]
    pub object_hash: String,
    #[serde(default)]
    pub classifications: Vec<AttributeAnswer>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One classification instance: its answers and the frames it covers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassificationAnswer {
    #[serde(rename = "classificationHash")]
    pub classification_hash: String,
    #[serde(rename = "featureHash")]
    pub feature_hash: String,
    #[serde(default)]
    pub classifications: Vec<AttributeAnswer>,
    /// Inclusive `[start, end]` frame ranges.
    #[serde(default)]
    pub range: Vec<[u32; 2]>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The answer to one attribute. `answers` is a list of `{name, value,
/// featureHash}` for radio and checklist, a string for text, a number for
/// numeric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeAnswer {
    pub name: String,
    #[serde(default)]
    pub value: String,
    #[serde(rename = "featureHash")]
    pub feature_hash: String,
    pub answers: Value,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl DataUnit {
    /// Width in pixels, when the unit states it.
    pub fn width(&self) -> Option<u32> {
        self.extra
            .get("width")
            .and_then(Value::as_u64)
            .map(|v| v as u32)
    }

    /// Height in pixels, when the unit states it.
    pub fn height(&self) -> Option<u32> {
        self.extra
            .get("height")
            .and_then(Value::as_u64)
            .map(|v| v as u32)
    }

    /// The unit's position in an image group (`data_sequence`, a number or a
    /// numeric string).
    pub fn sequence(&self) -> u32 {
        match self.extra.get("data_sequence") {
            Some(Value::Number(n)) => n.as_u64().unwrap_or(0) as u32,
            Some(Value::String(s)) => s.parse().unwrap_or(0),
            _ => 0,
        }
    }
}

impl Labels {
    /// Iterates (frame number, labels) over every frame of this data unit;
    /// a single-frame unit reports frame `single_frame`.
    pub fn frames(&self, single_frame: u32) -> Vec<(u32, &FrameLabels)> {
        match self {
            Labels::Frame(f) => vec![(single_frame, f)],
            Labels::Frames(map) => map
                .iter()
                .filter_map(|(k, v)| k.parse::<u32>().ok().map(|n| (n, v)))
                .collect(),
        }
    }
}
