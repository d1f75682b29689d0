//! {{name}}: a runner-host task agent.
//!
//! `runner-host test` (or `cargo test`) runs the unit test below natively;
//! `runner-host build` makes `agent.wasm`.

use encord_agent_sdk::labels::Answer;
use encord_agent_sdk::prelude::*;

/// Captions each task's data with its title and sends it on to triage.
#[stage("pre-label", pathways = ["to triage"])]
pub fn pre_label(task: Task, mut row: LabelRow) -> Result<Outcome, AgentError> {
    let caption = format!("seen by {{name}}: {}", task.data_title);
    row.add_classification("Caption", Answer::Text(caption), [0, 0])?;
    Ok(Outcome::pathway("to triage").with_label_row(row))
}

export_agent!(pre_label);

#[cfg(test)]
mod tests {
    use super::*;
    use encord_agent_sdk::testing::{image_label_row, TestRun};
    use encord_agent_sdk::Route;

    #[test]
    fn captions_the_image_and_sends_it_to_triage() {
        let out = TestRun::new()
            .ontology_json(include_str!("../fixtures/ontology.json"))
            .label_row_json(&image_label_row("street-01.png", ""))
            .stage("pre-label", &["to triage"])
            .run::<pre_label>()
            .unwrap()
            .outcome;
        assert_eq!(out.route, Route::Pathway("to triage".into()));
        let row = out.label_row.expect("the label row is saved");
        let caption = row.classification("Caption").expect("a caption");
        assert_eq!(
            caption.answer(),
            Some(&Answer::Text("seen by {{name}}: street-01.png".into()))
        );
    }
}
