//! A label row read only at its top level.
//!
//! Saving or initialising a row changes a few top-level fields (label hash,
//! timestamps, status). Parsing the whole row into a `serde_json::Value`
//! tree and writing it out again cost most of the emulator's time per saved
//! row; here each field's value stays the text it was sent as.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde::Serialize;
use serde_json::value::RawValue;

/// A JSON object's top-level fields, in order, each value as its JSON text.
#[derive(Debug)]
pub(crate) struct RowFields(Vec<(String, Box<RawValue>)>);

impl RowFields {
    /// Reads `text`, which must be one JSON object (its values are checked
    /// to be JSON, not interpreted).
    pub(crate) fn parse(text: &str) -> Result<RowFields, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The value of `key` as JSON text, if the row has it.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.get())
    }

    /// Sets `key` to `value`, in place if the row has it, else at the end.
    pub(crate) fn set(&mut self, key: &str, value: impl Serialize) {
        let value = serde_json::value::to_raw_value(&value).expect("strings and nulls serialise");
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value,
            None => self.0.push((key.to_string(), value)),
        }
    }

    /// The row as JSON text: its fields in order, values as they were sent.
    pub(crate) fn to_text(&self) -> String {
        let len = self
            .0
            .iter()
            .map(|(k, v)| k.len() + v.get().len() + 4)
            .sum::<usize>();
        let mut out = String::with_capacity(len + 2);
        out.push('{');
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&serde_json::to_string(k).expect("a string serialises"));
            out.push(':');
            out.push_str(v.get());
        }
        out.push('}');
        out
    }
}

impl<'de> Deserialize<'de> for RowFields {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RowFields, D::Error> {
        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = RowFields;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RowFields, A::Error> {
                let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(16));
                while let Some(field) = map.next_entry::<String, Box<RawValue>>()? {
                    fields.push(field);
                }
                Ok(RowFields(fields))
            }
        }
        d.deserialize_map(Fields)
    }
}

/// The same data's row with no labels, on branch `branch`, not yet
/// initialised (no label hash): what a branch holds before its first save.
pub(crate) fn blank_row(text: &str, branch: &str) -> Result<String, serde_json::Error> {
    use serde_json::{json, Value};
    let mut row: Value = serde_json::from_str(text)?;
    for key in ["object_answers", "classification_answers", "object_actions"] {
        row[key] = json!({});
    }
    row["label_hash"] = Value::Null;
    row["branch_name"] = json!(branch);
    row["created_at"] = Value::Null;
    row["last_edited_at"] = Value::Null;
    row["label_status"] = json!("NOT_LABELLED");
    if let Some(units) = row["data_units"].as_object_mut() {
        for unit in units.values_mut() {
            let per_frame = unit["labels"]
                .as_object()
                .is_some_and(|l| !l.contains_key("objects"));
            unit["labels"] = if per_frame {
                json!({})
            } else {
                json!({"objects": [], "classifications": []})
            };
        }
    }
    Ok(row.to_string())
}

/// The branch a row names (`main` when it names none).
pub(crate) fn branch_of(row: &RowFields) -> String {
    row.get("branch_name")
        .and_then(|b| serde_json::from_str::<String>(b).ok())
        .unwrap_or_else(|| "main".into())
}

/// The signed `data_link` of a data unit: its key, its `data_sequence` and
/// its stored link given.
pub(crate) type UnitLink<'a> = dyn Fn(&str, u64, Option<&str>) -> Option<String> + 'a;

/// How a label row is served, from the `labelrow` GET's options (the
/// Runner's `LabelRowInitialiseLabelsArgs`): only these objects' and
/// classifications' feature hashes (a server-side filter), reviews or
/// not, and each data unit's `data_link` replaced (a signed URL).
#[derive(Default)]
pub(crate) struct RowShape<'a> {
    pub objects: Option<&'a [String]>,
    pub classifications: Option<&'a [String]>,
    pub reviews: bool,
    /// The `data_link` of data unit `key` (its `data_sequence` and stored
    /// link given), when a signed link was asked for.
    pub link: Option<&'a UnitLink<'a>>,
}

