//! Reading and creating objects and classifications by ontology name.

use indexmap::IndexMap;
use serde_json::{json, Map, Value};

use crate::ontology::{find_attribute, find_attribute_by_hash, Attribute, AttributeType};
use crate::row::{
    AttributeAnswer, ClassificationAnswer, FrameLabels, FrameObject, Labels, ObjectAnswer,
};
use crate::{LabelError, LabelRow, Shape};

/// An answer to an attribute, given by option label (radio, checklist), text
/// or number.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Radio(String),
    Checklist(Vec<String>),
    Text(String),
    Numeric(f64),
}

/// One object across the frames it appears on.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectInstance {
    pub object_hash: String,
    pub feature_hash: String,
    /// The ontology name, or the row's own `name` when the feature hash is
    /// not in the ontology.
    pub name: String,
    /// (frame, geometry) in frame order. Shapes this crate does not model
    /// (skeleton, cuboid, ...) are left out here but kept in the row.
    pub frames: Vec<(u32, Shape)>,
    /// Static attribute answers: (attribute name, answer).
    pub answers: Vec<(String, Answer)>,
}

/// One classification and the frames it covers.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassificationInstance {
    pub classification_hash: String,
    pub feature_hash: String,
    pub name: String,
    /// Inclusive frame ranges.
    pub ranges: Vec<[u32; 2]>,
    /// (attribute name, answer), the top-level attribute first.
    pub answers: Vec<(String, Answer)>,
}

impl ClassificationInstance {
    /// The answer of the top-level attribute.
    pub fn answer(&self) -> Option<&Answer> {
        self.answers.first().map(|(_, a)| a)
    }
}

impl LabelRow {
    /// Every object in the row.
    pub fn objects(&self) -> Vec<ObjectInstance> {
        let mut out: IndexMap<String, ObjectInstance> = IndexMap::new();
        for unit in self.data.data_units.values() {
            let Some(labels) = &unit.labels else { continue };
            for (frame, fl) in labels.frames(unit.sequence()) {
                for o in &fl.objects {
                    let entry = out.entry(o.object_hash.clone()).or_insert_with(|| {
                        let name = self
                            .ontology
                            .object_by_hash(&o.feature_hash)
                            .map(|d| d.name.clone())
                            .or_else(|| {
                                o.extra
                                    .get("name")
                                    .and_then(Value::as_str)
                                    .map(str::to_string)
                            })
                            .unwrap_or_default();
                        ObjectInstance {
                            object_hash: o.object_hash.clone(),
                            feature_hash: o.feature_hash.clone(),
                            name,
                            frames: vec![],
                            answers: vec![],
                        }
                    });
                    if let Some(shape) = Shape::from_keys(&o.shape, &o.extra) {
                        entry.frames.push((frame, shape));
                    }
                }
            }
        }
        for obj in out.values_mut() {
            obj.frames.sort_by_key(|(f, _)| *f);
            if let Some(ans) = self.data.object_answers.get(&obj.object_hash) {
                let attrs = self
                    .ontology
                    .object_by_hash(&obj.feature_hash)
                    .map_or(&[][..], |d| &d.attributes[..]);
                obj.answers = ans
                    .classifications
                    .iter()
                    .filter_map(|a| read_answer(attrs, a))
                    .collect();
            }
        }
        out.into_values().collect()
    }

    /// The objects of one ontology type.
    pub fn objects_named(&self, name: &str) -> Vec<ObjectInstance> {
        self.objects()
            .into_iter()
            .filter(|o| o.name == name)
            .collect()
    }

