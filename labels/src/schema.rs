//! The ontology as a JSON schema for a model's structured output, and the
//! model's answer back into labels: encord-agents' `OntologyDataModel` (the
//! same shapes as the Python and JavaScript SDKs').
//!
//! [`ClassificationSchema`]: each classification is one property named
//! after its question. [`ObjectSchema`]: a choice among object types
//! (`object`, its name) with each one's attributes. A radio question's
//! answer is one of its option labels, a checklist's a list of them, a text
//! question's a string, a numeric one's a number. A radio question whose
//! options have nested questions is answered with an object instead:
//! `choice`, the option's label, and the nested questions of that option
//! (each option one of the schema's `anyOf`), as encord-agents' nested radio
//! models are.

use serde_json::{json, Map, Value};

use crate::ontology::{Attribute, AttributeType, Ontology};
use crate::{Answer, LabelError, LabelRow, Shape};

/// One question: its name, type and option labels.
#[derive(Debug, Clone)]
struct Question {
    name: String,
    kind: AttributeType,
    labels: Vec<String>,
    /// Per option (in `labels`' order), the questions nested under it; all
    /// empty for a flat question.
    nested: Vec<Vec<Question>>,
}

impl Question {
    fn of(a: &Attribute) -> Question {
        Question {
            name: a.name.clone(),
            kind: a.kind,
            labels: a.options.iter().map(|o| o.label.clone()).collect(),
            nested: a
                .options
                .iter()
                .map(|o| o.options.iter().map(Question::of).collect())
                .collect(),
        }
    }

    /// A radio question with nested questions under any of its options.
    fn is_nested(&self) -> bool {
        self.kind == AttributeType::Radio && self.nested.iter().any(|n| !n.is_empty())
    }

    fn schema(&self) -> Value {
        let (name, labels) = (&self.name, &self.labels);
        if self.is_nested() {
            let choices: Vec<Value> = labels
                .iter()
                .zip(&self.nested)
                .map(|(label, nested)| {
                    let mut properties = Map::new();
                    properties.insert("choice".into(), json!({"type": "string", "enum": [label]}));
                    for q in nested {
                        properties.insert(q.name.clone(), q.schema());
                    }
                    object_schema(properties)
                })
                .collect();
            return json!({"anyOf": choices, "description": format!(
                "{name}: one of {} as `choice`, with the questions of the option chosen",
                labels.join(", "))});
        }
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

    /// The answers `v` gives this question, checked: its own first, then
    /// those to the nested questions of the option chosen.
    fn answers(&self, v: &Value) -> Result<Vec<(String, Answer)>, LabelError> {
        if !self.is_nested() {
            return Ok(vec![(self.name.clone(), self.answer(v)?)]);
        }
        let name = &self.name;
        let object = v.as_object().ok_or_else(|| {
            LabelError::Invalid(format!(
                "`{name}`: {v} is not an object with `choice` and the questions of that option"
            ))
        })?;
        let choice = object.get("choice").unwrap_or(&Value::Null);
        let Answer::Radio(label) = self.answer(choice)? else {
            unreachable!("a radio question answers with a radio answer")
        };
        let index = self.labels.iter().position(|l| *l == label).unwrap_or(0);
        let mut out = vec![(name.clone(), Answer::Radio(label.clone()))];
        out.extend(answers(
            &self.nested[index],
            object,
            "choice",
            &format!(" of `{name}`: `{label}`"),
        )?);
        Ok(out)
    }

    /// The answer `v` gives this question itself, checked.
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

/// The answers `object` gives `questions` (nested ones flattened after
/// their question's), all of them and nothing else (`ignore` aside).
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
            q.answers(v)
        })
        .collect::<Result<Vec<_>, _>>()
        .map(|groups| groups.into_iter().flatten().collect())
}

/// An object schema with every one of `properties` required and no others.
fn object_schema(properties: Map<String, Value>) -> Value {
    let required: Vec<&String> = properties.keys().collect();
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

fn schema_of(title: &str, properties: Map<String, Value>) -> Value {
    let mut s = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
    });
    if let (Some(m), Value::Object(o)) = (s.as_object_mut(), object_schema(properties)) {
        m.extend(o);
    }
    s
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
        answers(&self.questions, &object, "", "")?;
        for q in &self.questions {
            let mut given = q.answers(&object[&q.name])?.into_iter();
            let Some((name, top)) = given.next() else {
                continue;
            };
            let hash = row.add_classification(&name, top, frames)?;
            for (nested, answer) in given {
                row.set_classification_answer(&hash, &nested, answer)?;
            }
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
