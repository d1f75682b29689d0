//! The label-row model against Encord's own sample rows and ontology
//! (copied from the recorded SDK session in shared/specs/vectors).

use std::sync::Arc;

use encord_labels::{Answer, BoundingBox, LabelRow, Ontology, Point, Shape};
use serde_json::Value;

const IMAGE: &str = include_str!("vectors/image_label.json");
const VIDEO: &str = include_str!("vectors/video_label.json");
const ONTOLOGY: &str = include_str!("vectors/ontology.json");

/// JSON numbers compared by value (1 and 1.0 are the same number).
fn normalise(v: Value) -> Value {
    match v {
        Value::Number(n) => serde_json::json!(n.as_f64().unwrap()),
        Value::Array(a) => Value::Array(a.into_iter().map(normalise).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, normalise(v))).collect()),
        other => other,
    }
}

fn ontology() -> Arc<Ontology> {
    Arc::new(Ontology::parse(ONTOLOGY).unwrap())
}

fn assert_round_trip(json: &str) {
    let row = LabelRow::parse(json, Arc::new(Ontology::default())).unwrap();
    let back: Value = serde_json::from_str(&row.to_json()).unwrap();
    let original: Value = serde_json::from_str(json).unwrap();
    assert_eq!(normalise(back), normalise(original));
}

#[test]
fn image_row_round_trips_without_losing_fields() {
    assert_round_trip(IMAGE);
}

#[test]
fn video_row_round_trips_without_losing_fields() {
    assert_round_trip(VIDEO);
}

#[test]
fn ontology_round_trips_without_losing_fields() {
    let o = Ontology::parse(ONTOLOGY).unwrap();
    let back = serde_json::to_value(&o).unwrap();
    assert_eq!(
        normalise(back),
        normalise(serde_json::from_str(ONTOLOGY).unwrap())
    );
}

#[test]
fn ontology_flags_are_typed_and_written_back_only_where_given() {
    let json = r##"{"objects": [
        {"id": "1", "name": "Car", "color": "#fff", "shape": "bounding_box", "featureNodeHash": "a",
         "required": true, "archived": false, "attributes": [
            {"id": "1.1", "name": "Make", "type": "text", "featureNodeHash": "b", "dynamic": true}]},
        {"id": "2", "name": "Old", "shape": "point", "featureNodeHash": "c", "archived": true}],
      "classifications": [{"id": "1", "featureNodeHash": "d", "attributes": []}]}"##;
    let o = Ontology::parse(json).unwrap();
    let (car, old) = (&o.objects[0], &o.objects[1]);
    assert_eq!((car.required, car.archived), (Some(true), Some(false)));
    assert_eq!((old.required, old.archived), (None, Some(true)));
    assert_eq!(car.attributes[0].dynamic, Some(true));
    assert_eq!(car.attributes[0].archived, None);
    assert_eq!(o.classifications[0].archived, None);
    assert!(car.extra.is_empty() && car.attributes[0].extra.is_empty());
    let mut back = serde_json::to_value(&o).unwrap();
    // Attribute.required is written even where absent (false), as before.
    back["objects"][0]["attributes"][0]
        .as_object_mut()
        .unwrap()
        .remove("required");
    back["objects"][1].as_object_mut().unwrap().remove("color");
    assert_eq!(back, serde_json::from_str::<Value>(json).unwrap());
}

#[test]
fn image_row_exposes_every_shape_kind() {
    let row = LabelRow::parse(IMAGE, Arc::new(Ontology::default())).unwrap();
    let kinds: Vec<&str> = row.objects().iter().map(|o| o.frames[0].1.kind()).collect();
    assert_eq!(
        kinds,
        [
            "polygon",
            "point",
            "polyline",
            "rotatable_bounding_box",
            "bitmask"
        ]
    );
    let tags = row.classification("Tags").unwrap();
    assert_eq!(tags.ranges, vec![[0, 0]]);
    assert_eq!(
        tags.answer(),
        Some(&Answer::Checklist(vec!["Night".into(), "Rain".into()]))
    );
}

