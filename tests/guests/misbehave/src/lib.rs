//! Misbehaves on chosen demo tasks, so tests can check that one task's
//! failure never touches another's results:
//! - `street-02.png`: returns a pathway the stage does not have;
//! - `street-03.png`: saves a label row that does not match the ontology;
//! - `street-04.png`: fails with an error (on every attempt);
//! - `street-05.png`: returns a priority outside [0, 1];
//! - `street-07.png`: a custom dependency fails before the handler runs;
//! - anything else: labels Quality = Good, priority 0.0, goes "to triage".

use encord_agent_sdk::labels::{Answer, FrameObject, Labels};
use encord_agent_sdk::prelude::*;

/// A custom dependency that cannot be had for `street-07.png`.
struct Checked(Task);

impl FromContext for Checked {
    fn from_context(cx: &mut Context) -> Result<Self, AgentError> {
        let task = Task::from_context(cx)?;
        if task.data_title == "street-07.png" {
            return Err(AgentError::msg(
                "dependency failed: no sensor data for street-07.png",
            ));
        }
        Ok(Checked(task))
    }
}

#[stage("pre-label")]
fn pre_label(checked: Checked, mut row: LabelRow) -> Result<Outcome, AgentError> {
    let task = checked.0;
    match task.data_title.as_str() {
        "street-02.png" => Ok(Outcome::pathway("to nowhere")),
        "street-03.png" => {
            let unit = row
                .data_mut()
                .data_units
                .values_mut()
                .next()
                .ok_or(AgentError::msg("no data unit"))?;
            if let Some(Labels::Frame(frame)) = &mut unit.labels {
                let mut extra = serde_json::Map::new();
                extra.insert(
                    "boundingBox".into(),
                    serde_json::json!({"x": 0.1, "y": 0.1, "w": 0.1, "h": 0.1}),
                );
                frame.objects.push(FrameObject {
                    object_hash: "bogus001".into(),
                    feature_hash: "objNotInOntology".into(),
                    shape: "bounding_box".into(),
                    extra,
                });
            }
            Ok(Outcome::pathway("to triage").with_label_row(row))
        }
        "street-04.png" => Err(AgentError::msg("deliberate failure for street-04.png")),
        "street-05.png" => Ok(Outcome::pathway("to triage").with_priority(1.5)),
        _ => {
            row.add_classification("Quality", Answer::Radio("Good".into()), [0, 0])?;
            Ok(Outcome::pathway("to triage")
                .with_label_row(row)
                .with_priority(0.0))
        }
    }
}

export_agent!(pre_label);