    /// Every classification in the row.
    pub fn classifications(&self) -> Vec<ClassificationInstance> {
        self.data
            .classification_answers
            .values()
            .map(|c| {
                let def = self.ontology.classification_by_hash(&c.feature_hash);
                let attrs = def.map_or(&[][..], |d| &d.attributes[..]);
                ClassificationInstance {
                    classification_hash: c.classification_hash.clone(),
                    feature_hash: c.feature_hash.clone(),
                    name: def
                        .map(|d| d.name().to_string())
                        .or_else(|| c.classifications.first().map(|a| a.name.clone()))
                        .unwrap_or_default(),
                    ranges: c.range.clone(),
                    answers: c
                        .classifications
                        .iter()
                        .filter_map(|a| read_answer(attrs, a))
                        .collect(),
                }
            })
            .collect()
    }

    /// The classification with this (top-level attribute) name, if present.
    pub fn classification(&self, name: &str) -> Option<ClassificationInstance> {
        self.classifications().into_iter().find(|c| c.name == name)
    }

    /// Adds an object of ontology type `name` on `frame`, returning its new
    /// object hash. The shape must be the one the ontology gives that type.
    pub fn add_object(
        &mut self,
        name: &str,
        frame: u32,
        shape: Shape,
    ) -> Result<String, LabelError> {
        let hash = self.new_hash(&format!("object:{name}:{frame}"));
        self.place_object(name, &hash, frame, shape)?;
        self.data.object_answers.insert(
            hash.clone(),
            ObjectAnswer {
                object_hash: hash.clone(),
                classifications: vec![],
                extra: Map::new(),
            },
        );
        Ok(hash)
    }

    /// Places an existing object on one more frame (video tracking).
    pub fn add_object_frame(
        &mut self,
        object_hash: &str,
        frame: u32,
        shape: Shape,
    ) -> Result<(), LabelError> {
        let feature = self.feature_of(object_hash)?;
        let name = self
            .ontology
            .object_by_hash(&feature)
            .map(|d| d.name.clone())
            .ok_or_else(|| {
                LabelError::Invalid(format!("object `{object_hash}` is not in the ontology"))
            })?;
        self.place_object(&name, object_hash, frame, shape)
    }

    fn place_object(
        &mut self,
        name: &str,
        hash: &str,
        frame: u32,
        shape: Shape,
    ) -> Result<(), LabelError> {
        let def = self.ontology.object(name)?.clone();
        if def.shape != shape.kind() {
            return Err(LabelError::Invalid(format!(
                "object `{name}` is a {} in the ontology, not a {}",
                def.shape,
                shape.kind()
            )));
        }
        let now = now();
        let mut keys = Map::new();
        keys.insert("name".into(), json!(def.name));
        keys.insert("color".into(), json!(def.color));
        keys.insert("value".into(), json!(snake(&def.name)));
        keys.insert("createdAt".into(), json!(now));
        keys.insert("createdBy".into(), Value::Null);
        keys.insert("confidence".into(), json!(1.0));
        keys.insert("manualAnnotation".into(), json!(false));
        keys.insert("lastEditedAt".into(), json!(now));
        shape.to_keys(&mut keys);
        let object = FrameObject {
            object_hash: hash.to_string(),
            feature_hash: def.feature_node_hash.clone(),
            shape: def.shape.clone(),
            extra: keys,
        };
        self.frame_labels(frame)?.objects.push(object);
        Ok(())
    }

    /// Sets the confidence (in [0, 1]) of an object where it is placed on
    /// `frame`; objects are added with 1.0. A model's score goes here.
    pub fn set_object_confidence(
        &mut self,
        object_hash: &str,
        frame: u32,
        confidence: f64,
    ) -> Result<(), LabelError> {
        if !(0.0..=1.0).contains(&confidence) {
            return Err(LabelError::Invalid(format!(
                "confidence {confidence} of object `{object_hash}` is outside [0, 1]"
            )));
        }
        let object = self
            .frame_labels(frame)?
            .objects
            .iter_mut()
            .find(|o| o.object_hash == object_hash)
            .ok_or_else(|| {
                LabelError::Invalid(format!("object `{object_hash}` is not on frame {frame}"))
            })?;
        object.extra.insert("confidence".into(), json!(confidence));
        Ok(())
    }

