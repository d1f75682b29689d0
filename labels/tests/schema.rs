//! The ontology as a JSON schema and a model's answer back into labels,
//! against the spec's ontology vector and the demo's ontology.

use std::sync::Arc;

use encord_labels::{Answer, ClassificationSchema, LabelRow, Ontology};
use serde_json::json;

const IMAGE: &str = include_str!("vectors/image_label.json");
const ONTOLOGY: &str = include_str!("vectors/ontology.json");
const DEMO_ONTOLOGY: &str = include_str!("../../examples/demo-ontology.json");

fn clean_row(ontology: &Arc<Ontology>) -> LabelRow {
    let mut row = LabelRow::parse(IMAGE, ontology.clone()).unwrap();
    for o in row.objects() {
        row.remove_object(&o.object_hash);
    }
    for c in row.classifications() {
        row.remove_classification(&c.classification_hash);
    }
    row
}

#[test]
fn the_spec_ontology_becomes_a_schema_and_an_answer_becomes_its_labels() {
    let ontology = Arc::new(Ontology::parse(ONTOLOGY).unwrap());
    let schema = ClassificationSchema::new(&ontology, &["Quality", "Tags", "Caption"]).unwrap();
    let s = schema.json_schema();
    assert_eq!(s["type"], "object");
    assert_eq!(s["additionalProperties"], false);
    assert_eq!(s["required"], json!(["Quality", "Tags", "Caption"]));
    assert_eq!(s["properties"]["Quality"]["enum"], json!(["Good", "Bad"]));
    assert_eq!(s["properties"]["Tags"]["type"], "array");
    assert_eq!(
        s["properties"]["Tags"]["items"]["enum"],
        json!(["Night", "Rain"])
    );
    assert_eq!(s["properties"]["Caption"]["type"], "string");

    let mut row = clean_row(&ontology);
    schema
        .apply(
            &mut row,
            r#"{"Quality": "Bad", "Tags": ["Rain", "Night", "Rain"], "Caption": "a wet street"}"#,
            [0, 0],
        )
        .unwrap();
    row.validate().unwrap();
    let again = LabelRow::parse(&row.to_json(), ontology.clone()).unwrap();
    let answer = |name: &str| again.classification(name).unwrap().answer().cloned();
    assert_eq!(answer("Quality"), Some(Answer::Radio("Bad".into())));
    assert_eq!(
        answer("Tags"),
        Some(Answer::Checklist(vec!["Rain".into(), "Night".into()]))
    );
    assert_eq!(answer("Caption"), Some(Answer::Text("a wet street".into())));
}

#[test]
fn an_answer_that_does_not_fit_is_refused_and_writes_nothing() {
    let ontology = Arc::new(Ontology::parse(DEMO_ONTOLOGY).unwrap());
    let schema = ClassificationSchema::new(&ontology, &["Quality", "Scene"]).unwrap();
    assert_eq!(
        schema.json_schema()["properties"]["Scene"]["items"]["enum"],
        json!(["Indoor", "Outdoor", "Night"])
    );
    for (answer, says) in [
        ("Sure! It is good.", "not JSON"),
        (r#"["Good"]"#, "not a JSON object"),
        (r#"{"Quality": "Good"}"#, "lacks `Scene`"),
        (
            r#"{"Quality": "Meh", "Scene": []}"#,
            "is not one of Good, Blurry",
        ),
        (
            r#"{"Quality": "Good", "Scene": "Outdoor"}"#,
            "is not a list",
        ),
        (
            r#"{"Quality": "Good", "Scene": [], "Mood": "calm"}"#,
            "`Mood`, not in the schema",
        ),
    ] {
        let mut row = clean_row(&ontology);
        let e = schema
            .apply(&mut row, answer, [0, 0])
            .unwrap_err()
            .to_string();
        assert!(e.contains(says), "{answer}: {e}");
        assert!(
            row.classifications().is_empty(),
            "{answer}: nothing written"
        );
    }
    assert!(ClassificationSchema::new(&ontology, &["Mood"]).is_err());
}
