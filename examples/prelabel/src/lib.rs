//! Pre-labels every task of the `pre-label` stage and routes it to triage.
//!
//! A real agent would run a model here; this one derives its "detections"
//! from the data title so the demo is deterministic: `street-*` images get a
//! Vehicle box, `portrait-*` images a Person box with its pose answered,
//! every image a Quality classification, and a video a Person box tracked
//! across its first frames.

use encord_agent_sdk::labels::Answer;
use encord_agent_sdk::prelude::*;

#[stage("pre-label", pathways = ["to triage"])]
pub fn pre_label(task: Task, mut row: LabelRow) -> Result<Outcome, AgentError> {
    let title = task.data_title.to_lowercase();
    if row.data_type() == "video" {
        let mut hash = None;
        for frame in 0..5u32 {
            let x = 0.1 + 0.05 * f64::from(frame);
            let shape = Shape::BoundingBox(BoundingBox {
                x,
                y: 0.2,
                w: 0.3,
                h: 0.5,
            });
            match &hash {
                None => hash = Some(row.add_object("Person", frame, shape)?),
                Some(h) => row.add_object_frame(h, frame, shape)?,
            }
        }
        encord_agent_sdk::log::info(&format!(
            "tracked a person over 5 frames of {}",
            task.data_title
        ));
        return Ok(Outcome::pathway("to triage").with_label_row(row));
    }

    if title.starts_with("street") {
        row.add_object(
            "Vehicle",
            0,
            Shape::BoundingBox(BoundingBox {
                x: 0.25,
                y: 0.4,
                w: 0.5,
                h: 0.35,
            }),
        )?;
    }
    if title.starts_with("portrait") {
        let person = row.add_object(
            "Person",
            0,
            Shape::BoundingBox(BoundingBox {
                x: 0.3,
                y: 0.1,
                w: 0.4,
                h: 0.8,
            }),
        )?;
        row.set_object_answer(&person, "Pose", Answer::Radio("Standing".into()))?;
    }
    let quality = if title.contains("blurry") {
        "Blurry"
    } else {
        "Good"
    };
    row.add_classification("Quality", Answer::Radio(quality.into()), [0, 0])?;
    Ok(Outcome::pathway("to triage").with_label_row(row))
}

export_agent!(pre_label);

#[cfg(test)]
mod tests {
    use super::*;
    use encord_agent_sdk::testing::{image_label_row, TestRun};
    use encord_agent_sdk::Route;

    const ONTOLOGY: &str = include_str!("../../demo-ontology.json");

    #[test]
    fn street_images_get_a_vehicle_and_go_to_triage() {
        let out = TestRun::new()
            .ontology_json(ONTOLOGY)
            .label_row_json(&image_label_row("street-01.png", ""))
            .stage("pre-label", &["to triage"])
            .run::<pre_label>()
            .unwrap();
        assert_eq!(out.outcome.route, Route::Pathway("to triage".into()));
        let row = out.outcome.label_row.unwrap();
        assert_eq!(row.objects_named("Vehicle").len(), 1);
        assert_eq!(
            row.classification("Quality").unwrap().answer(),
            Some(&Answer::Radio("Good".into()))
        );
    }

    #[test]
    fn blurry_portraits_get_a_person_with_a_pose() {
        let out = TestRun::new()
            .ontology_json(ONTOLOGY)
            .label_row_json(&image_label_row("portrait-blurry-02.png", ""))
            .run::<pre_label>()
            .unwrap();
        let row = out.outcome.label_row.unwrap();
        let person = &row.objects_named("Person")[0];
        assert_eq!(
            person.answers,
            vec![("Pose".to_string(), Answer::Radio("Standing".into()))]
        );
        assert_eq!(
            row.classification("Quality").unwrap().answer(),
            Some(&Answer::Radio("Blurry".into()))
        );
    }
}
