//! The service's Prometheus metrics (prometheus-client, OpenMetrics text).

use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::runner::{Progress, Summary, TaskReport, TaskResult};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AnswerLabels {
    pub answer: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DrainLabels {
    pub project: String,
    pub stage: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TaskLabels {
    pub project: String,
    pub stage: String,
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PathwayLabels {
    pub project: String,
    pub stage: String,
    pub pathway: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StageLabels {
    pub project: String,
    pub stage: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FailureLabels {
    pub project: String,
    pub stage: String,
    pub reason: String,
}

type Durations = Family<StageLabels, Histogram, fn() -> Histogram>;

fn task_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 18))
}

pub struct Metrics {
    registry: Mutex<Registry>,
    pub task_seconds: Durations,
    pub failures: Family<FailureLabels, Counter>,
    pub webhooks: Family<AnswerLabels, Counter>,
    pub drains: Family<DrainLabels, Counter>,
    pub drains_running: Gauge,
    pub drain_seconds: Histogram,
    pub tasks: Family<TaskLabels, Counter>,
    pub pathways: Family<PathwayLabels, Counter>,
    pub retries: Family<TaskLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let m = Metrics {
            registry: Mutex::new(Registry::with_prefix("runner_host")),
            task_seconds: Family::new_with_constructor(task_buckets as fn() -> Histogram),
            failures: Family::default(),
            webhooks: Family::default(),
            drains: Family::default(),
            drains_running: Gauge::default(),
            drain_seconds: Histogram::new(exponential_buckets(0.01, 2.0, 16)),
            tasks: Family::default(),
            pathways: Family::default(),
            retries: Family::default(),
        };
        {
            let mut r = m.registry.lock().unwrap_or_else(|p| p.into_inner());
            r.register(
                "webhooks",
                "Task-ready requests, by the answer given",
                m.webhooks.clone(),
            );
            r.register(
                "drains",
                "Drains of a stage, by project, stage and outcome",
                m.drains.clone(),
            );
            r.register(
                "drains_running",
                "Drains running now",
                m.drains_running.clone(),
            );
            r.register(
                "drain_duration_seconds",
                "How long a drain took",
                m.drain_seconds.clone(),
            );
            r.register(
                "tasks",
                "Tasks handled, by project, stage and result (moved, stayed, failed, already_advanced)",
                m.tasks.clone(),
            );
            r.register(
                "pathway_moves",
                "Tasks moved, by project, stage and pathway",
                m.pathways.clone(),
            );
            r.register(
                "task_retries",
                "Retried agent attempts, by project and stage",
                m.retries.clone(),
            );
            r.register(
                "task_duration_seconds",
                "A task's time from its first attempt to its last write, by project and stage",
                m.task_seconds.clone(),
            );
            r.register(
                "task_failures",
                "Failed tasks, by project, stage and kind of reason (timeout, memory, fuel, trap, refused, error)",
                m.failures.clone(),
            );
        }
        m
    }
}

impl Metrics {
    pub fn webhook(&self, answer: &str) {
        self.webhooks
            .get_or_create(&AnswerLabels {
                answer: answer.into(),
            })
            .inc();
    }

    /// Records a drain of `stage` of `project` and the tasks it handled.
    pub fn drained(
        &self,
        project: &str,
        stage: &str,
        result: &Result<Summary, String>,
        took: Duration,
    ) {
        self.drain_seconds.observe(took.as_secs_f64());
        let outcome = if result.is_ok() { "ok" } else { "error" };
        self.drains
            .get_or_create(&DrainLabels {
                project: project.into(),
                stage: stage.into(),
                outcome: outcome.into(),
            })
            .inc();
        let Ok(summary) = result else { return };
        for s in &summary.stages {
            let labels = |result: &str| TaskLabels {
                project: project.into(),
                stage: s.stage.clone(),
                result: result.into(),
            };
            let moved: usize = s.moved.values().sum();
            for (result, n) in [
                ("moved", moved),
                ("stayed", s.stayed),
                ("failed", s.failed),
                ("already_advanced", s.already_advanced),
            ] {
                self.tasks.get_or_create(&labels(result)).inc_by(n as u64);
            }
            self.retries
                .get_or_create(&labels("retried"))
                .inc_by(s.retries as u64);
            for (pathway, n) in &s.moved {
                self.pathways
                    .get_or_create(&PathwayLabels {
                        project: project.into(),
                        stage: s.stage.clone(),
                        pathway: pathway.clone(),
                    })
                    .inc_by(*n as u64);
            }
        }
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        let r = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &r);
        out
    }
}

/// The kind of a failed task's reason, for a label of few values.
pub fn failure_kind(why: &str) -> &'static str {
    let w = why.to_ascii_lowercase();
    if w.contains("timed out") || w.contains("timeout") {
        "timeout"
    } else if w.contains("memory") {
        "memory"
    } else if w.contains("fuel") {
        "fuel"
    } else if w.contains("trap") || w.contains("unreachable") || w.contains("panicked") {
        "trap"
    } else if w.contains("refused") || w.contains("rejected") {
        "refused"
    } else {
        "error"
    }
}

/// Feeds a drain's task reports into the metrics.
pub struct TaskMetrics {
    pub metrics: std::sync::Arc<Metrics>,
    pub project: String,
}

impl Progress for TaskMetrics {
    fn task_reported(&self, r: &TaskReport) {
        let stage = StageLabels {
            project: self.project.clone(),
            stage: r.stage.clone(),
        };
        if r.attempts > 0 {
            self.metrics
                .task_seconds
                .get_or_create(&stage)
                .observe(r.duration.as_secs_f64());
        }
        if let TaskResult::Failed(why) = &r.result {
            self.metrics
                .failures
                .get_or_create(&FailureLabels {
                    project: self.project.clone(),
                    stage: r.stage.clone(),
                    reason: failure_kind(why).into(),
                })
                .inc();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_reasons_fall_into_few_kinds() {
        assert_eq!(failure_kind("the task timed out after 2 s"), "timeout");
        assert_eq!(
            failure_kind("the instance exceeded its memory limit of 64 MiB"),
            "memory"
        );
        assert_eq!(
            failure_kind("wasm trap: wasm `unreachable` instruction executed"),
            "trap"
        );
        assert_eq!(
            failure_kind("moving the task was refused: pathway gone"),
            "refused"
        );
        assert_eq!(failure_kind("ValueError: nope"), "error");
    }

    #[test]
    fn a_drain_is_counted_with_its_tasks() {
        let m = Metrics::default();
        m.webhook("accepted");
        m.drained(
            "p",
            "s",
            &Err("no such stage".into()),
            Duration::from_millis(5),
        );
        let text = m.encode();
        assert!(
            text.contains("runner_host_webhooks_total{answer=\"accepted\"} 1"),
            "{text}"
        );
        assert!(
            text.contains(
                "runner_host_drains_total{project=\"p\",stage=\"s\",outcome=\"error\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("runner_host_drain_duration_seconds_count 1"),
            "{text}"
        );
    }
}
