//! `encord:agent/twins`: the same data's label row in other projects,
//! loaded in bulk for the batch.

use crate::engine::encord::agent::twins::{Host, Twin};
use crate::engine::encord::agent::types::Task;
use crate::engine::TaskState;

impl Host for TaskState {
    fn find(&mut self, project_hash: String) -> Result<Option<Twin>, String> {
        let Some(found) = self.cx.twins.get(&project_hash) else {
            return Err(format!(
                "twin project `{project_hash}` was not declared for this stage: declare it in the stage's twins (a Twin<P> parameter)"
            ));
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
}
