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
    // Quality's "Bad" asks "Why": the answer is an object, one per option.
    let quality = &s["properties"]["Quality"]["anyOf"];
    assert_eq!(quality[0]["properties"]["choice"]["enum"], json!(["Good"]));
    assert_eq!(quality[0]["required"], json!(["choice"]));
    assert_eq!(quality[1]["properties"]["choice"]["enum"], json!(["Bad"]));
    assert_eq!(quality[1]["properties"]["Why"]["type"], "string");
    assert_eq!(quality[1]["required"], json!(["choice", "Why"]));
    assert_eq!(quality[1]["additionalProperties"], false);
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
            r#"{"Quality": {"choice": "Bad", "Why": "motion blur"},
                "Tags": ["Rain", "Night", "Rain"], "Caption": "a wet street"}"#,
            [0, 0],
        )
        .unwrap();
    row.validate().unwrap();
    let again = LabelRow::parse(&row.to_json(), ontology.clone()).unwrap();
    let answer = |name: &str| again.classification(name).unwrap().answer().cloned();
    assert_eq!(answer("Quality"), Some(Answer::Radio("Bad".into())));
    assert_eq!(
        again.classification("Quality").unwrap().answers,
        vec![
            ("Quality".into(), Answer::Radio("Bad".into())),
            ("Why".into(), Answer::Text("motion blur".into())),
        ]
    );
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

#[test]
fn a_nested_answer_must_fit_the_option_chosen() {
    let ontology = Arc::new(Ontology::parse(ONTOLOGY).unwrap());
    let schema = ClassificationSchema::new(&ontology, &["Quality"]).unwrap();
    for (answer, says) in [
        (r#"{"Quality": "Bad"}"#, "is not an object with `choice`"),
        (
            r#"{"Quality": {"Why": "dark"}}"#,
            "null is not one of Good, Bad",
        ),
        (
            r#"{"Quality": {"choice": "Bad"}}"#,
            "lacks `Why` of `Quality`: `Bad`",
        ),
        (
            r#"{"Quality": {"choice": "Good", "Why": "sharp"}}"#,
            "has `Why`, not in the schema of `Quality`: `Good`",
        ),
        (
            r#"{"Quality": {"choice": "Bad", "Why": 3}}"#,
            "`Why`: 3 is not a string",
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
    let mut row = clean_row(&ontology);
    schema
        .apply(&mut row, r#"{"Quality": {"choice": "Good"}}"#, [0, 0])
        .unwrap();
    row.validate().unwrap();
    assert_eq!(
        row.classification("Quality").unwrap().answers,
        vec![("Quality".into(), Answer::Radio("Good".into()))]
    );
}

#[test]
fn object_types_become_a_choice_and_the_answer_an_object_with_its_attributes() {
    use encord_labels::{BoundingBox, ObjectSchema, Shape};
    let ontology = Arc::new(Ontology::parse(DEMO_ONTOLOGY).unwrap());
    let schema = ObjectSchema::new(&ontology, &["Person", "Vehicle"]).unwrap();
    let s = schema.json_schema();
    let person = &s["anyOf"][0];
    assert_eq!(person["properties"]["object"]["const"], "Person");
    assert_eq!(person["required"], json!(["object", "Pose"]));
    assert_eq!(
        person["properties"]["Pose"]["enum"],
        json!(["Standing", "Sitting"])
    );
    assert_eq!(s["anyOf"][1]["required"], json!(["object"]));

    let choice = schema
        .choose(r#"{"object": "Person", "Pose": "Sitting"}"#)
        .unwrap();
    assert_eq!(choice.name, "Person");
    let mut row = clean_row(&ontology);
    let b = BoundingBox {
        x: 0.1,
        y: 0.2,
        w: 0.3,
        h: 0.4,
    };
    choice.add_to(&mut row, 0, Shape::BoundingBox(b)).unwrap();
    row.validate().unwrap();
    let people = row.objects_named("Person");
    assert_eq!(people.len(), 1);
    assert_eq!(
        people[0].answers,
        vec![("Pose".to_string(), Answer::Radio("Sitting".into()))]
    );

    for (answer, says) in [
        (r#"{"object": "Dog"}"#, "not one of Person, Vehicle"),
        (r#"{"object": "Person"}"#, "lacks `Pose` of `Person`"),
        (
            r#"{"object": "Person", "Pose": "Lying"}"#,
            "is not one of Standing, Sitting",
        ),
        (
            r#"{"object": "Vehicle", "Pose": "Sitting"}"#,
            "`Pose`, not in the schema of `Vehicle`",
        ),
    ] {
        let e = schema.choose(answer).unwrap_err().to_string();
        assert!(e.contains(says), "{answer}: {e}");
    }
    assert!(ObjectSchema::new(&ontology, &["Dragon"]).is_err());
}
