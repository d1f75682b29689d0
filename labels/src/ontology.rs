//! Encord ontology structure JSON (`objects`, `classifications`), typed and
//! lossless: unknown keys are kept in `extra` and written back unchanged.

use serde::{Deserialize, Serialize};

use crate::lossless::lossless_struct;
use crate::LabelError;

lossless_struct! {
    /// An ontology: what objects and classifications a label row may hold.
    #[derive(Debug, Clone, Default, PartialEq)]
    pub struct Ontology {
        pub objects: Vec<OntologyObject> = "objects" default,
        pub classifications: Vec<OntologyClassification> = "classifications" default,
    }
}

lossless_struct! {
    /// An object type (e.g. "Car", a bounding box).
    #[derive(Debug, Clone, PartialEq)]
    pub struct OntologyObject {
        pub id: String = "id" required,
        pub name: String = "name" required,
        pub color: String = "color" default,
        /// `bounding_box`, `polygon`, `point`, `polyline`, `rotatable_bounding_box`, `bitmask`, ...
        pub shape: String = "shape" required,
        pub feature_node_hash: String = "featureNodeHash" required,
        /// Whether every labelled frame must have one (absent: not said).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub required: Option<bool> = "required" default,
        /// Archived in the ontology: kept for old labels (absent: not said).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub archived: Option<bool> = "archived" default,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub attributes: Vec<Attribute> = "attributes" default,
    }
}

lossless_struct! {
    /// A classification: one top-level attribute (e.g. "Quality": Good / Bad).
    #[derive(Debug, Clone, PartialEq)]
    pub struct OntologyClassification {
        pub id: String = "id" required,
        pub feature_node_hash: String = "featureNodeHash" required,
        /// Archived in the ontology (absent: not said).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub archived: Option<bool> = "archived" default,
        pub attributes: Vec<Attribute> = "attributes" default,
    }
}

/// The kinds of attribute Encord supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttributeType {
    Radio,
    Checklist,
    Text,
    Numeric,
}

lossless_struct! {
    /// An attribute of an object or classification.
    #[derive(Debug, Clone, PartialEq)]
    pub struct Attribute {
        pub id: String = "id" required,
        pub name: String = "name" required,
        pub kind: AttributeType = "type" required,
        pub feature_node_hash: String = "featureNodeHash" required,
        pub required: bool = "required" default,
        /// Answered per frame (video) rather than once (absent: not said).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub dynamic: Option<bool> = "dynamic" default,
        /// Archived in the ontology (absent: not said).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub archived: Option<bool> = "archived" default,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub options: Vec<AttributeOption> = "options" default,
    }
}

lossless_struct! {
    /// An option of a radio or checklist attribute. Radio options may nest
    /// further attributes.
    #[derive(Debug, Clone, PartialEq)]
    pub struct AttributeOption {
        pub id: String = "id" required,
        pub label: String = "label" required,
        pub value: String = "value" required,
        pub feature_node_hash: String = "featureNodeHash" required,
        /// Archived in the ontology (absent: not said).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub archived: Option<bool> = "archived" default,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub options: Vec<Attribute> = "options" default,
    }
}

impl Ontology {
    /// Parses Encord's ontology structure JSON.
    pub fn parse(json: &str) -> Result<Ontology, LabelError> {
        serde_json::from_str(json).map_err(|e| LabelError::Json {
            what: "ontology",
            message: e.to_string(),
        })
    }

    /// The object type with this name (case-sensitive).
    pub fn object(&self, name: &str) -> Result<&OntologyObject, LabelError> {
        self.objects
            .iter()
            .find(|o| o.name == name)
            .ok_or_else(|| LabelError::NotInOntology {
                kind: "object",
                name: name.to_string(),
                valid: self.objects.iter().map(|o| o.name.clone()).collect(),
            })
    }

    /// The object type with this feature hash.
    pub fn object_by_hash(&self, feature_hash: &str) -> Option<&OntologyObject> {
        self.objects
            .iter()
            .find(|o| o.feature_node_hash == feature_hash)
    }

    /// The classification whose top-level attribute has this name.
    pub fn classification(&self, name: &str) -> Result<&OntologyClassification, LabelError> {
        self.classifications
            .iter()
            .find(|c| c.attributes.first().is_some_and(|a| a.name == name))
            .ok_or_else(|| LabelError::NotInOntology {
                kind: "classification",
                name: name.to_string(),
                valid: self
                    .classifications
                    .iter()
                    .filter_map(|c| c.attributes.first().map(|a| a.name.clone()))
                    .collect(),
            })
    }

    /// The classification with this feature hash.
    pub fn classification_by_hash(&self, feature_hash: &str) -> Option<&OntologyClassification> {
        self.classifications
            .iter()
            .find(|c| c.feature_node_hash == feature_hash)
    }
}

impl OntologyClassification {
    /// The classification's name: that of its top-level attribute.
    pub fn name(&self) -> &str {
        self.attributes.first().map_or("", |a| a.name.as_str())
    }
}

/// Finds an attribute by name among `attributes` and the attributes nested in
/// their radio options.
pub fn find_attribute<'a>(attributes: &'a [Attribute], name: &str) -> Option<&'a Attribute> {
    attributes.iter().find_map(|a| {
        if a.name == name {
            return Some(a);
        }
        a.options
            .iter()
            .find_map(|o| find_attribute(&o.options, name))
    })
}

/// Finds an attribute by feature hash, nested ones included.
pub fn find_attribute_by_hash<'a>(
    attributes: &'a [Attribute],
    hash: &str,
) -> Option<&'a Attribute> {
    attributes.iter().find_map(|a| {
        if a.feature_node_hash == hash {
            return Some(a);
        }
        a.options
            .iter()
            .find_map(|o| find_attribute_by_hash(&o.options, hash))
    })
}

impl Attribute {
    /// The option with this label (or value).
    pub fn option(&self, label: &str) -> Result<&AttributeOption, LabelError> {
        self.options
            .iter()
            .find(|o| o.label == label || o.value == label)
            .ok_or_else(|| LabelError::NotInOntology {
                kind: "option",
                name: format!("{label}` of attribute `{}", self.name),
                valid: self.options.iter().map(|o| o.label.clone()).collect(),
            })
    }
}
