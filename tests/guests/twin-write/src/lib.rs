//! Test guest: writes back to a twin project, as encord-agents'
//! `twin.label_row.save()` does. The twin (`GROUND_TRUTH_PROJECT`, granted
//! with `--env`) has an ontology of its own: its `Verdict` classification
//! is not in this project's. Each task with a twin gets a verdict there
//! (Approved for street scenes, Rejected otherwise), its objects kept; for
//! blurry images the agent instead tries to save this project's row, with a
//! `Quality` the twin's ontology lacks, which the host refuses. Every task
//! then goes on to triage.

use encord_agent_sdk::labels::Answer;
use encord_agent_sdk::prelude::*;

pub struct GroundTruth;

impl TwinProject for GroundTruth {
    fn project_hash() -> String {
        std::env::var("GROUND_TRUTH_PROJECT").unwrap_or_default()
    }
}

#[stage("pre-label", pathways = ["to triage"])]
pub fn verdict(
    task: Task,
    mut row: LabelRow,
    twin: Option<Twin<GroundTruth>>,
) -> Result<Outcome, AgentError> {
    if let Some(twin) = twin {
        if task.data_title.contains("blurry") {
            row.add_classification("Quality", Answer::Radio("Blurry".into()), [0, 0])?;
            twin.save(&row)?;
        } else {
            let mut theirs = twin.label_row()?;
            let verdict = if task.data_title.starts_with("street") {
                "Approved"
            } else {
                "Rejected"
            };
            theirs.add_classification("Verdict", Answer::Radio(verdict.into()), [0, 0])?;
            twin.save(&theirs)?;
        }
    }
    Ok(Outcome::pathway("to triage"))
}

export_agent!(verdict);
