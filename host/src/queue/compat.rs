//! `runner-host run-task`: encord-agents' `QueueRunner` protocol, so that
//! the Celery or Modal producers teams already run can drive a wasm agent
//! unchanged. The input is what `QueueRunner.stage(...)`'s wrapper takes:
//! one `AgentTask` JSON, or a JSON list of them (each a JSON string, as the
//! producers send them, or an object). The output is its
//! `TaskCompletionResult` JSON, in the same shapes.
//!
//! Unlike the incumbent, a failed task fails alone (its neighbours are
//! still saved and moved) and says why; agent attempts are retried per
//! `--num-retries`; and a task that left the stage says so.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::platform::Task;
use crate::runner::{Prepared, Runner, TaskResult};

/// `AgentTaskConfig`: what the wrapper reads of an `AgentTask`.
#[derive(Debug, Deserialize)]
struct AgentTaskConfig {
    uuid: String,
    data_hash: String,
    data_title: String,
    #[serde(default = "main_branch")]
    label_branch_name: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    assignee: Option<String>,
    #[serde(default)]
    last_actioned_by: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    updated_at: Option<String>,
}

fn main_branch() -> String {
    "main".into()
}

/// The tasks in `input`, and whether it was a list (the output's shape
/// follows it).
pub fn parse_tasks(input: &str) -> Result<(Vec<Task>, bool), String> {
    let value: Value = serde_json::from_str(input.trim()).map_err(|e| {
        format!(
            "the task JSON is not JSON ({e}): pass AgentTask.model_dump_json(), or a list of them"
        )
    })?;
    let one = |v: Value| -> Result<Task, String> {
        let v = match v {
            // A spec sent as its JSON text.
            Value::String(text) => {
                serde_json::from_str(&text).map_err(|e| format!("a task spec is not JSON ({e})"))?
            }
            other => other,
        };
        let c: AgentTaskConfig = serde_json::from_value(v).map_err(|e| {
            format!("a task spec is not an AgentTask ({e}): it needs uuid, data_hash, data_title")
        })?;
        Ok(Task {
            uuid: c.uuid,
            data_hash: c.data_hash,
            data_title: c.data_title,
            label_branch_name: c.label_branch_name,
            status: c.status.unwrap_or_default(),
            assignee: c.assignee,
            last_actioned_by: c.last_actioned_by,
            created_at: c.created_at.unwrap_or_default(),
            updated_at: c.updated_at.unwrap_or_default(),
        })
    };
    match value {
        Value::Array(items) => {
            if items.is_empty() {
                return Err("the task list is empty".into());
            }
            Ok((items.into_iter().map(one).collect::<Result<_, _>>()?, true))
        }
        // A single spec, possibly as a JSON string of itself.
        Value::String(text) => parse_tasks(&text),
        other => Ok((vec![one(other)?], false)),
    }
}

/// Runs `tasks` in the one stage `prepared` serves and answers as
/// `QueueRunner` does; the bool is whether every task succeeded.
pub async fn run_tasks(
    runner: &Runner,
    prepared: &Prepared,
    tasks: Vec<Task>,
    many: bool,
) -> Result<(Value, bool), String> {
    let stages = prepared.stages();
    let [(stage_uuid, _)] = stages.as_slice() else {
        return Err(format!(
            "the agent serves {} stages here ({}): name the one these tasks are in with --stage",
            stages.len(),
            stages
                .iter()
                .map(|(_, t)| t.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    };
    let present = runner
        .still_in_stage(prepared, stage_uuid, &tasks)
        .await
        .map_err(|e| format!("re-reading the tasks failed: {e}"))?;
    let reports = runner
        .run_tasks(prepared, stage_uuid, present, None, || true)
        .await;
    // Per task, in input order: (succeeded, pathway uuid, error).
    let mut results = Vec::with_capacity(tasks.len());
    for t in &tasks {
        let r = reports.iter().find(|r| r.task.uuid == t.uuid);
        results.push(match r.map(|r| &r.result) {
            None => (
                false,
                None,
                Some("the task is no longer in the stage".to_string()),
            ),
            Some(TaskResult::Moved(name)) => (true, prepared.pathway_uuid(stage_uuid, name), None),
            Some(TaskResult::AlreadyAdvanced(_)) | Some(TaskResult::Stayed) => (true, None, None),
            Some(TaskResult::Failed(e)) | Some(TaskResult::SkippedFailed(e)) => {
                (false, None, Some(e.clone()))
            }
            Some(TaskResult::Abandoned) => (false, None, Some("stopped before it ran".into())),
        });
    }
    let all_ok = results.iter().all(|(ok, _, _)| *ok);
    let answer = if many {
        let errors: Vec<String> = tasks
            .iter()
            .zip(&results)
            .filter_map(|(t, (_, _, e))| Some(format!("{}: {}", t.uuid, e.as_ref()?)))
            .collect();
        json!({
            "task_uuid": tasks.iter().map(|t| t.uuid.clone()).collect::<Vec<_>>(),
            "stage_uuid": stage_uuid,
            "success": tasks.iter().zip(&results).filter(|(_, r)| r.0).map(|(t, _)| t.uuid.clone()).collect::<Vec<_>>(),
            "pathway": results.iter().filter_map(|r| r.1.clone()).collect::<Vec<_>>(),
            "error": if errors.is_empty() { Value::Null } else { Value::String(errors.join("\n")) },
        })
    } else {
        let (ok, pathway, error) = &results[0];
        json!({
            "task_uuid": tasks[0].uuid,
            "stage_uuid": stage_uuid,
            "success": ok,
            "pathway": pathway,
            "error": error,
        })
    };
    Ok((answer, all_ok))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = r#"{"uuid":"11111111-1111-4111-8111-111111111111","created_at":"2025-01-01T00:00:00","updated_at":"2025-01-01T00:00:00","status":"NEW","data_hash":"d0000001-0000-4000-8000-000000000000","data_title":"a.png","label_branch_name":"main","assignee":null,"last_actioned_by":null}"#;

    #[test]
    fn one_spec_a_list_of_spec_strings_and_a_list_of_objects_are_read() {
        let (one, many) = parse_tasks(SPEC).unwrap();
        assert!(!many);
        assert_eq!(one[0].uuid, "11111111-1111-4111-8111-111111111111");
        assert_eq!(one[0].status, "NEW");
        let list = serde_json::to_string(&vec![SPEC, SPEC]).unwrap();
        let (two, many) = parse_tasks(&list).unwrap();
        assert!(many);
        assert_eq!(two.len(), 2);
        let objects = format!("[{SPEC}]");
        assert_eq!(parse_tasks(&objects).unwrap().0[0].data_title, "a.png");
        // The spec as a JSON string of itself.
        let quoted = serde_json::to_string(SPEC).unwrap();
        assert!(!parse_tasks(&quoted).unwrap().1);
    }

    #[test]
    fn a_spec_without_its_data_hash_is_refused_by_name() {
        let e = parse_tasks(r#"{"uuid":"x","data_title":"a"}"#).unwrap_err();
        assert!(e.contains("data_hash"), "{e}");
        assert!(parse_tasks("[]").unwrap_err().contains("empty"));
        assert!(parse_tasks("nope").unwrap_err().contains("not JSON"));
    }
}
