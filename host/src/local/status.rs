//! `local status` and `local export`: what a store holds for a project.

use rusqlite::params;
use serde::Serialize;

use super::LocalStore;
use crate::platform::{Platform, PlatformError};

/// How many tasks sit in one stage.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StageCount {
    pub uuid: String,
    pub title: String,
    #[serde(rename = "type")]
    pub stage_type: String,
    pub tasks: u64,
}

/// Task counts per workflow stage, in workflow order.
pub async fn stage_counts(
    store: &LocalStore,
    project_hash: &str,
) -> Result<Vec<StageCount>, PlatformError> {
    let project = store.project(project_hash).await?;
    let conn = store.lock();
    let mut st = conn
        .prepare("SELECT COUNT(*) FROM tasks WHERE project_hash = ?1 AND stage_uuid = ?2")
        .map_err(|e| store.sql_err(e))?;
    project
        .workflow
        .stages
        .iter()
        .map(|s| {
            let n: i64 = st
                .query_row(params![project_hash, s.uuid], |r| r.get(0))
                .map_err(|e| store.sql_err(e))?;
            Ok(StageCount {
                uuid: s.uuid.clone(),
                title: s.title.clone(),
                stage_type: s.stage_type.clone(),
                tasks: n as u64,
            })
        })
        .collect()
}

/// Every label row of the project, ordered by data title, with the task's
/// stage and priority beside it.
pub async fn export_label_rows(
    store: &LocalStore,
    project_hash: &str,
) -> Result<serde_json::Value, PlatformError> {
    let project = store.project(project_hash).await?;
    let conn = store.lock();
    let mut st = conn
        .prepare(
            "SELECT l.row_json, t.stage_uuid, t.priority FROM label_rows l
             JOIN data_units d ON d.data_hash = l.data_hash
             LEFT JOIN tasks t ON t.project_hash = l.project_hash AND t.data_hash = l.data_hash
             WHERE l.project_hash = ?1 ORDER BY d.title",
        )
        .map_err(|e| store.sql_err(e))?;
    let rows = st
        .query_map([project_hash], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<f64>>(2)?,
            ))
        })
        .map_err(|e| store.sql_err(e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| store.sql_err(e))?;
    let mut out = Vec::with_capacity(rows.len());
    for (json, stage_uuid, priority) in rows {
        let row: serde_json::Value = serde_json::from_str(&json)
            .map_err(|e| PlatformError::Store(format!("a stored label row is corrupt: {e}")))?;
        let stage = stage_uuid
            .as_deref()
            .and_then(|u| project.workflow.stage(u))
            .map(|s| s.title.clone());
        out.push(serde_json::json!({"stage": stage, "priority": priority, "label_row": row}));
    }
    Ok(serde_json::Value::Array(out))
}
