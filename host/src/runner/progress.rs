//! Progress events from the runner, for bars on a terminal or log lines.

use super::{StageSummary, TaskReport};

/// What a run reports as it goes. Every method has a no-op default.
pub trait Progress: Send + Sync {
    fn stage_started(&self, _stage: &str) {}
    /// Batch `index` (from 1) of `stage` with `tasks` tasks is about to run.
    fn batch_started(&self, _stage: &str, _index: usize, _tasks: usize) {}
    /// One task of the current batch finished (whatever its outcome).
    fn task_finished(&self, _stage: &str) {}
    fn stage_finished(&self, _summary: &StageSummary) {}
    /// A task's final report, after its writes (what `--report` records).
    fn task_reported(&self, _report: &TaskReport) {}
}

/// Progress as plain log lines (what a non-terminal gets).
pub struct LogProgress;

impl Progress for LogProgress {
    fn stage_started(&self, stage: &str) {
        tracing::info!(stage, "draining stage");
    }
    fn batch_started(&self, stage: &str, index: usize, tasks: usize) {
        tracing::info!(stage, "batch {index}: {tasks} task(s)");
    }
    fn stage_finished(&self, s: &StageSummary) {
        tracing::info!(
            stage = %s.stage,
            "{} processed, {} failed, {:.1} tasks/s",
            s.processed,
            s.failed,
            s.tasks_per_second()
        );
    }
}
