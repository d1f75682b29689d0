//! The failed-task record: a task whose agent failed on every attempt is
//! not run again on later polls (or later runs) until its data or the agent
//! (the component's bytes) changes, or `--retry-failed` is given. Kept in a small SQLite file, so it survives a
//! restart.

use std::path::Path;

use rusqlite::{params, OpenFlags, OptionalExtension};

use crate::sqlite::{connect, Cached, Shared};

pub struct FailedTasks {
    conn: Shared,
}

impl FailedTasks {
    /// Opens (or creates) the record at `path`.
    pub fn open(path: &Path) -> Result<FailedTasks, String> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create `{}`: {e}", parent.display()))?;
        }
        let conn = connect(path, OpenFlags::default())
            .map_err(|e| format!("cannot open the state file `{}`: {e}", path.display()))?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS failed_tasks (
                 project_hash TEXT NOT NULL,
                 stage_uuid TEXT NOT NULL,
                 task_uuid TEXT NOT NULL,
                 fingerprint TEXT NOT NULL,
                 attempts INTEGER NOT NULL,
                 error TEXT NOT NULL,
                 failed_at TEXT NOT NULL,
                 PRIMARY KEY (project_hash, stage_uuid, task_uuid))",
        )
        .map_err(|e| format!("the state file `{}` is not usable: {e}", path.display()))?;
        Ok(FailedTasks {
            conn: Shared::new(conn),
        })
    }

    /// The record of this task, if it has one: (fingerprint, error).
    pub fn recorded(&self, project: &str, stage: &str, task: &str) -> Option<(String, String)> {
        // Asked once per task: the statement is parsed once per run.
        self.conn.lock()
            .row_cached(
                "SELECT fingerprint, error FROM failed_tasks WHERE project_hash = ?1 AND stage_uuid = ?2 AND task_uuid = ?3",
                params![project, stage, task],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .ok()
            .flatten()
    }

    pub fn record(
        &self,
        project: &str,
        stage: &str,
        task: &str,
        fingerprint: &str,
        attempts: u32,
        error: &str,
    ) {
        let r = self.conn.lock().execute(
            "INSERT OR REPLACE INTO failed_tasks (project_hash, stage_uuid, task_uuid, fingerprint, attempts, error, failed_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![project, stage, task, fingerprint, attempts, error, chrono::Utc::now().to_rfc3339()],
        );
        if let Err(e) = r {
            tracing::warn!("could not record a failed task: {e}");
        }
    }

    pub fn clear(&self, project: &str, stage: &str, task: &str) {
        let _ = self.conn.lock().execute(
            "DELETE FROM failed_tasks WHERE project_hash = ?1 AND stage_uuid = ?2 AND task_uuid = ?3",
            params![project, stage, task],
        );
    }
}

/// What identifies "the same agent on the same data" for a task: the
/// component's SHA-256 (`agent`; a rebuilt agent gets its failed tasks
/// back), and when its label row was loaded, the row's `last_edited_at`,
/// otherwise the task's status.
pub fn fingerprint(agent: &str, status: &str, row: Option<&str>) -> String {
    #[derive(serde::Deserialize)]
    struct Edited {
        last_edited_at: Option<serde_json::Value>,
    }
    let data = match row.and_then(|r| serde_json::from_str::<Edited>(r).ok()) {
        Some(Edited {
            last_edited_at: Some(v),
        }) => format!("edited:{v}"),
        _ => format!("status:{status}"),
    };
    format!("agent:{agent} {data}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_follows_the_label_rows_last_edit() {
        let a = fingerprint(
            "a1",
            "NEW",
            Some(r#"{"last_edited_at": "Sat, 21 Nov 2026 12:00:00 UTC", "data_hash": "x"}"#),
        );
        let b = fingerprint(
            "a1",
            "NEW",
            Some(r#"{"last_edited_at": "Sat, 21 Nov 2026 12:00:01 UTC", "data_hash": "x"}"#),
        );
        assert_ne!(a, b);
        assert_eq!(fingerprint("a1", "NEW", None), "agent:a1 status:NEW");
        assert_ne!(
            fingerprint("a1", "NEW", None),
            fingerprint("a1", "REOPENED", None)
        );
    }

    #[test]
    fn the_fingerprint_follows_the_agent() {
        assert_ne!(
            fingerprint("a1", "NEW", None),
            fingerprint("a2", "NEW", None)
        );
    }

    #[test]
    fn a_record_survives_reopening_and_is_keyed_by_data() {
        let dir = std::env::temp_dir().join(format!("rh-failures-{}", std::process::id()));
        let path = dir.join("state.sqlite");
        FailedTasks::open(&path)
            .unwrap()
            .record("p", "s", "t", "edited:1", 4, "boom");
        let again = FailedTasks::open(&path).unwrap();
        assert_eq!(
            again.recorded("p", "s", "t"),
            Some(("edited:1".to_string(), "boom".to_string()))
        );
        again.clear("p", "s", "t");
        assert_eq!(again.recorded("p", "s", "t"), None);
        std::fs::remove_dir_all(&dir).ok();
    }
}
