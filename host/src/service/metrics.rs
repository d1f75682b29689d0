//! The service's Prometheus metrics (prometheus-client, OpenMetrics text).

use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::runner::Summary;

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

pub struct Metrics {
    registry: Mutex<Registry>,
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
