//! Takes 200 ms per task, so a test can stop a run in the middle of a batch.

use encord_agent_sdk::labels::Answer;
use encord_agent_sdk::prelude::*;

#[stage("pre-label", pathways = ["to triage"])]
fn pre_label(mut row: LabelRow) -> Result<Outcome, AgentError> {
    std::thread::sleep(std::time::Duration::from_millis(200));
    row.add_classification("Quality", Answer::Radio("Good".into()), [0, 0])?;
    Ok(Outcome::pathway("to triage")
        .with_label_row(row)
        .with_priority(0.5))
}

export_agent!(pre_label);
