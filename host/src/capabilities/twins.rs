//! `encord:agent/twins`: the same data's label row in other projects,
//! loaded in bulk for the batch, and saved back to them.

use encord_labels::outcome::{self, RowSave};

use crate::engine::encord::agent::project::Pathway;
use crate::engine::encord::agent::twins::{Host, Twin, TwinStage};
use crate::engine::encord::agent::types::Task;
use crate::engine::{TaskState, TwinMove, TwinProject};
use crate::platform::WorkflowStage;

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

    /// The twin task of this data in `project_hash` and the stage it sits
    /// in, if the twin spec included tasks and there is one.
    fn twin_task(
        &self,
        project_hash: &str,
    ) -> Result<Option<(&crate::platform::Task, &WorkflowStage)>, String> {
        let twin = self.declared_twin(project_hash)?;
        let Some(Some(found)) = self.cx.twins.get(project_hash) else {
            return Ok(None);
        };
        let Some((task, stage_uuid)) = &found.task else {
            return Ok(None);
        };
        let stage = twin.workflow.stage(stage_uuid).ok_or_else(|| {
            format!(
                "the twin task sits in stage `{stage_uuid}`, which twin project `{}`'s workflow lacks",
                twin.title
            )
        })?;
        Ok(Some((task, stage)))
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
        let data_hash = self.cx.data_hash.as_deref().unwrap_or_default();
        if !matches!(self.cx.twins.get(&project_hash), Some(Some(_))) {
            return Err(format!(
                "twin project `{}` has no label row for data `{data_hash}`: nothing to save to",
                twin.title
            ));
        }
        outcome::check_label_row(
            &label_row,
            twin.ontology.clone(),
            data_hash,
            RowSave::Twin(&twin.title),
        )?;
        let mut effects = self.cx.effects.lock().expect("effects lock");
        effects.twin_saves.retain(|(p, _)| *p != project_hash);
        effects.twin_saves.push((project_hash, label_row));
        Ok(())
    }

    fn stage(&mut self, project_hash: String) -> Result<Option<TwinStage>, String> {
        Ok(self.twin_task(&project_hash)?.map(|(_, s)| TwinStage {
            uuid: s.uuid.clone(),
            title: s.title.clone(),
            stage_type: s.stage_type.clone(),
            pathways: s
                .pathways()
                .iter()
                .map(|p| Pathway {
                    uuid: p.uuid.clone(),
                    name: p.title.clone(),
                    destination_uuid: p.destination_uuid.clone(),
                })
                .collect(),
        }))
    }

    fn proceed(&mut self, project_hash: String, pathway: String) -> Result<(), String> {
        let title = self.declared_twin(&project_hash)?.title.clone();
        let Some((task, stage)) = self.twin_task(&project_hash)? else {
            return Err(format!(
                "twin project `{title}` has no task for this data (or the twin was declared without its task): nothing to move"
            ));
        };
        if stage.stage_type != "AGENT" {
            return Err(format!(
                "the twin task sits in `{}`, a {} stage of twin project `{title}`: only a task in an agent stage can proceed along a pathway",
                stage.title, stage.stage_type
            ));
        }
        let found = outcome::resolve_pathway(
            format_args!("stage `{}` of twin project `{title}`", stage.title),
            stage.pathways(),
            &pathway,
        )?;
        let twin_move = TwinMove {
            project_hash: project_hash.clone(),
            stage_uuid: stage.uuid.clone(),
            task_uuid: task.uuid.clone(),
            pathway_uuid: found.uuid.clone(),
        };
        let mut effects = self.cx.effects.lock().expect("effects lock");
        effects
            .twin_moves
            .retain(|m| m.project_hash != project_hash);
        effects.twin_moves.push(twin_move);
        Ok(())
    }
}