    /// Sets the answer of one of an object's static attributes.
    pub fn set_object_answer(
        &mut self,
        object_hash: &str,
        attribute: &str,
        answer: Answer,
    ) -> Result<(), LabelError> {
        let feature = self.feature_of(object_hash)?;
        let def = self.ontology.object_by_hash(&feature).ok_or_else(|| {
            LabelError::Invalid(format!("object `{object_hash}` is not in the ontology"))
        })?;
        let attr = find_attribute(&def.attributes, attribute).ok_or_else(|| {
            LabelError::NotInOntology {
                kind: "attribute",
                name: format!("{attribute}` of object `{}", def.name),
                valid: def.attributes.iter().map(|a| a.name.clone()).collect(),
            }
        })?;
        let entry = write_answer(attr, &answer)?;
        let answers = self
            .data
            .object_answers
            .entry(object_hash.to_string())
            .or_insert_with(|| ObjectAnswer {
                object_hash: object_hash.to_string(),
                classifications: vec![],
                extra: Map::new(),
            });
        answers
            .classifications
            .retain(|a| a.feature_hash != entry.feature_hash);
        answers.classifications.push(entry);
        Ok(())
    }

    /// Adds a classification (by the name of its top-level attribute) with an
    /// answer, on the inclusive frame range `frames`. Returns its hash.
    pub fn add_classification(
        &mut self,
        name: &str,
        answer: Answer,
        frames: [u32; 2],
    ) -> Result<String, LabelError> {
        if frames[0] > frames[1] {
            return Err(LabelError::Invalid(format!(
                "frame range [{}, {}] of classification `{name}` is reversed",
                frames[0], frames[1]
            )));
        }
        let def = self.ontology.classification(name)?.clone();
        let attr = def.attributes.first().ok_or_else(|| {
            LabelError::Invalid(format!("classification `{name}` has no attribute"))
        })?;
        let entry = write_answer(attr, &answer)?;
        let hash = self.new_hash(&format!("classification:{name}"));
        let now = now();
        let mut extra = Map::new();
        extra.insert("spaces".into(), json!({}));
        extra.insert("createdBy".into(), Value::Null);
        extra.insert("createdAt".into(), json!(now));
        extra.insert("lastEditedBy".into(), Value::Null);
        extra.insert("lastEditedAt".into(), json!(now));
        extra.insert("confidence".into(), json!(1.0));
        extra.insert("manualAnnotation".into(), json!(false));
        self.data.classification_answers.insert(
            hash.clone(),
            ClassificationAnswer {
                classification_hash: hash.clone(),
                feature_hash: def.feature_node_hash.clone(),
                classifications: vec![entry],
                range: vec![frames],
                extra,
            },
        );
        Ok(hash)
    }

    /// Answers one of a classification's nested questions (one under an
    /// option of its radio question, by name), replacing an earlier answer
    /// to it.
    pub fn set_classification_answer(
        &mut self,
        classification_hash: &str,
        attribute: &str,
        answer: Answer,
    ) -> Result<(), LabelError> {
        let entry = self
            .data
            .classification_answers
            .get(classification_hash)
            .ok_or_else(|| {
                LabelError::Invalid(format!(
                    "no classification `{classification_hash}` in this label row"
                ))
            })?;
        let def = self
            .ontology
            .classification_by_hash(&entry.feature_hash)
            .ok_or_else(|| {
                LabelError::Invalid(format!(
                    "classification `{classification_hash}` is not in the ontology"
                ))
            })?;
        let attr = find_attribute(&def.attributes, attribute).ok_or_else(|| {
            LabelError::NotInOntology {
                kind: "attribute",
                name: format!("{attribute}` of classification `{}", def.name()),
                valid: def
                    .attributes
                    .iter()
                    .flat_map(|a| a.options.iter().flat_map(|o| &o.options))
                    .map(|a| a.name.clone())
                    .collect(),
            }
        })?;
        let written = write_answer(attr, &answer)?;
        let entry = self
            .data
            .classification_answers
            .get_mut(classification_hash)
            .expect("looked up above");
        entry
            .classifications
            .retain(|a| a.feature_hash != written.feature_hash);
        entry.classifications.push(written);
        Ok(())
    }

