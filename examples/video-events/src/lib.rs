//! Marks sharp brightness changes in videos: decodes every frame (streamed
//! from the host one at a time, never the whole video in memory), and where
//! the mean brightness jumps by more than [`THRESHOLD`] between two frames,
//! adds an `Event: Brightness change` classification over those two frames.
//! Every task then goes on to triage; images and image groups pass through
//! with their frames checked the same way.

use encord_agent_sdk::labels::Answer;
use encord_agent_sdk::prelude::*;

/// A jump in mean brightness (0–255) that counts as an event.
pub const THRESHOLD: f64 = 40.0;

/// The frame ranges `[k - 1, k]` where brightness jumps.
pub fn events(
    frames: impl Iterator<Item = Result<Frame, AgentError>>,
) -> Result<Vec<[u32; 2]>, AgentError> {
    let mut out = Vec::new();
    let mut previous: Option<(u32, f64)> = None;
    for frame in frames {
        let frame = frame?;
        let b = frame.mean_brightness();
        if let Some((i, p)) = previous {
            if (b - p).abs() > THRESHOLD {
                out.push([i, frame.index]);
            }
        }
        previous = Some((frame.index, b));
    }
    Ok(out)
}

#[stage("pre-label", pathways = ["to triage"])]
pub fn brightness_events(
    task: Task,
    mut row: LabelRow,
    frames: VideoFrames,
) -> Result<Outcome, AgentError> {
    let found = events(frames)?;
    if found.is_empty() {
        return Ok(Outcome::pathway("to triage"));
    }
    for range in &found {
        row.add_classification("Event", Answer::Radio("Brightness change".into()), *range)?;
    }
    encord_agent_sdk::log::info(&format!(
        "{}: {} brightness change(s) at frames {:?}",
        task.data_title,
        found.len(),
        found
    ));
    Ok(Outcome::pathway("to triage")
        .with_label_row(row)
        .with_priority(0.9))
}

export_agent!(brightness_events);

#[cfg(test)]
mod tests {
    use super::*;
    use encord_agent_sdk::testing::TestRun;
    use encord_agent_sdk::Route;

    const ONTOLOGY: &str = include_str!("../../demo-ontology.json");
    const ROW: &str = r#"{"label_hash": null, "branch_name": "main", "created_at": null, "last_edited_at": null,
        "data_hash": "d0000000-0000-4000-8000-000000000001", "dataset_hash": "x", "dataset_title": "x",
        "data_title": "clip.mp4", "data_type": "video", "label_status": "NOT_LABELLED",
        "object_answers": {}, "classification_answers": {}, "object_actions": {},
        "data_units": {"d0000000-0000-4000-8000-000000000001": {"data_hash": "d0000000-0000-4000-8000-000000000001",
          "data_title": "clip.mp4", "data_type": "video/mp4", "data_sequence": 0, "width": 4, "height": 2,
          "data_fps": 10.0, "labels": {}}}}"#;

    fn flat(value: u8) -> Frame {
        Frame {
            index: 0,
            width: 4,
            height: 2,
            rgb: vec![value; 4 * 2 * 3],
        }
    }

    #[test]
    fn a_jump_in_brightness_is_classified_over_its_two_frames() {
        let frames = vec![flat(10), flat(12), flat(11), flat(200), flat(198)];
        let out = TestRun::new()
            .ontology_json(ONTOLOGY)
            .label_row_json(ROW)
            .frames(frames)
            .stage("pre-label", &["to triage"])
            .run::<brightness_events>()
            .unwrap();
        assert_eq!(out.outcome.route, Route::Pathway("to triage".into()));
        let row = out.outcome.label_row.expect("labels saved");
        let events = row.classifications();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].name, "Event");
        assert_eq!(events[0].ranges, vec![[2, 3]]);
    }

    #[test]
    fn steady_footage_is_left_unlabelled() {
        let out = TestRun::new()
            .ontology_json(ONTOLOGY)
            .label_row_json(ROW)
            .frames(vec![flat(10), flat(30), flat(50)])
            .run::<brightness_events>()
            .unwrap();
        assert!(out.outcome.label_row.is_none());
    }
}
