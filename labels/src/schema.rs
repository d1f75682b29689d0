//! The ontology as a JSON schema for a model's structured output, and the
//! model's answer back into labels: encord-agents' `OntologyDataModel` (the
//! same shapes as the Python and JavaScript SDKs').
//!
//! [`ClassificationSchema`]: each classification is one property named
//! after its question. [`ObjectSchema`]: a choice among object types
//! (`object`, its name) with each one's attributes. A radio question's
//! answer is one of its option labels, a checklist's a list of them, a text
//! question's a string, a numeric one's a number. Nested questions under
//! radio options are not in the schemas.

use serde_json::{json, Map, Value};

use crate::ontology::{Attribute, AttributeType, Ontology};
use crate::{Answer, LabelError, LabelRow, Shape};

/// One question: its name, type and option labels.
#[derive(Debug, Clone)]
struct Question {
    name: String,
    kind: AttributeType,
    labels: Vec<String>,
}

impl Question {
    fn of(a: &Attribute) -> Question {
        Question {
            name: a.name.clone(),
            kind: a.kind,
            labels: a.options.iter().map(|o| o.label.clone()).collect(),
        }
    }

    fn schema(&self) -> Value {
        let (name, labels) = (&self.name, &self.labels);
        match self.kind {
            AttributeType::Radio => json!({"type": "string", "enum": labels,
                "description": format!("{name}: one of {}", labels.join(", "))}),
            AttributeType::Checklist => json!({"type": "array",
                "items": {"type": "string", "enum": labels}, "uniqueItems": true,
                "description": format!("{name}: any of {}", labels.join(", "))}),
            AttributeType::Text => json!({"type": "string", "description": name}),
            AttributeType::Numeric => json!({"type": "number", "description": name}),
        }
    }

    /// The answer `v` gives this question, checked.
    fn answer(&self, v: &Value) -> Result<Answer, LabelError> {
        let (name, labels) = (&self.name, &self.labels);
        let invalid = |what: &str| LabelError::Invalid(format!("`{name}`: {v} is not {what}"));
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
        Ok(match self.kind {
            AttributeType::Radio => Answer::Radio(option(v)?),
            AttributeType::Checklist => {
                let list = v
                    .as_array()
                    .ok_or_else(|| invalid(&format!("a list of {}", labels.join(", "))))?;
                let mut chosen: Vec<String> = Vec::new();
                for s in list {
                    let o = option(s)?;
                    if !chosen.contains(&o) {
                        chosen.push(o);
                    }
                }
                Answer::Checklist(chosen)
            }
            AttributeType::Text => {
                Answer::Text(v.as_str().ok_or_else(|| invalid("a string"))?.to_string())
            }
            AttributeType::Numeric => {
                Answer::Numeric(v.as_f64().ok_or_else(|| invalid("a number"))?)
            }
        })
    }
}

fn parse_object(answer: &str) -> Result<Map<String, Value>, LabelError> {
    let value: Value = serde_json::from_str(answer)
        .map_err(|e| LabelError::Invalid(format!("the model's answer is not JSON: {e}")))?;
    match value {
        Value::Object(m) => Ok(m),
        other => Err(LabelError::Invalid(format!(
            "the model's answer is not a JSON object: {other}"
        ))),
    }
}

/// The answers `object` gives `questions`, all of them and nothing else
/// (`ignore` aside).
fn answers(
    questions: &[Question],
    object: &Map<String, Value>,
    ignore: &str,
    of: &str,
) -> Result<Vec<(String, Answer)>, LabelError> {
    if let Some(extra) = object
        .keys()
        .find(|k| *k != ignore && !questions.iter().any(|q| q.name == **k))
    {
        return Err(LabelError::Invalid(format!(
            "the model's answer has `{extra}`, not in the schema{of}"
        )));
    }
    questions
        .iter()
        .map(|q| {
            let v = object.get(&q.name).ok_or_else(|| {
                LabelError::Invalid(format!("the model's answer lacks `{}`{of}", q.name))
            })?;
            Ok((q.name.clone(), q.answer(v)?))
        })
        .collect()
}

