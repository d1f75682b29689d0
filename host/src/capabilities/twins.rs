//! `encord:agent/twins`: the same data's label row in other projects,
//! loaded in bulk for the batch, and saved back to them.

use encord_labels::LabelRow;

use crate::engine::encord::agent::twins::{Host, Twin};
use crate::engine::encord::agent::types::Task;
use crate::engine::{TaskState, TwinProject};
use crate::runner::MAX_LABEL_ROW_BYTES;

fn undeclared(project_hash: &str) -> String {
    format!(
        "twin project `{project_hash}` was not declared for this stage: declare it in the stage's twins (a Twin<P> parameter)"
    )
}

impl TaskState {
    /// The twin project `project_hash`, if this task's stage declared it.
    fn declared_twin(&self, project_hash: &str) -> Result<&TwinProject, String> {
        if !self.cx.twins.contains_key(project_hash) {
            return Err(undeclared(project_hash));
        }
        self.cx
            .twin_projects
            .get(project_hash)
            .map(|p| p.as_ref())
            .ok_or_else(|| undeclared(project_hash))
    }
}

impl Host for TaskState {
    fn find(&mut self, project_hash: String) -> Result<Option<Twin>, String> {
        let Some(found) = self.cx.twins.get(&project_hash) else {
            return Err(undeclared(&project_hash));
        };
        Ok(found.as_ref().map(|t| Twin {
            label_row: t.label_row.clone(),
            task: t.task.as_ref().map(|(t, _)| Task {
                uuid: t.uuid.clone(),
                data_hash: t.data_hash.clone(),
                data_title: t.data_title.clone(),
                label_branch_name: t.label_branch_name.clone(),
                status: t.status.clone(),
            }),
            stage_uuid: t.task.as_ref().map(|(_, s)| s.clone()),
        }))
    }

    fn ontology(&mut self, project_hash: String) -> Result<String, String> {
        Ok(self.declared_twin(&project_hash)?.ontology_json.clone())
    }

    fn save(&mut self, project_hash: String, label_row: String) -> Result<(), String> {
        let twin = self.declared_twin(&project_hash)?;
        let whose = || format!("the label row saved to twin project `{}`", twin.title);
        if label_row.len() > MAX_LABEL_ROW_BYTES {
            return Err(format!(
                "{} is {} MiB, over the {} MiB limit; nothing was saved",
                whose(),
                label_row.len() >> 20,
                MAX_LABEL_ROW_BYTES >> 20
            ));
        }
        let row = LabelRow::parse(&label_row, twin.ontology.clone())
            .map_err(|e| format!("{} is invalid: {e}", whose()))?;
        let data_hash = self.cx.data_hash.as_deref().unwrap_or_default();
        if row.data_hash() != data_hash {
            return Err(format!(
                "{} is for data `{}`, not this task's data `{data_hash}`",
                whose(),
                row.data_hash()
            ));
        }
        if !matches!(self.cx.twins.get(&project_hash), Some(Some(_))) {
            return Err(format!(
                "twin project `{}` has no label row for data `{data_hash}`: nothing to save to",
                twin.title
            ));
        }
        row.validate()
            .map_err(|e| format!("{} was refused: {e}", whose()))?;
        let mut effects = self.cx.effects.lock().expect("effects lock");
        effects.twin_saves.retain(|(p, _)| *p != project_hash);
        effects.twin_saves.push((project_hash, label_row));
        Ok(())
    }
}
