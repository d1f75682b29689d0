//! Triages pre-labelled tasks: routes by data title and existing labels and
//! sets each task's priority.
//!
//! - a blurry image (title or Quality label) needs a human: "needs annotation",
//!   top priority;
//! - anything with a person goes "to review", high priority;
//! - the rest is "done", priority 0.0 (the Python runner silently ignored a
//!   zero priority; runner-host sets it).

use encord_agent_sdk::labels::Answer;
use encord_agent_sdk::prelude::*;

/// A custom dependency built from another extractor: does the row hold a
/// person? Its needs (the label row) are forwarded so the host loads them.
pub struct HasPerson(pub bool);

impl FromContext for HasPerson {
    fn needs(needs: &mut Needs) {
        LabelRow::needs(needs)
    }
    fn from_context(cx: &mut Context) -> Result<Self, AgentError> {
        Ok(HasPerson(
            !LabelRow::from_context(cx)?
                .objects_named("Person")
                .is_empty(),
        ))
    }
}

#[stage("triage", pathways = ["needs annotation", "to review", "done"])]
pub fn triage(task: Task, row: LabelRow, person: HasPerson) -> Outcome {
    let blurry_label = row
        .classification("Quality")
        .is_some_and(|c| c.answer() == Some(&Answer::Radio("Blurry".into())));
    if blurry_label || task.data_title.contains("blurry") {
        Outcome::pathway("needs annotation").with_priority(1.0)
    } else if person.0 {
        Outcome::pathway("to review").with_priority(0.8)
    } else {
        Outcome::pathway("done").with_priority(0.0)
    }
}

export_agent!(triage);

#[cfg(test)]
mod tests {
    use super::*;
    use encord_agent_sdk::testing::TestRun;
    use encord_agent_sdk::Route;

    const ONTOLOGY: &str = include_str!("../../demo-ontology.json");

    fn row(title: &str, objects: &str, quality: &str) -> String {
        format!(
            r#"{{"data_hash": "d1", "data_title": "{title}", "data_type": "image",
               "object_answers": {{}}, "object_actions": {{}},
               "classification_answers": {{"c1": {{"classificationHash": "c1", "featureHash": "clsQuality",
                  "range": [[0, 0]], "classifications": [{{"name": "Quality", "value": "quality",
                  "featureHash": "attQuality", "answers": [{{"name": "{quality}", "value": "x", "featureHash": "opt{quality}"}}]}}]}}}},
               "data_units": {{"d1": {{"data_hash": "d1", "data_title": "{title}", "data_type": "image/png",
                 "data_sequence": 0, "labels": {{"objects": [{objects}], "classifications": []}}}}}}}}"#
        )
    }

    const PERSON: &str = r#"{"objectHash": "o1", "featureHash": "objPerson", "shape": "bounding_box",
        "boundingBox": {"x": 0.1, "y": 0.1, "w": 0.2, "h": 0.2}}"#;

    fn run(json: &str) -> Outcome {
        TestRun::new()
            .ontology_json(ONTOLOGY)
            .label_row_json(json)
            .stage("triage", &["needs annotation", "to review", "done"])
            .run::<triage>()
            .unwrap()
            .outcome
    }

    #[test]
    fn blurry_quality_needs_annotation_first() {
        let out = run(&row("street-01.png", "", "Blurry"));
        assert_eq!(out.route, Route::Pathway("needs annotation".into()));
        assert_eq!(out.priority, Some(1.0));
    }

    #[test]
    fn people_go_to_review() {
        let out = run(&row("portrait-01.png", PERSON, "Good"));
        assert_eq!(out.route, Route::Pathway("to review".into()));
        assert_eq!(out.priority, Some(0.8));
    }

    #[test]
    fn the_rest_is_done_with_priority_zero() {
        let out = run(&row("street-02.png", "", "Good"));
        assert_eq!(out.route, Route::Pathway("done".into()));
        assert_eq!(out.priority, Some(0.0));
    }
}
