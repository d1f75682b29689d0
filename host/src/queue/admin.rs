//! `runner-host queue status|failed|retry`: what the queue holds for a
//! project, read from the server alone (no Encord, no component).

use std::time::Duration;

use futures::TryStreamExt;
use serde::Serialize;

use super::*;

/// One stage's queue.
#[derive(Debug, Serialize)]
pub struct StageStatus {
    pub stage_uuid: String,
    pub title: String,
    /// Waiting for a worker.
    pub queued: u64,
    /// Delivered and not yet settled.
    pub in_flight: usize,
    /// Delivered again (after a worker died or a retry).
    pub redelivered: usize,
    /// Dead letters (failed for good).
    pub failed: usize,
}

#[derive(Debug, Serialize)]
pub struct QueueStatus {
    pub project_hash: String,
    pub stages: Vec<StageStatus>,
    /// The worker holding the lister lease, if any.
    pub lister: Option<String>,
    pub workers: Vec<WorkerEntry>,
}

async fn connect(url: &str) -> Result<Queue, QueueError> {
    Queue::connect(url, "runner-host queue", Duration::from_secs(15)).await
}

/// Per stage, tasks queued, in flight, redelivered and failed; the lister
/// and each worker's last heartbeat and counts.
pub async fn status(url: &str, project: &str) -> Result<QueueStatus, QueueError> {
    let queue = connect(url).await?;
    let prefix = format!("rh-{project}-");
    let names: Vec<String> = queue
        .tasks
        .consumer_names()
        .try_collect()
        .await
        .map_err(|e| nats_err("listing consumers")(&e))?;
    let dead = queue.dead_letters(project, "*").await?;
    let mut stages = Vec::new();
    for name in names.iter().filter(|n| n.starts_with(&prefix)) {
        let stage_uuid = name[prefix.len()..].to_string();
        let info = queue
            .tasks
            .consumer_info(name)
            .await
            .map_err(|e| nats_err("reading a consumer")(&e))?;
        let title = info
            .config
            .description
            .as_deref()
            .and_then(|d| d.split_once(" / ").map(|(_, t)| t.to_string()))
            .unwrap_or_else(|| stage_uuid.clone());
        stages.push(StageStatus {
            failed: dead
                .iter()
                .filter(|(_, d)| d.message.stage_uuid == stage_uuid)
                .count(),
            stage_uuid,
            title,
            queued: info.num_pending,
            in_flight: info.num_ack_pending,
            redelivered: info.num_redelivered,
        });
    }
    let lister = match queue.lease.entry(lease_key(project)).await {
        Ok(Some(e)) if e.operation == kv::Operation::Put => {
            serde_json::from_slice::<LeaseValue>(&e.value)
                .ok()
                .map(|v| v.worker)
        }
        _ => None,
    };
    let mut workers = Vec::new();
    if let Ok(keys) = queue.workers.keys().await {
        let keys: Vec<String> = keys.try_collect().await.unwrap_or_default();
        for key in keys
            .iter()
            .filter(|k| k.starts_with(&format!("{project}.")))
        {
            if let Ok(Some(v)) = queue.workers.get(key).await {
                if let Ok(w) = serde_json::from_slice::<WorkerEntry>(&v) {
                    workers.push(w);
                }
            }
        }
    }
    workers.sort_by(|a, b| a.worker.cmp(&b.worker));
    Ok(QueueStatus {
        project_hash: project.to_string(),
        stages,
        lister,
        workers,
    })
}

impl std::fmt::Display for QueueStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "project {}", self.project_hash)?;
        if self.stages.is_empty() {
            writeln!(f, "  no stage queued yet (start `runner-host worker`)")?;
        }
        writeln!(
            f,
            "  {:<24} {:>8} {:>10} {:>12} {:>7}",
            "stage", "queued", "in flight", "redelivered", "failed"
        )?;
        for s in &self.stages {
            writeln!(
                f,
                "  {:<24} {:>8} {:>10} {:>12} {:>7}",
                s.title, s.queued, s.in_flight, s.redelivered, s.failed
            )?;
        }
        writeln!(
            f,
            "lister: {}",
            self.lister
                .as_deref()
                .unwrap_or("none (the pass is listed, or no worker runs)")
        )?;
        for w in &self.workers {
            writeln!(
                f,
                "worker {} ({} pid {}): {} done, {} failed for good, last heartbeat {}{}",
                w.worker,
                w.host,
                w.pid,
                w.done,
                w.failed,
                w.last_heartbeat,
                if w.finished { ", finished" } else { "" }
            )?;
        }
        Ok(())
    }
}

/// The project's dead letters, oldest first.
pub async fn failed(url: &str, project: &str) -> Result<Vec<DeadLetter>, QueueError> {
    let queue = connect(url).await?;
    Ok(queue
        .dead_letters(project, "*")
        .await?
        .into_iter()
        .map(|(_, d)| d)
        .collect())
}

/// Queues dead letters again (those of `tasks`, or all when empty) and
/// removes them; returns the tasks queued. A task not among the dead
/// letters is an error, and then nothing is queued.
pub async fn retry(url: &str, project: &str, tasks: &[String]) -> Result<Vec<String>, QueueError> {
    let queue = connect(url).await?;
    let letters = queue.dead_letters(project, "*").await?;
    if let Some(missing) = tasks
        .iter()
        .find(|t| !letters.iter().any(|(_, d)| &d.message.task.uuid == *t))
    {
        return Err(QueueError::Config(format!(
            "task `{missing}` is not a dead letter of project {project}: `runner-host queue failed` lists them"
        )));
    }
    let mut queued = Vec::new();
    for (subject, letter) in letters {
        let task = &letter.message.task.uuid;
        if !tasks.is_empty() && !tasks.contains(task) {
            continue;
        }
        let mut message = letter.message.clone();
        message.listed_at = now();
        // A new id: the first listing's id may still be in the duplicate window.
        let id = format!(
            "{}:retry:{}",
            message_id(&message.stage_uuid, task),
            uuid::Uuid::new_v4()
        );
        queue.publish_task(&message, &id).await?;
        queue
            .dead
            .purge()
            .filter(subject)
            .await
            .map_err(|e| nats_err("removing a dead letter")(&e))?;
        queued.push(task.clone());
    }
    Ok(queued)
}
