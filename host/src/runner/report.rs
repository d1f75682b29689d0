//! `--report FILE`: one JSON record per task, written as batches finish.

use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use serde_json::json;

use super::{TaskReport, TaskResult};

pub struct Reporter {
    out: Mutex<std::io::BufWriter<std::fs::File>>,
}

impl Reporter {
    /// Creates (truncates) the report file.
    pub fn create(path: &Path) -> std::io::Result<Reporter> {
        Ok(Reporter {
            out: Mutex::new(std::io::BufWriter::new(std::fs::File::create(path)?)),
        })
    }

    /// Appends one record per task and flushes, so a killed run keeps what
    /// it reported.
    pub fn write(&self, reports: &[TaskReport]) -> std::io::Result<()> {
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        for r in reports {
            let (result, pathway, error) = match &r.result {
                TaskResult::Moved(p) => ("moved", Some(p.as_str()), None),
                TaskResult::AlreadyAdvanced(p) => ("already_advanced", Some(p.as_str()), None),
                TaskResult::Stayed => ("stayed", None, None),
                TaskResult::Failed(e) => ("failed", None, Some(e.as_str())),
                TaskResult::Abandoned => ("abandoned", None, None),
                TaskResult::SkippedFailed(e) => ("skipped_failed", None, Some(e.as_str())),
            };
            let line = json!({
                "task_uuid": r.task.uuid,
                "data_hash": r.task.data_hash,
                "data_title": r.task.data_title,
                "stage": r.stage,
                "result": result,
                "pathway": pathway,
                "labels_saved": r.labels_saved,
                "client_metadata_saved": r.metadata_saved,
                "twin_labels_saved": r.twin_labels_saved,
                "twin_tasks_moved": r.twin_tasks_moved,
                "priority": r.priority,
                "attempts": r.attempts,
                "memory_peak_bytes": r.usage.map(|u| u.memory_peak_bytes),
                "fuel_used": r.usage.and_then(|u| u.fuel_used),
                "started_at": r.started_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                "error": error,
                "duration_ms": r.duration.as_millis() as u64,
                "dry_run": r.dry_run,
            });
            writeln!(out, "{line}")?;
        }
        out.flush()
    }
}
