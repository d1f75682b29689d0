//! Checks made before any task runs: the manifest against the workflow.

use encord_labels::outcome::{self, PathwayRef};
pub use encord_labels::outcome::{closest, is_uuid};

use crate::engine::StageSpec;
use crate::platform::{Pathway, Project, WorkflowStage};

/// The agent stage a manifest entry names (by uuid, else by exact title).
pub fn resolve_stage<'a>(
    project: &'a Project,
    spec: &StageSpec,
) -> Result<&'a WorkflowStage, String> {
    let wanted = spec.stage.as_str();
    let by_uuid = is_uuid(wanted);
    let found = project.workflow.stages.iter().find(|s| {
        if by_uuid {
            s.uuid.eq_ignore_ascii_case(wanted)
        } else {
            s.title == wanted
        }
    });
    match found {
        Some(s) if s.stage_type == "AGENT" => Ok(s),
        Some(s) => Err(format!(
            "stage `{wanted}` (handler `{}`) is a {} stage of project `{}`, not an agent stage; agent stages: {}",
            spec.handler,
            s.stage_type,
            project.project_hash,
            list_agent_stages(project)
        )),
        None => {
            let suggestion = closest(wanted, project.workflow.agent_stages().map(|s| s.title.as_str()))
                .map(|c| format!("; did you mean `{c}`?"))
                .unwrap_or_default();
            Err(format!(
                "stage `{wanted}` (handler `{}`) is not an agent stage of project `{}`; agent stages: {}{suggestion}",
                spec.handler,
                project.project_hash,
                list_agent_stages(project)
            ))
        }
    }
}

fn list_agent_stages(project: &Project) -> String {
    let stages: Vec<String> = project
        .workflow
        .agent_stages()
        .map(|s| format!("`{}` ({})", s.title, s.uuid))
        .collect();
    if stages.is_empty() {
        "none (the workflow has no agent stage)".into()
    } else {
        stages.join(", ")
    }
}

/// The pathway `wanted` names: a uuid when it parses as one, else an exact
/// name (as encord-agents resolves them).
pub fn resolve_pathway<'a>(stage: &'a WorkflowStage, wanted: &str) -> Result<&'a Pathway, String> {
    outcome::resolve_pathway(
        format_args!("stage `{}`", stage.title),
        stage.pathways(),
        wanted,
    )
}

impl PathwayRef for Pathway {
    fn uuid(&self) -> &str {
        &self.uuid
    }
    fn name(&self) -> &str {
        &self.name
    }
}
