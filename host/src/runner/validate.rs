//! Checks made before any task runs: the manifest against the workflow.

use crate::engine::StageSpec;
use crate::platform::{Pathway, Project, WorkflowStage};

/// Whether `s` is a UUID (and so names a stage or pathway by uuid).
pub fn is_uuid(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok()
}

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

/// The candidate most like `wanted`, if any is close enough to suggest.
pub fn closest<'a>(wanted: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| {
            (
                strsim::jaro_winkler(&wanted.to_lowercase(), &c.to_lowercase()),
                c,
            )
        })
        .filter(|(score, _)| *score >= 0.75)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// The pathway `wanted` names: a uuid when it parses as one, else an exact
/// name (as encord-agents resolves them).
pub fn resolve_pathway<'a>(stage: &'a WorkflowStage, wanted: &str) -> Result<&'a Pathway, String> {
    let by_uuid = is_uuid(wanted);
    stage
        .pathways()
        .iter()
        .find(|p| {
            if by_uuid {
                p.uuid.eq_ignore_ascii_case(wanted)
            } else {
                p.title == wanted
            }
        })
        .ok_or_else(|| {
            let names: Vec<&str> = stage.pathways().iter().map(|p| p.title.as_str()).collect();
            let hint = closest(wanted, names.iter().copied())
                .map(|c| format!("; did you mean `{c}`?"))
                .unwrap_or_default();
            format!(
                "stage `{}` has no pathway `{wanted}`; its pathways are: {}{hint}",
                stage.title,
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            )
        })
}
