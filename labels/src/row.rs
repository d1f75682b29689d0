//! The label row wire format (Encord's label-row JSON, `docs/encord-wire.md` §3j).
//!
//! Only the keys this crate reasons about are typed; every other key is kept
//! in an `extra` map and written back as it came, so parse → serialize loses
//! nothing.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::lossless::lossless_struct;
use serde_json::Value;

lossless_struct! {
    /// The JSON body of a label row.
    #[derive(Debug, Clone, PartialEq)]
    pub struct RowData {
        pub data_hash: String = "data_hash" required,
        pub data_title: String = "data_title" default,
        /// Lowercase here: `image`, `video`, `img_group`, ...
        pub data_type: String = "data_type" required,
        pub object_answers: IndexMap<String, ObjectAnswer> = "object_answers" default,
        pub classification_answers: IndexMap<String, ClassificationAnswer> =
            "classification_answers" default,
        pub data_units: IndexMap<String, DataUnit> = "data_units" default,
    }
}

lossless_struct! {
    /// One data unit (an image, a video, or one image of a group).
    #[derive(Debug, Clone, PartialEq)]
    pub struct DataUnit {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub labels: Option<Labels> = "labels" default,
    }
}

/// The labels of a data unit: one frame (image, image-group unit) or a map of
/// frame number → frame labels (video).
#[derive(Debug, Clone, PartialEq, Serialize)]
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

lossless_struct! {
    /// One object on one frame: its identity and its geometry key; the
    /// geometry (`boundingBox`, `polygon`, ...) and metadata (`createdAt`,
    /// ...) are in `extra`.
    #[derive(Debug, Clone, PartialEq)]
    pub struct FrameObject {
        pub object_hash: String = "objectHash" required,
        pub feature_hash: String = "featureHash" required,
        pub shape: String = "shape" required,
    }
}

lossless_struct! {
    /// The static attribute answers of one object.
    #[derive(Debug, Clone, PartialEq)]
    pub struct ObjectAnswer {
        pub object_hash: String = "objectHash" required,
        pub classifications: Vec<AttributeAnswer> = "classifications" default,
    }
}

lossless_struct! {
    /// One classification instance: its answers and the frames it covers.
    #[derive(Debug, Clone, PartialEq)]
    pub struct ClassificationAnswer {
        pub classification_hash: String = "classificationHash" required,
        pub feature_hash: String = "featureHash" required,
        pub classifications: Vec<AttributeAnswer> = "classifications" default,
        /// Inclusive `[start, end]` frame ranges.
        pub range: Vec<[u32; 2]> = "range" default,
    }
}

lossless_struct! {
    /// The answer to one attribute. `answers` is a list of `{name, value,
    /// featureHash}` for radio and checklist, a string for text, a number for
    /// numeric.
    #[derive(Debug, Clone, PartialEq)]
    pub struct AttributeAnswer {
        pub name: String = "name" required,
        pub value: String = "value" default,
        pub feature_hash: String = "featureHash" required,
        pub answers: Value = "answers" required,
    }
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

/// One frame's labels (`{"objects": [...], "classifications": [...]}`) or a
/// video's frames (`{"0": {...}, "12": {...}}`), told apart by the first key
/// and read in one pass (serde's `untagged` buffers the whole map and tries
/// each shape in turn). An empty map is no frames, as before.
impl<'de> Deserialize<'de> for Labels {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Shape;
        impl<'de> serde::de::Visitor<'de> for Shape {
            type Value = Labels;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a frame's labels or a map of frame number to labels")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Labels, A::Error> {
                use serde::de::Error;
                const FIELDS: &[&str] = &["objects", "classifications"];
                let Some(first) = map.next_key::<String>()? else {
                    return Ok(Labels::Frames(IndexMap::new()));
                };
                if !FIELDS.contains(&first.as_str()) {
                    let mut frames = IndexMap::new();
                    frames.insert(first, map.next_value::<FrameLabels>()?);
                    while let Some(k) = map.next_key::<String>()? {
                        let v = map.next_value::<FrameLabels>()?;
                        frames.insert(k, v);
                    }
                    return Ok(Labels::Frames(frames));
                }
                let (mut objects, mut classifications) = (None, None);
                let mut key = Some(first);
                while let Some(k) = key {
                    match k.as_str() {
                        "objects" if objects.is_none() => objects = Some(map.next_value()?),
                        "classifications" if classifications.is_none() => {
                            classifications = Some(map.next_value()?)
                        }
                        "objects" | "classifications" => {
                            return Err(A::Error::custom(format_args!("duplicate field `{k}`")))
                        }
                        other => return Err(A::Error::unknown_field(other, FIELDS)),
                    }
                    key = map.next_key::<String>()?;
                }
                Ok(Labels::Frame(FrameLabels {
                    objects: objects.ok_or_else(|| A::Error::missing_field("objects"))?,
                    classifications: classifications.unwrap_or_default(),
                }))
            }
        }
        d.deserialize_map(Shape)
    }
}