    /// Removes an object from every frame. Returns whether it existed.
    pub fn remove_object(&mut self, object_hash: &str) -> bool {
        let mut found = self.data.object_answers.shift_remove(object_hash).is_some();
        for unit in self.data.data_units.values_mut() {
            let frames: Vec<&mut FrameLabels> = match &mut unit.labels {
                Some(Labels::Frame(f)) => vec![f],
                Some(Labels::Frames(m)) => m.values_mut().collect(),
                None => vec![],
            };
            for fl in frames {
                let before = fl.objects.len();
                fl.objects.retain(|o| o.object_hash != object_hash);
                found |= fl.objects.len() != before;
            }
        }
        found
    }

    /// Removes a classification. Returns whether it existed.
    pub fn remove_classification(&mut self, classification_hash: &str) -> bool {
        self.data
            .classification_answers
            .shift_remove(classification_hash)
            .is_some()
    }

    /// The labels of `frame`, created if the frame has none yet.
    fn frame_labels(&mut self, frame: u32) -> Result<&mut FrameLabels, LabelError> {
        let is_video = self.data.data_type == "video";
        let group = self.data.data_units.len() > 1 || self.data.data_type == "img_group";
        let unit = if group {
            self.data
                .data_units
                .values_mut()
                .find(|u| u.sequence() == frame)
        } else {
            self.data.data_units.values_mut().next()
        }
        .ok_or_else(|| {
            LabelError::Invalid(format!("the label row has no data unit for frame {frame}"))
        })?;
        if !is_video && !group && frame != 0 {
            return Err(LabelError::Invalid(format!(
                "frame {frame} does not exist: a {} has only frame 0",
                self.data.data_type
            )));
        }
        let labels = unit.labels.get_or_insert_with(|| {
            if is_video {
                Labels::Frames(IndexMap::new())
            } else {
                Labels::Frame(FrameLabels::default())
            }
        });
        // An empty unit may have been read as either shape: make it the right one.
        let empty = match labels {
            Labels::Frame(f) => f.objects.is_empty() && f.classifications.is_empty(),
            Labels::Frames(m) => m.is_empty(),
        };
        if empty {
            *labels = if is_video {
                Labels::Frames(IndexMap::new())
            } else {
                Labels::Frame(FrameLabels::default())
            };
        }
        match labels {
            Labels::Frames(m) if is_video => Ok(m.entry(frame.to_string()).or_default()),
            Labels::Frame(f) if !is_video => Ok(f),
            _ => Err(LabelError::Invalid(format!(
                "the data unit's labels do not have the shape of a {} row",
                self.data.data_type
            ))),
        }
    }

