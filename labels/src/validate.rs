//! Checks a label row against its ontology before it is saved.

use std::collections::HashMap;

use serde_json::Value;

use crate::edit::answered_attribute;
use crate::ontology::{Attribute, AttributeType, Ontology};
use crate::row::{AttributeAnswer, RowData};
use crate::Shape;

/// Coordinates may overshoot [0, 1] by rounding noise, no more.
const TOLERANCE: f64 = 1e-6;

/// Every way `row` disagrees with `ontology`, one message each.
pub(crate) fn problems(row: &RowData, ontology: &Ontology) -> Vec<String> {
    let mut out = Vec::new();
    let mut object_features: HashMap<&str, &str> = HashMap::new();

    for unit in row.data_units.values() {
        let Some(labels) = &unit.labels else { continue };
        for (frame, fl) in labels.frames(unit.sequence()) {
            for o in &fl.objects {
                let at = format!("object `{}` on frame {frame}", o.object_hash);
                object_features.insert(&o.object_hash, &o.feature_hash);
                let Some(def) = ontology.object_by_hash(&o.feature_hash) else {
                    out.push(format!(
                        "{at}: feature hash `{}` is not an object of the ontology",
                        o.feature_hash
                    ));
                    continue;
                };
                if def.shape != o.shape {
                    out.push(format!(
                        "{at}: shape `{}` but ontology object `{}` is a {}",
                        o.shape, def.name, def.shape
                    ));
                    continue;
                }
                match Shape::from_keys(&o.shape, &o.extra) {
                    Some(shape) => {
                        if let Some(bad) = shape
                            .normalised_coordinates()
                            .into_iter()
                            .find(|c| !c.is_finite() || *c < -TOLERANCE || *c > 1.0 + TOLERANCE)
                        {
                            out.push(format!("{at}: coordinate {bad} is outside [0, 1]"));
                        }
                        if let Shape::Bitmask(m) = &shape {
                            if let (Some(w), Some(h)) = (unit.width(), unit.height()) {
                                if m.left + m.width > w || m.top + m.height > h {
                                    out.push(format!(
                                        "{at}: bitmask {}x{} at ({}, {}) exceeds the {w}x{h} image",
                                        m.width, m.height, m.left, m.top
                                    ));
                                }
                            }
                        }
                    }
                    None if is_modelled(&o.shape) => {
                        out.push(format!(
                            "{at}: missing or malformed geometry for a {}",
                            o.shape
                        ));
                    }
                    None => {}
                }
            }
        }
    }

    for (hash, answers) in &row.object_answers {
        let Some(feature) = object_features.get(hash.as_str()) else {
            continue;
        };
        let Some(def) = ontology.object_by_hash(feature) else {
            continue;
        };
        for a in &answers.classifications {
            check_answer(&format!("object `{hash}`"), &def.attributes, a, &mut out);
        }
    }

    for (hash, c) in &row.classification_answers {
        let at = format!("classification `{hash}`");
        let Some(def) = ontology.classification_by_hash(&c.feature_hash) else {
            out.push(format!(
                "{at}: feature hash `{}` is not a classification of the ontology",
                c.feature_hash
            ));
            continue;
        };
        if c.range.is_empty() {
            out.push(format!("{at}: has no frame range, so Encord would drop it"));
        }
        if let Some(r) = c.range.iter().find(|r| r[0] > r[1]) {
            out.push(format!(
                "{at}: frame range [{}, {}] is reversed",
                r[0], r[1]
            ));
        }
        for a in &c.classifications {
            check_answer(&at, &def.attributes, a, &mut out);
        }
    }
    out
}

fn is_modelled(shape: &str) -> bool {
    matches!(
        shape,
        "bounding_box" | "rotatable_bounding_box" | "polygon" | "polyline" | "point" | "bitmask"
    )
}

fn check_answer(at: &str, attributes: &[Attribute], a: &AttributeAnswer, out: &mut Vec<String>) {
    let Some(attr) = answered_attribute(attributes, a) else {
        out.push(format!(
            "{at}: attribute feature hash `{}` is not in the ontology",
            a.feature_hash
        ));
        return;
    };
    let ok = match attr.kind {
        AttributeType::Text => a.answers.is_string(),
        AttributeType::Numeric => a.answers.is_number(),
        AttributeType::Radio | AttributeType::Checklist => match &a.answers {
            Value::Array(items) => {
                if attr.kind == AttributeType::Radio && items.len() != 1 {
                    out.push(format!(
                        "{at}: radio attribute `{}` needs exactly one answer",
                        attr.name
                    ));
                }
                for item in items {
                    let hash = item
                        .get("featureHash")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    if !attr.options.iter().any(|o| o.feature_node_hash == hash) {
                        out.push(format!(
                            "{at}: `{hash}` is not an option of attribute `{}`",
                            attr.name
                        ));
                    }
                }
                true
            }
            _ => false,
        },
    };
    if !ok {
        out.push(format!(
            "{at}: the answer to `{}` is not a {:?} answer",
            attr.name, attr.kind
        ));
    }
}