#[test]
fn video_row_reads_frames_and_answers() {
    let row = LabelRow::parse(VIDEO, ontology()).unwrap();
    let quality = row.classification("Quality").unwrap();
    assert_eq!(quality.ranges, vec![[0, 2], [5, 5]]);
    assert_eq!(
        quality.answers[1],
        ("Quality".to_string(), Answer::Radio("Bad".into()))
    );
    let objects = row.objects();
    assert!(!objects.is_empty());
    assert!(
        objects[0].frames.len() > 1,
        "a video object spans several frames"
    );
}

#[test]
fn objects_and_classifications_are_created_by_ontology_name() {
    let mut row = LabelRow::parse(IMAGE, ontology()).unwrap();
    // The sample row uses objects absent from this ontology; start clean.
    for o in row.objects() {
        row.remove_object(&o.object_hash);
    }
    for c in row.classifications() {
        row.remove_classification(&c.classification_hash);
    }
    let bbox = BoundingBox {
        x: 0.1,
        y: 0.2,
        w: 0.3,
        h: 0.4,
    };
    let hash = row.add_object("Box", 0, Shape::BoundingBox(bbox)).unwrap();
    row.set_object_answer(&hash, "Color", Answer::Radio("Blue".into()))
        .unwrap();
    row.set_object_answer(&hash, "Note", Answer::Text("looks fine".into()))
        .unwrap();
    row.add_object("Pt", 0, Shape::Point(Point { x: 0.5, y: 0.5 }))
        .unwrap();
    row.add_classification("Quality", Answer::Radio("Good".into()), [0, 0])
        .unwrap();
    row.validate().unwrap();

    // What was written reads back through a fresh parse.
    let again = LabelRow::parse(&row.to_json(), ontology()).unwrap();
    let boxes = again.objects_named("Box");
    assert_eq!(boxes.len(), 1);
    assert_eq!(boxes[0].frames, vec![(0, Shape::BoundingBox(bbox))]);
    assert!(boxes[0]
        .answers
        .contains(&("Color".into(), Answer::Radio("Blue".into()))));
    assert_eq!(
        again.classification("Quality").unwrap().answer(),
        Some(&Answer::Radio("Good".into()))
    );
}

#[test]
fn a_models_score_is_the_objects_confidence() {
    let mut row = LabelRow::parse(IMAGE, ontology()).unwrap();
    let p = Shape::Point(Point { x: 0.5, y: 0.5 });
    let hash = row.add_object("Pt", 0, p).unwrap();
    let confidence = |row: &LabelRow| {
        let v: Value = serde_json::from_str(&row.to_json()).unwrap();
        let units = v["data_units"].as_object().unwrap();
        let objects = units.values().next().unwrap()["labels"]["objects"].clone();
        objects
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["objectHash"] == hash.as_str())
            .unwrap()["confidence"]
            .as_f64()
            .unwrap()
    };
    assert_eq!(confidence(&row), 1.0);
    row.set_object_confidence(&hash, 0, 0.75).unwrap();
    assert_eq!(confidence(&row), 0.75);
    let e = row.set_object_confidence(&hash, 0, 1.5).unwrap_err();
    assert!(e.to_string().contains("outside [0, 1]"), "{e}");
    assert!(row.set_object_confidence("nope", 0, 0.5).is_err());
}

#[test]
fn wrong_names_and_shapes_are_refused_with_the_valid_choices() {
    let mut row = LabelRow::parse(IMAGE, ontology()).unwrap();
    let err = row
        .add_object("Bus", 0, Shape::Point(Point { x: 0.1, y: 0.1 }))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no object `Bus`") && err.contains("Box, Poly, Pt"),
        "{err}"
    );
    let err = row
        .add_object("Box", 0, Shape::Point(Point { x: 0.1, y: 0.1 }))
        .unwrap_err()
        .to_string();
    assert!(err.contains("is a bounding_box"), "{err}");
    let err = row
        .add_classification("Quality", Answer::Radio("Superb".into()), [0, 0])
        .unwrap_err()
        .to_string();
    assert!(err.contains("Good, Bad"), "{err}");
    let err = row
        .add_object(
            "Box",
            3,
            Shape::BoundingBox(BoundingBox {
                x: 0.0,
                y: 0.0,
                w: 0.1,
                h: 0.1,
            }),
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("only frame 0"), "{err}");
}

