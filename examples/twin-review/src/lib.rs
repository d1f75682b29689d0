//! Pre-labels from a twin project: where the ground-truth project (the same
//! data, labelled and reviewed elsewhere) has objects for this task's data,
//! copies them into this project's label row and gives the task a high
//! priority; data the twin lacks goes on with a low one.
//!
//! The twin's project hash is configuration, not code: the agent reads it
//! from `GROUND_TRUTH_PROJECT` when it loads, which the host passes in only
//! when asked: `runner-host ... --env GROUND_TRUTH_PROJECT`.

use encord_agent_sdk::prelude::*;

/// The ground-truth project (`GROUND_TRUTH_PROJECT`).
pub struct GroundTruth;

impl TwinProject for GroundTruth {
    const INCLUDE_TASK: bool = true;
    fn project_hash() -> String {
        std::env::var("GROUND_TRUTH_PROJECT").unwrap_or_else(|_| {
            panic!("set GROUND_TRUTH_PROJECT to the twin project's hash and pass it with --env GROUND_TRUTH_PROJECT")
        })
    }
}

#[stage("pre-label", pathways = ["to triage"])]
pub fn from_ground_truth(
    task: Task,
    mut row: LabelRow,
    twin: Option<Twin<GroundTruth>>,
) -> Result<Outcome, AgentError> {
    let Some(twin) = twin else {
        return Ok(Outcome::pathway("to triage").with_priority(0.1));
    };
    let truth = twin.label_row()?;
    let mut copied = 0;
    for object in truth.objects() {
        let mut hash: Option<String> = None;
        for (frame, shape) in object.frames {
            match &hash {
                None => hash = Some(row.add_object(&object.name, frame, shape)?),
                Some(h) => row.add_object_frame(h, frame, shape)?,
            }
        }
        copied += 1;
    }
    if copied == 0 {
        return Ok(Outcome::pathway("to triage").with_priority(0.5));
    }
    let status = twin.task.as_ref().map_or("no task", |t| t.status.as_str());
    encord_agent_sdk::log::info(&format!(
        "{}: copied {copied} object(s) from the ground truth (twin task {status})",
        task.data_title
    ));
    Ok(Outcome::pathway("to triage")
        .with_label_row(row)
        .with_priority(0.9))
}

export_agent!(from_ground_truth);

#[cfg(test)]
mod tests {
    use super::*;
    use encord_agent_sdk::testing::{image_label_row, TestRun};

    const ONTOLOGY: &str = include_str!("../../demo-ontology.json");
    const TWIN: &str = "00000000-0000-4000-8000-00000000aaaa";

    #[test]
    fn objects_of_the_twin_are_copied_and_the_task_prioritised() {
        std::env::set_var("GROUND_TRUTH_PROJECT", TWIN);
        let mut truth = LabelRow::parse(
            &image_label_row("street-01.png", ""),
            std::sync::Arc::new(Ontology::parse(ONTOLOGY).unwrap()),
        )
        .unwrap();
        let b = Shape::BoundingBox(BoundingBox {
            x: 0.1,
            y: 0.2,
            w: 0.3,
            h: 0.4,
        });
        truth.add_object("Vehicle", 0, b.clone()).unwrap();
        let out = TestRun::new()
            .ontology_json(ONTOLOGY)
            .label_row_json(&image_label_row("street-01.png", ""))
            .twin(TWIN, &truth.to_json(), None)
            .run::<from_ground_truth>()
            .unwrap();
        assert_eq!(out.outcome.priority, Some(0.9));
        let labelled = out.outcome.label_row.unwrap();
        assert_eq!(labelled.objects_named("Vehicle").len(), 1);
        assert_eq!(labelled.objects_named("Vehicle")[0].frames[0].1, b);

        // Data the twin lacks: no labels, low priority.
        let out = TestRun::new()
            .ontology_json(ONTOLOGY)
            .label_row_json(&image_label_row("street-01.png", ""))
            .run::<from_ground_truth>()
            .unwrap();
        assert!(out.outcome.label_row.is_none());
        assert_eq!(out.outcome.priority, Some(0.1));
    }
}