fn schema_of(title: &str, properties: Map<String, Value>) -> Value {
    let required: Vec<&String> = properties.keys().collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

/// Some of an ontology's classifications, as a schema and back.
#[derive(Debug, Clone)]
pub struct ClassificationSchema {
    questions: Vec<Question>,
}

impl ClassificationSchema {
    /// The classifications named (by their question), as the ontology has them.
    pub fn new(ontology: &Ontology, names: &[&str]) -> Result<ClassificationSchema, LabelError> {
        let questions = names
            .iter()
            .map(|n| {
                let c = ontology.classification(n)?;
                c.attributes.first().map(Question::of).ok_or_else(|| {
                    LabelError::Invalid(format!("classification `{n}` has no question"))
                })
            })
            .collect::<Result<_, LabelError>>()?;
        Ok(ClassificationSchema { questions })
    }

    /// A JSON Schema (draft 2020-12) object: one required property per
    /// classification, no others.
    pub fn json_schema(&self) -> Value {
        let properties = self
            .questions
            .iter()
            .map(|q| (q.name.clone(), q.schema()))
            .collect();
        schema_of("Labels", properties)
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
        let object = parse_object(answer)?;
        for (name, answer) in answers(&self.questions, &object, "", "")? {
            row.add_classification(&name, answer, frames)?;
        }
        Ok(())
    }
}

/// A choice among some of an ontology's object types, with each one's
/// attributes, as a schema and back.
#[derive(Debug, Clone)]
pub struct ObjectSchema {
    objects: Vec<(String, Vec<Question>)>,
}

/// The object type a model chose and its attributes' answers.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectChoice {
    pub name: String,
    pub answers: Vec<(String, Answer)>,
}

impl ObjectChoice {
    /// Adds the chosen object to `row` on `frame` with `shape`, its
    /// attributes answered; returns its object hash.
    pub fn add_to(
        &self,
        row: &mut LabelRow,
        frame: u32,
        shape: Shape,
    ) -> Result<String, LabelError> {
        let hash = row.add_object(&self.name, frame, shape)?;
        for (attribute, answer) in &self.answers {
            row.set_object_answer(&hash, attribute, answer.clone())?;
        }
        Ok(hash)
    }
}

impl ObjectSchema {
    /// The object types named, as the ontology has them.
    pub fn new(ontology: &Ontology, names: &[&str]) -> Result<ObjectSchema, LabelError> {
        let objects = names
            .iter()
            .map(|n| {
                let o = ontology.object(n)?;
                Ok((
                    o.name.clone(),
                    o.attributes.iter().map(Question::of).collect(),
                ))
            })
            .collect::<Result<_, LabelError>>()?;
        Ok(ObjectSchema { objects })
    }

    /// A JSON Schema: any one of the object types (`object`: its name) with
    /// its attributes, all required.
    pub fn json_schema(&self) -> Value {
        let choices: Vec<Value> = self
            .objects
            .iter()
            .map(|(name, questions)| {
                let mut properties = Map::new();
                properties.insert("object".into(), json!({"type": "string", "const": name}));
                for q in questions {
                    properties.insert(q.name.clone(), q.schema());
                }
                let mut s = schema_of(name, properties);
                s.as_object_mut().map(|m| m.remove("$schema"));
                s
            })
            .collect();
        json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "Object",
            "anyOf": choices,
        })
    }

    /// The object type `answer` chose and its attributes' answers, checked.
    pub fn choose(&self, answer: &str) -> Result<ObjectChoice, LabelError> {
        let object = parse_object(answer)?;
        let chosen = object
            .get("object")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let (name, questions) =
            self.objects
                .iter()
                .find(|(n, _)| n == chosen)
                .ok_or_else(|| {
                    let names: Vec<&str> = self.objects.iter().map(|(n, _)| n.as_str()).collect();
                    LabelError::Invalid(format!(
                        "the model's answer names object {:?}, not one of {}",
                        object.get("object").cloned().unwrap_or(Value::Null),
                        names.join(", ")
                    ))
                })?;
        Ok(ObjectChoice {
            name: name.clone(),
            answers: answers(questions, &object, "object", &format!(" of `{name}`"))?,
        })
    }
}
