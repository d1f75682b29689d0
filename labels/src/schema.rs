//! The ontology as a JSON schema for a model's structured output, and the
//! model's answer back into labels: encord-agents' `OntologyDataModel` for
//! classifications (the same shape as the Python and JavaScript SDKs').
//!
//! Each classification is one property named after its question: a radio
//! question's answer is one of its option labels, a checklist's a list of
//! them, a text question's a string, a numeric one's a number. Nested
//! questions under radio options are not in the schema.

use serde_json::{json, Map, Value};

use crate::ontology::{AttributeType, Ontology};
use crate::{Answer, LabelError, LabelRow};

/// Some of an ontology's classifications, as a schema and back.
#[derive(Debug, Clone)]
pub struct ClassificationSchema {
    /// (question name, type, option labels), in the order given.
    questions: Vec<(String, AttributeType, Vec<String>)>,
}

impl ClassificationSchema {
    /// The classifications named (by their question), as the ontology has them.
    pub fn new(ontology: &Ontology, names: &[&str]) -> Result<ClassificationSchema, LabelError> {
        let questions = names
            .iter()
            .map(|n| {
                let c = ontology.classification(n)?;
                let q = c.attributes.first().ok_or_else(|| {
                    LabelError::Invalid(format!("classification `{n}` has no question"))
                })?;
                Ok((
                    q.name.clone(),
                    q.kind,
                    q.options.iter().map(|o| o.label.clone()).collect(),
                ))
            })
            .collect::<Result<_, LabelError>>()?;
        Ok(ClassificationSchema { questions })
    }

    /// A JSON Schema (draft 2020-12) object: one required property per
    /// classification, no others.
    pub fn json_schema(&self) -> Value {
        let mut properties = Map::new();
        for (name, kind, labels) in &self.questions {
            let p = match kind {
                AttributeType::Radio => json!({"type": "string", "enum": labels,
                    "description": format!("{name}: one of {}", labels.join(", "))}),
                AttributeType::Checklist => json!({"type": "array",
                    "items": {"type": "string", "enum": labels}, "uniqueItems": true,
                    "description": format!("{name}: any of {}", labels.join(", "))}),
                AttributeType::Text => json!({"type": "string", "description": name}),
                AttributeType::Numeric => json!({"type": "number", "description": name}),
            };
            properties.insert(name.clone(), p);
        }
        let required: Vec<&String> = self.questions.iter().map(|(n, _, _)| n).collect();
        json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "Labels",
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": false,
        })
    }

    /// Checks `answer` (the model's JSON text) against the schema and adds
    /// its classifications to `row` on `frames`. Nothing is added unless
    /// the whole answer fits.
    pub fn apply(
        &self,
        row: &mut LabelRow,
        answer: &str,
        frames: [u32; 2],
    ) -> Result<(), LabelError> {
        let value: Value = serde_json::from_str(answer)
            .map_err(|e| LabelError::Invalid(format!("the model's answer is not JSON: {e}")))?;
        let object = value.as_object().ok_or_else(|| {
            LabelError::Invalid(format!("the model's answer is not a JSON object: {value}"))
        })?;
        let names: Vec<&str> = self.questions.iter().map(|(n, _, _)| n.as_str()).collect();
        if let Some(extra) = object.keys().find(|k| !names.contains(&k.as_str())) {
            return Err(LabelError::Invalid(format!(
                "the model's answer has `{extra}`, not in the schema ({})",
                names.join(", ")
            )));
        }
        let mut answers = Vec::new();
        for (name, kind, labels) in &self.questions {
            let v = object
                .get(name)
                .ok_or_else(|| LabelError::Invalid(format!("the model's answer lacks `{name}`")))?;
            let option = |s: &Value| -> Result<String, LabelError> {
                s.as_str()
                    .filter(|s| labels.iter().any(|l| l == s))
                    .map(str::to_string)
                    .ok_or_else(|| {
                        LabelError::Invalid(format!(
                            "`{name}`: {s} is not one of {}",
                            labels.join(", ")
                        ))
                    })
            };
            let answer = match kind {
                AttributeType::Radio => Answer::Radio(option(v)?),
                AttributeType::Checklist => {
                    let list = v.as_array().ok_or_else(|| {
                        LabelError::Invalid(format!(
                            "`{name}`: {v} is not a list of {}",
                            labels.join(", ")
                        ))
                    })?;
                    let mut chosen: Vec<String> = Vec::new();
                    for s in list {
                        let o = option(s)?;
                        if !chosen.contains(&o) {
                            chosen.push(o);
                        }
                    }
                    Answer::Checklist(chosen)
                }
                AttributeType::Text => Answer::Text(
                    v.as_str()
                        .ok_or_else(|| {
                            LabelError::Invalid(format!("`{name}`: {v} is not a string"))
                        })?
                        .to_string(),
                ),
                AttributeType::Numeric => Answer::Numeric(v.as_f64().ok_or_else(|| {
                    LabelError::Invalid(format!("`{name}`: {v} is not a number"))
                })?),
            };
            answers.push((name, answer));
        }
        for (name, answer) in answers {
            row.add_classification(name, answer, frames)?;
        }
        Ok(())
    }
}