    /// A new 8-character hash, unique in this row, derived from the row and a
    /// seed (deterministic: the same edits give the same hashes).
    fn new_hash(&self, seed: &str) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let taken = |h: &str| {
            self.data.object_answers.contains_key(h)
                || self.data.classification_answers.contains_key(h)
                || self.frame_objects().any(|o| o.object_hash == h)
        };
        let mut counter: u64 = 0;
        loop {
            // FNV-1a over the data hash, the seed and a counter.
            let mut x: u64 = 0xcbf2_9ce4_8422_2325;
            for b in self
                .data
                .data_hash
                .bytes()
                .chain(seed.bytes())
                .chain(counter.to_le_bytes())
            {
                x ^= u64::from(b);
                x = x.wrapping_mul(0x0100_0000_01b3);
            }
            let hash: String = (0..8)
                .map(|i| ALPHABET[((x >> (i * 6)) & 63) as usize] as char)
                .collect();
            if !taken(&hash) {
                return hash;
            }
            counter += 1;
        }
    }

    /// Every object on every frame, as stored (no geometry parsed).
    fn frame_objects(&self) -> impl Iterator<Item = &FrameObject> {
        self.data.data_units.values().flat_map(|u| {
            let frames: Vec<&FrameLabels> = match &u.labels {
                Some(Labels::Frame(f)) => vec![f],
                Some(Labels::Frames(m)) => m.values().collect(),
                None => vec![],
            };
            frames.into_iter().flat_map(|f| f.objects.iter())
        })
    }

    /// The feature hash of an object in this row.
    fn feature_of(&self, object_hash: &str) -> Result<String, LabelError> {
        self.frame_objects()
            .find(|o| o.object_hash == object_hash)
            .map(|o| o.feature_hash.clone())
            .ok_or_else(|| {
                LabelError::Invalid(format!("no object `{object_hash}` in this label row"))
            })
    }
}

/// Encord's answer entry for `attr`.
fn write_answer(attr: &Attribute, answer: &Answer) -> Result<AttributeAnswer, LabelError> {
    let option_entry = |label: &str| -> Result<Value, LabelError> {
        let o = attr.option(label)?;
        Ok(json!({"name": o.label, "value": o.value, "featureHash": o.feature_node_hash}))
    };
    let answers = match (attr.kind, answer) {
        (AttributeType::Radio, Answer::Radio(label)) => json!([option_entry(label)?]),
        (AttributeType::Checklist, Answer::Checklist(labels)) => Value::Array(
            labels
                .iter()
                .map(|l| option_entry(l))
                .collect::<Result<_, _>>()?,
        ),
        (AttributeType::Text, Answer::Text(t)) => json!(t),
        (AttributeType::Numeric, Answer::Numeric(n)) => json!(n),
        (kind, given) => {
            return Err(LabelError::Invalid(format!(
                "attribute `{}` is {kind:?}, but the answer given is {given:?}",
                attr.name
            )))
        }
    };
    let mut extra = Map::new();
    extra.insert("manualAnnotation".into(), json!(false));
    Ok(AttributeAnswer {
        name: attr.name.clone(),
        value: snake(&attr.name),
        feature_hash: attr.feature_node_hash.clone(),
        answers,
        extra,
    })
}

fn read_answer(attributes: &[Attribute], a: &AttributeAnswer) -> Option<(String, Answer)> {
    let kind = answered_attribute(attributes, a).map(|attr| attr.kind);
    let answer = match &a.answers {
        Value::String(s) => Answer::Text(s.clone()),
        Value::Number(n) => Answer::Numeric(n.as_f64()?),
        Value::Array(items) => {
            let names: Vec<String> = items
                .iter()
                .filter_map(|i| i.get("name").and_then(Value::as_str).map(str::to_string))
                .collect();
            // Without the ontology, one entry reads as a radio answer.
            if kind == Some(AttributeType::Radio) || (kind.is_none() && names.len() == 1) {
                Answer::Radio(names[0].clone())
            } else {
                Answer::Checklist(names)
            }
        }
        _ => return None,
    };
    Some((a.name.clone(), answer))
}

/// Validation helper shared with `validate`: the attribute of `attributes`
/// (nested ones included) answered by `a`, if it exists.
pub(crate) fn answered_attribute<'a>(
    attributes: &'a [Attribute],
    a: &AttributeAnswer,
) -> Option<&'a Attribute> {
    find_attribute_by_hash(attributes, &a.feature_hash)
}

fn snake(name: &str) -> String {
    name.trim().to_lowercase().replace(' ', "_")
}

/// Now, as Encord writes dates: `Wed, 01 May 2024 10:00:00 UTC`.
fn now() -> String {
    httpdate::fmt_http_date(std::time::SystemTime::now()).replace("GMT", "UTC")
}