impl RowShape<'_> {
    /// Whether serving a row this way changes anything that may be in it.
    fn changes(&self, text: &str) -> bool {
        self.objects.is_some()
            || self.classifications.is_some()
            || self.link.is_some()
            || (!self.reviews && text.contains("\"reviews\""))
    }

    /// `text` served this way. A row that needs no change keeps its text;
    /// one that does is parsed and written out again.
    pub(crate) fn apply(&self, text: String) -> Result<String, serde_json::Error> {
        use serde_json::Value;
        if !self.changes(&text) {
            return Ok(text);
        }
        let mut row: Value = serde_json::from_str(&text)?;
        let keep = |list: Option<&[String]>, entry: &Value| {
            list.is_none_or(|l| {
                entry
                    .get("featureHash")
                    .and_then(Value::as_str)
                    .is_some_and(|h| l.iter().any(|k| k == h))
            })
        };
        let mut kept_objects = std::collections::HashSet::new();
        let mut kept_classifications = std::collections::HashSet::new();
        let mut frame_labels = |labels: &mut Value| {
            if let Some(list) = labels.get_mut("objects").and_then(Value::as_array_mut) {
                list.retain(|o| keep(self.objects, o));
                for o in list.iter_mut() {
                    if let Some(h) = o.get("objectHash").and_then(Value::as_str) {
                        kept_objects.insert(h.to_string());
                    }
                    if !self.reviews {
                        o.as_object_mut().map(|m| m.remove("reviews"));
                    }
                }
            }
            if let Some(list) = labels
                .get_mut("classifications")
                .and_then(Value::as_array_mut)
            {
                list.retain(|c| keep(self.classifications, c));
                for c in list.iter_mut() {
                    if let Some(h) = c.get("classificationHash").and_then(Value::as_str) {
                        kept_classifications.insert(h.to_string());
                    }
                    if !self.reviews {
                        c.as_object_mut().map(|m| m.remove("reviews"));
                    }
                }
            }
        };
        if let Some(units) = row.get_mut("data_units").and_then(Value::as_object_mut) {
            for (key, unit) in units.iter_mut() {
                if let Some(link) = self.link {
                    let seq = unit.get("data_sequence").and_then(|s| {
                        s.as_u64()
                            .or_else(|| s.as_str().and_then(|t| t.parse().ok()))
                    });
                    let stored = unit.get("data_link").and_then(Value::as_str);
                    if let Some(url) = link(key, seq.unwrap_or(0), stored) {
                        unit["data_link"] = Value::String(url);
                    }
                }
                let Some(labels) = unit.get_mut("labels") else {
                    continue;
                };
                if labels.get("objects").is_some() || labels.get("classifications").is_some() {
                    frame_labels(labels);
                } else if let Some(frames) = labels.as_object_mut() {
                    for frame in frames.values_mut() {
                        frame_labels(frame);
                    }
                }
            }
        }
        let reviews = self.reviews;
        let mut answers = |key: &str, kept: &std::collections::HashSet<String>, filtered: bool| {
            if let Some(map) = row.get_mut(key).and_then(Value::as_object_mut) {
                if filtered {
                    map.retain(|hash, _| kept.contains(hash));
                }
                if !reviews {
                    for v in map.values_mut() {
                        v.as_object_mut().map(|m| m.remove("reviews"));
                    }
                }
            }
        };
        answers("object_answers", &kept_objects, self.objects.is_some());
        answers("object_actions", &kept_objects, self.objects.is_some());
        answers(
            "classification_answers",
            &kept_classifications,
            self.classifications.is_some(),
        );
        Ok(row.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn fields_change_in_place_and_the_rest_keeps_its_text() {
        let text = r#"{"label_hash":null, "data_units":{"d":{"labels":{"objects":[ {"x":1.50} ]}}},"label_status":"NOT_LABELLED"}"#;
        let mut row = RowFields::parse(text).unwrap();
        assert_eq!(row.get("label_hash"), Some("null"));
        assert_eq!(row.get("label_status"), Some(r#""NOT_LABELLED""#));
        assert_eq!(row.get("created_at"), None);
        row.set("label_hash", "h1");
        row.set("created_at", "2024-05-01 10:00:00");
        assert_eq!(
            row.to_text(),
            r#"{"label_hash":"h1","data_units":{"d":{"labels":{"objects":[ {"x":1.50} ]}}},"label_status":"NOT_LABELLED","created_at":"2024-05-01 10:00:00"}"#
        );
        // Still the same JSON, key order kept.
        let back: Value = serde_json::from_str(&row.to_text()).unwrap();
        assert_eq!(
            back["data_units"]["d"]["labels"]["objects"][0]["x"],
            json!(1.5)
        );
    }

    #[test]
    fn a_shape_keeps_the_asked_features_strips_reviews_and_signs_links() {
        let text = json!({
            "data_units": {"u": {"data_sequence": 0, "data_link": "media/p/a.png", "labels": {
                "objects": [
                    {"objectHash": "o1", "featureHash": "objVehicle", "reviews": [{"x": 1}]},
                    {"objectHash": "o2", "featureHash": "objPerson"}
                ],
                "classifications": [{"classificationHash": "c1", "featureHash": "clsQuality"}]
            }}},
            "object_answers": {"o1": {"objectHash": "o1", "classifications": []}, "o2": {"objectHash": "o2"}},
            "object_actions": {},
            "classification_answers": {"c1": {"classificationHash": "c1", "reviews": []}}
        })
        .to_string();
        let vehicles = ["objVehicle".to_string()];
        let link = |key: &str, seq: u64, _: Option<&str>| Some(format!("signed:{key}:{seq}"));
        let shaped = RowShape {
            objects: Some(&vehicles),
            classifications: Some(&[]),
            reviews: false,
            link: Some(&link),
        }
        .apply(text.clone())
        .unwrap();
        let v: Value = serde_json::from_str(&shaped).unwrap();
        let unit = &v["data_units"]["u"];
        assert_eq!(unit["data_link"], "signed:u:0");
        assert_eq!(unit["labels"]["objects"].as_array().unwrap().len(), 1);
        assert_eq!(unit["labels"]["objects"][0]["featureHash"], "objVehicle");
        assert!(unit["labels"]["objects"][0].get("reviews").is_none());
        assert_eq!(unit["labels"]["classifications"], json!([]));
        assert_eq!(v["object_answers"].as_object().unwrap().len(), 1);
        assert_eq!(v["classification_answers"], json!({}));
        // With reviews and no filter, a row keeps its text.
        let same = RowShape {
            reviews: true,
            ..RowShape::default()
        }
        .apply(text.clone())
        .unwrap();
        assert_eq!(same, text);
    }

    #[test]
    fn only_a_json_object_is_a_row() {
        for bad in ["[1,2]", "\"row\"", "{\"a\":}", "{\"a\":1", "null"] {
            assert!(RowFields::parse(bad).is_err(), "{bad} was taken for a row");
        }
        let escaped = RowFields::parse(r#"{"a\"b":1}"#).unwrap();
        assert_eq!(escaped.to_text(), r#"{"a\"b":1}"#);
    }
}
