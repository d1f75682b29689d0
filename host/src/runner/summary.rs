//! The end-of-run summary: per stage, what happened to its tasks.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Serialize;

use super::{TaskReport, TaskResult};

/// One stage's counts over a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StageSummary {
    pub stage: String,
    pub processed: usize,
    /// Tasks moved, per pathway name.
    pub moved: BTreeMap<String, usize>,
    pub already_advanced: usize,
    pub stayed: usize,
    pub failed: usize,
    /// Not run because the run was stopped.
    pub abandoned: usize,
    /// Not run because they failed before on the same data.
    pub skipped_failed: usize,
    /// Attempts beyond the first, over all tasks.
    pub retries: u32,
    #[serde(serialize_with = "secs")]
    pub duration: Duration,
    /// (task uuid, data title, reason) of each failed task.
    pub failures: Vec<(String, String, String)>,
    /// Errors that were not any one task's (e.g. listing tasks).
    pub errors: Vec<String>,
    /// The most memory any task's instance held, and the longest task: what
    /// `--memory-limit` and `--task-timeout` can be sized from.
    pub memory_peak_bytes: u64,
    #[serde(serialize_with = "secs")]
    pub longest_task: Duration,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl StageSummary {
    pub fn new(stage: &str) -> StageSummary {
        StageSummary {
            stage: stage.to_string(),
            ..Default::default()
        }
    }

    pub fn record(&mut self, r: &TaskReport) {
        match r.result {
            TaskResult::Abandoned => {
                self.abandoned += 1;
                return;
            }
            TaskResult::SkippedFailed(_) => {
                self.skipped_failed += 1;
                return;
            }
            _ => {}
        }
        self.processed += 1;
        self.retries += r.attempts.saturating_sub(1);
        if let Some(u) = r.usage {
            self.memory_peak_bytes = self.memory_peak_bytes.max(u.memory_peak_bytes);
        }
        self.longest_task = self.longest_task.max(r.duration);
        match &r.result {
            TaskResult::Moved(p) => *self.moved.entry(p.clone()).or_default() += 1,
            TaskResult::AlreadyAdvanced(_) => self.already_advanced += 1,
            TaskResult::Stayed => self.stayed += 1,
            TaskResult::Abandoned | TaskResult::SkippedFailed(_) => unreachable!("counted above"),
            TaskResult::Failed(why) => {
                self.failed += 1;
                self.failures
                    .push((r.task.uuid.clone(), r.task.data_title.clone(), why.clone()));
            }
        }
    }

    fn merge(&mut self, other: StageSummary) {
        self.processed += other.processed;
        for (k, v) in other.moved {
            *self.moved.entry(k).or_default() += v;
        }
        self.already_advanced += other.already_advanced;
        self.stayed += other.stayed;
        self.failed += other.failed;
        self.abandoned += other.abandoned;
        self.skipped_failed += other.skipped_failed;
        self.retries += other.retries;
        self.duration += other.duration;
        self.memory_peak_bytes = self.memory_peak_bytes.max(other.memory_peak_bytes);
        self.longest_task = self.longest_task.max(other.longest_task);
        self.failures.extend(other.failures);
        self.errors.extend(other.errors);
    }

    pub fn tasks_per_second(&self) -> f64 {
        let s = self.duration.as_secs_f64();
        if s > 0.0 {
            self.processed as f64 / s
        } else {
            0.0
        }
    }
}

/// Every stage's summary, over every pass of a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub stages: Vec<StageSummary>,
    /// The run was stopped (Ctrl-C / SIGTERM) before it finished.
    pub interrupted: bool,
    /// Nothing was written (`--dry-run`).
    pub dry_run: bool,
}

impl Summary {
    pub fn add(&mut self, s: StageSummary) {
        match self.stages.iter_mut().find(|x| x.stage == s.stage) {
            Some(existing) => existing.merge(s),
            None => self.stages.push(s),
        }
    }

    pub fn failed(&self) -> usize {
        self.stages.iter().map(|s| s.failed + s.errors.len()).sum()
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<20} {:>9} {:>7} {:>6} {:>6} {:>7} {:>9} {:>8}  moved per pathway",
            "stage", "processed", "moved", "stayed", "failed", "retries", "duration", "tasks/s"
        )?;
        for s in &self.stages {
            let moved: usize = s.moved.values().sum();
            let per: Vec<String> = s.moved.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            writeln!(
                f,
                "{:<20} {:>9} {:>7} {:>6} {:>6} {:>7} {:>8.2}s {:>8.1}  {}",
                s.stage,
                s.processed,
                moved,
                s.stayed,
                s.failed,
                s.retries,
                s.duration.as_secs_f64(),
                s.tasks_per_second(),
                per.join(", ")
            )?;
        }
        for s in &self.stages {
            if s.memory_peak_bytes > 0 {
                writeln!(
                    f,
                    "{}: the largest instance held {:.1} MiB; the longest task took {:.2}s",
                    s.stage,
                    s.memory_peak_bytes as f64 / f64::from(1 << 20),
                    s.longest_task.as_secs_f64()
                )?;
            }
            if s.already_advanced > 0 {
                writeln!(
                    f,
                    "{}: {} task(s) had already left the stage when moved",
                    s.stage, s.already_advanced
                )?;
            }
            if s.skipped_failed > 0 {
                writeln!(
                    f,
                    "{}: {} task(s) skipped: they failed before on the same data (--retry-failed runs them)",
                    s.stage, s.skipped_failed
                )?;
            }
            if s.abandoned > 0 {
                writeln!(
                    f,
                    "{}: {} task(s) not started because the run was stopped",
                    s.stage, s.abandoned
                )?;
            }
        }
        if self.dry_run {
            writeln!(
                f,
                "dry run: nothing was saved or moved; the report lists what would have been"
            )?;
        }
        if self.interrupted {
            writeln!(
                f,
                "interrupted: tasks in flight finished and every decided save and move was written"
            )?;
        }
        for s in &self.stages {
            for (uuid, title, why) in &s.failures {
                writeln!(f, "failed: {} task {uuid} ({title}): {why}", s.stage)?;
            }
            for e in &s.errors {
                writeln!(f, "error: {}: {e}", s.stage)?;
            }
        }
        Ok(())
    }
}
