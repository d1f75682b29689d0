//! Outcome checks: what a handler returned, checked before anything is
//! written (the checks themselves are `encord_labels::outcome`, shared with
//! the SDK's `TestRun`).

use super::*;

/// Checks an outcome before anything is written: the pathway exists, the
/// priority is in [0, 1], the label row is this task's and matches the
/// ontology.
pub(super) fn check_outcome(
    stage: &WorkflowStage,
    ontology: &Arc<Ontology>,
    task: &Task,
    o: Outcome,
) -> Result<Decision, String> {
    let pathway = match &o.route {
        Route::Stay => None,
        Route::Pathway(p) => Some(validate::resolve_pathway(stage, p)?.clone()),
    };
    if let Some(p) = o.priority {
        outcome::check_priority(p)?;
    }
    if let Some(json) = &o.label_row {
        outcome::check_label_row(json, ontology.clone(), &task.data_hash, RowSave::Returned)?;
    }
    Ok(Decision {
        pathway,
        save: o.label_row,
        priority: o.priority,
        metadata: None,
        twin_saves: Vec::new(),
        twin_moves: Vec::new(),
    })
}