#[test]
fn validation_reports_unknown_features_and_out_of_range_geometry() {
    // The sample image row uses objects this ontology does not have.
    let row = LabelRow::parse(IMAGE, ontology()).unwrap();
    let err = row.validate().unwrap_err().to_string();
    assert!(
        err.contains("`objLane1` is not an object of the ontology"),
        "{err}"
    );
    assert!(
        !err.contains("`clsTags1`"),
        "Tags is in the ontology: {err}"
    );

    let mut row = LabelRow::parse(IMAGE, ontology()).unwrap();
    for o in row.objects() {
        row.remove_object(&o.object_hash);
    }
    row.add_object(
        "Box",
        0,
        Shape::BoundingBox(BoundingBox {
            x: 0.9,
            y: 0.1,
            w: 0.5,
            h: 0.1,
        }),
    )
    .unwrap();
    let err = row.validate().unwrap_err().to_string();
    assert!(err.contains("outside [0, 1]"), "{err}");
}

#[test]
fn video_objects_track_across_frames() {
    let mut row = LabelRow::parse(VIDEO, ontology()).unwrap();
    let b = |x| {
        Shape::BoundingBox(BoundingBox {
            x,
            y: 0.1,
            w: 0.1,
            h: 0.1,
        })
    };
    let hash = row.add_object("Box", 4, b(0.1)).unwrap();
    row.add_object_frame(&hash, 7, b(0.2)).unwrap();
    let obj = row
        .objects()
        .into_iter()
        .find(|o| o.object_hash == hash)
        .unwrap();
    assert_eq!(obj.frames, vec![(4, b(0.1)), (7, b(0.2))]);
}

#[test]
fn image_group_frames_map_to_their_data_units() {
    let unit = |hash: &str, seq: &str| {
        format!(
            r#""{hash}": {{"data_hash": "{hash}", "data_title": "{hash}.png", "data_type": "image/png",
                "data_sequence": "{seq}", "width": 10, "height": 10, "labels": {{"objects": [], "classifications": []}}}}"#
        )
    };
    let json = format!(
        r#"{{"data_hash": "g1", "data_title": "group", "data_type": "img_group",
            "object_answers": {{}}, "classification_answers": {{}}, "object_actions": {{}},
            "data_units": {{{}, {}}}}}"#,
        unit("u0", "0"),
        unit("u1", "1")
    );
    let mut row = LabelRow::parse(&json, ontology()).unwrap();
    let pt = Shape::Point(Point { x: 0.5, y: 0.5 });
    row.add_object("Pt", 1, pt.clone()).unwrap();
    let units = &row.data().data_units;
    let objects_of = |h: &str| match &units[h].labels {
        Some(encord_labels::Labels::Frame(f)) => f.objects.len(),
        other => panic!("unexpected labels {other:?}"),
    };
    assert_eq!((objects_of("u0"), objects_of("u1")), (0, 1));
    assert_eq!(row.objects()[0].frames, vec![(1, pt)]);
    assert!(
        row.add_object("Pt", 2, Shape::Point(Point { x: 0.1, y: 0.1 }))
            .is_err(),
        "no third image"
    );
    row.validate().unwrap();
}

/// Found by `scripts/fuzz.sh` (target `label_row`): a number written in
/// long decimal form was read to a float one step off, so writing the row
/// and reading it again changed it. serde_json's `float_roundtrip` reads
/// every number to the nearest float: the round trip is lossless.
#[test]
fn a_written_row_reads_back_to_the_same_text() {
    let json = r#"{"data_hash": "0", "data_type": "image",
        "extra": {"x": [[0.000000000000000000000001, 0.30000000000000004, 1e-7]]}}"#;
    let once = LabelRow::parse(json, ontology()).unwrap().to_json();
    let again = LabelRow::parse(&once, ontology()).unwrap().to_json();
    assert_eq!(again, once);
    // Each number read to its nearest float (1e-24 was read one step up, and
    // written `1.0000000000000001e-24`).
    assert!(
        once.contains(r#""x":[[1e-24,0.30000000000000004,1e-7]]"#),
        "{once}"
    );
}
