//! The agent `bench/compare.sh` runs three ways: this component on
//! runner-host, `bench/agent.py` (the same lines in Python) on runner-host,
//! and `bench/encord_agents/agent.py` on the official encord-agents Runner.
//!
//! Per task it reads the label row, adds one Vehicle box unless the row
//! already has an object, sets a priority derived from the data title and
//! routes the task to triage: the same work for all three, deterministic so
//! their end states can be compared.

use encord_agent_sdk::prelude::*;

/// The task's priority, in tenths from 0.1 to 0.9 by the sum of its title's
/// bytes (k / 10 is written as the same number by every language).
pub fn priority(title: &str) -> f32 {
    let sum: u32 = title.bytes().map(u32::from).sum();
    (sum % 9 + 1) as f32 / 10.0
}

#[stage("pre-label", pathways = ["to triage"])]
pub fn pre_label(task: Task, mut row: LabelRow) -> Result<Outcome, AgentError> {
    if row.objects().is_empty() {
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
    Ok(Outcome::pathway("to triage")
        .with_label_row(row)
        .with_priority(priority(&task.data_title)))
}

export_agent!(pre_label);

#[cfg(test)]
mod tests {
    use super::*;
    use encord_agent_sdk::testing::{image_label_row, TestRun};
    use encord_agent_sdk::Route;

    const ONTOLOGY: &str = include_str!("../../../examples/demo-ontology.json");

    #[test]
    fn adds_one_box_sets_the_title_priority_and_routes() {
        let out = TestRun::new()
            .ontology_json(ONTOLOGY)
            .label_row_json(&image_label_row("extra-00042.png", ""))
            .stage("pre-label", &["to triage"])
            .run::<pre_label>()
            .unwrap();
        assert_eq!(out.outcome.route, Route::Pathway("to triage".into()));
        assert_eq!(out.outcome.priority, Some(priority("extra-00042.png")));
        let row = out.outcome.label_row.unwrap();
        assert_eq!(row.objects().len(), 1);
        assert_eq!(row.objects_named("Vehicle").len(), 1);
    }

    #[test]
    fn a_row_with_an_object_gets_no_second_box() {
        let first = TestRun::new()
            .ontology_json(ONTOLOGY)
            .label_row_json(&image_label_row("street-01.png", ""))
            .run::<pre_label>()
            .unwrap();
        let labelled = first.outcome.label_row.unwrap().to_json();
        let again = TestRun::new()
            .ontology_json(ONTOLOGY)
            .label_row_json(&labelled)
            .run::<pre_label>()
            .unwrap();
        assert_eq!(again.outcome.label_row.unwrap().objects().len(), 1);
    }

    #[test]
    fn priorities_are_the_nine_tenths() {
        let all: std::collections::BTreeSet<String> = (0..100)
            .map(|i| priority(&format!("extra-{i:05}.png")).to_string())
            .collect();
        let tenths: std::collections::BTreeSet<String> =
            (1..=9).map(|k| format!("0.{k}")).collect();
        assert_eq!(all, tenths);
    }
}
