//! Encord label rows and ontologies.
//!
//! [`LabelRow`] is a typed, ontology-aware view over Encord's own label-row
//! JSON: objects and classifications are read and created by their ontology
//! names, and everything the model does not touch is written back exactly as
//! it was read. The same crate validates a row against its ontology, which
//! the host does before it saves anything a guest returned.

mod edit;
mod geometry;
mod lossless;
mod ontology;
pub mod outcome;
mod row;
mod schema;
mod validate;

use std::sync::Arc;

pub use edit::{Answer, ClassificationInstance, ObjectInstance};
pub use geometry::{Bitmask, BoundingBox, Point, RotatableBoundingBox, Shape};
pub use ontology::{
    find_attribute, find_attribute_by_hash, Attribute, AttributeOption, AttributeType, Ontology,
    OntologyClassification, OntologyObject,
};
pub use row::{
    AttributeAnswer, ClassificationAnswer, DataUnit, FrameLabels, FrameObject, Labels,
    ObjectAnswer, RowData,
};
pub use schema::{ClassificationSchema, ObjectChoice, ObjectSchema};

/// What can go wrong reading or editing labels.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LabelError {
    #[error("{what} is not valid Encord JSON: {message}")]
    Json { what: &'static str, message: String },
    #[error("no {kind} `{name}` in the ontology; valid ones are: {}", valid.join(", "))]
    NotInOntology {
        kind: &'static str,
        name: String,
        valid: Vec<String>,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("label row does not match the ontology: {}", .0.join("; "))]
    Mismatch(Vec<String>),
}

/// A label row together with the ontology it is labelled against.
#[derive(Debug, Clone)]
pub struct LabelRow {
    data: RowData,
    ontology: Arc<Ontology>,
}

impl LabelRow {
    /// Parses Encord label-row JSON. Parsing is lenient: use
    /// [`LabelRow::validate`] to check the row against its ontology.
    pub fn parse(json: &str, ontology: Arc<Ontology>) -> Result<LabelRow, LabelError> {
        let data = serde_json::from_str(json).map_err(|e| LabelError::Json {
            what: "label row",
            message: e.to_string(),
        })?;
        Ok(LabelRow { data, ontology })
    }

    /// Wraps already-parsed row data.
    pub fn from_data(data: RowData, ontology: Arc<Ontology>) -> LabelRow {
        LabelRow { data, ontology }
    }

    /// The row as Encord label-row JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.data).expect("label rows always serialise")
    }

    /// The raw row, for keys this model does not cover.
    pub fn data(&self) -> &RowData {
        &self.data
    }

    /// The raw row, mutable.
    pub fn data_mut(&mut self) -> &mut RowData {
        &mut self.data
    }

    pub fn ontology(&self) -> &Ontology {
        &self.ontology
    }

    pub fn data_hash(&self) -> &str {
        &self.data.data_hash
    }

    pub fn data_title(&self) -> &str {
        &self.data.data_title
    }

    /// `image`, `video`, `img_group`, ...
    pub fn data_type(&self) -> &str {
        &self.data.data_type
    }

    /// A top-level string field such as `label_hash` or `branch_name`.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.data.extra.get(key).and_then(|v| v.as_str())
    }

    /// Checks every object, classification and answer against the ontology
    /// and every normalised coordinate against [0, 1].
    pub fn validate(&self) -> Result<(), LabelError> {
        let problems = validate::problems(&self.data, &self.ontology);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(LabelError::Mismatch(problems))
        }
    }
}
