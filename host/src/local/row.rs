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
    fn only_a_json_object_is_a_row() {
        for bad in ["[1,2]", "\"row\"", "{\"a\":}", "{\"a\":1", "null"] {
            assert!(RowFields::parse(bad).is_err(), "{bad} was taken for a row");
        }
        let escaped = RowFields::parse(r#"{"a\"b":1}"#).unwrap();
        assert_eq!(escaped.to_text(), r#"{"a\"b":1}"#);
    }
}
