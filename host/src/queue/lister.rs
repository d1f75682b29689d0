//! The one lister per project: every worker contends for the project's
//! lease (KV `rh_lease`, made with `create`, renewed with compare-and-swap
//! at a third of its time to live); the holder lists the served stages in
//! manifest order and queues one message per task. A stage is listed once
//! the one before it has drained, so tasks an earlier stage moves into a
//! later one are run in the same pass, as the single-process runner does.
//!
//! The lease is for efficiency only (one listing load on Encord, not N):
//! correctness rests on the queue's one-message-per-task limit and its
//! de-duplication by `<stage>:<task>`, so a second lister, a restart or a
//! stale listing never queues a task twice.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream::kv;
use futures::StreamExt;

use super::*;
use crate::runner::{Prepared, Runner};

/// Task messages being queued at once.
const PUBLISHES_IN_FLIGHT: usize = 64;

/// The lease while this worker holds it.
#[derive(Default)]
pub(super) struct Held {
    revision: Option<u64>,
    value: Option<LeaseValue>,
    renewer: Option<tokio::task::JoinHandle<()>>,
}

pub(super) struct Lister<'a> {
    pub(super) queue: Queue,
    pub(super) runner: &'a Runner,
    pub(super) prepared: &'a Prepared,
    pub(super) worker: String,
    pub(super) refresh_every: Option<Duration>,
    pub(super) max_tasks_per_stage: Option<usize>,
    /// Set once this pass's listing is complete (by whichever worker).
    pub(super) listed: Arc<AtomicBool>,
    pub(super) held: Arc<Mutex<Held>>,
}

impl Lister<'_> {
    fn key(&self) -> String {
        lease_key(self.prepared.project_hash())
    }

    fn holds(&self) -> bool {
        self.held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .revision
            .is_some()
    }

    /// Contends for the lease until this pass is listed (one pass) or the
    /// worker stops (polling).
    pub(super) async fn run(&self) {
        let stop = self.runner.stop_handle();
        // A worker not listing looks often: the pass being listed is what
        // lets a one-pass worker end once the queue is drained.
        let wait = (self.queue.lease_ttl / 3).min(Duration::from_millis(200));
        loop {
            if stop.is_stopped()
                || (self.refresh_every.is_none() && self.listed.load(Ordering::SeqCst))
            {
                return;
            }
            let value = LeaseValue {
                worker: self.worker.clone(),
                listed: false,
                pass: 1,
            };
            let body = serde_json::to_vec(&value).unwrap_or_default();
            match self.queue.lease.create(self.key(), body.into()).await {
                Ok(revision) => {
                    tracing::info!(worker = %self.worker, "holding the lister lease");
                    self.take(revision, value);
                    self.lead().await;
                    if self.refresh_every.is_none() && self.listed.load(Ordering::SeqCst) {
                        // Kept (renewed) until the worker ends, so the others
                        // see the pass listed.
                        return;
                    }
                }
                Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {
                    if let Ok(Some(entry)) = self.queue.lease.entry(self.key()).await {
                        let theirs: Option<LeaseValue> = serde_json::from_slice(&entry.value).ok();
                        if entry.operation == kv::Operation::Put && theirs.is_some_and(|v| v.listed)
                        {
                            self.listed.store(true, Ordering::SeqCst);
                        }
                    }
                }
                Err(e) => tracing::warn!("contending for the lister lease failed: {e}"),
            }
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = stop.stopped() => return,
            }
        }
    }

    /// Records the lease and renews it at a third of its time to live
    /// until it is lost or released.
    fn take(&self, revision: u64, value: LeaseValue) {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        held.revision = Some(revision);
        held.value = Some(value);
        let (queue, key, shared) = (self.queue.clone(), self.key(), self.held.clone());
        held.renewer = Some(tokio::spawn(async move {
            loop {
                tokio::time::sleep(queue.lease_ttl / 3).await;
                let (revision, body) = {
                    let h = shared.lock().unwrap_or_else(|e| e.into_inner());
                    let (Some(r), Some(v)) = (h.revision, h.value.as_ref()) else {
                        return;
                    };
                    (r, serde_json::to_vec(v).unwrap_or_default())
                };
                match queue.lease.update(&key, body.into(), revision).await {
                    Ok(r) => shared.lock().unwrap_or_else(|e| e.into_inner()).revision = Some(r),
                    Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                        tracing::warn!(
                            "lost the lister lease (it expired and another worker took it)"
                        );
                        shared.lock().unwrap_or_else(|e| e.into_inner()).revision = None;
                        return;
                    }
                    Err(e) => {
                        tracing::warn!("renewing the lister lease failed ({e}); trying again")
                    }
                }
            }
        }));
    }

    /// Marks the pass listed in the lease (for the other workers).
    async fn mark_listed(&self) {
        let (revision, body) = {
            let mut h = self.held.lock().unwrap_or_else(|e| e.into_inner());
            let Some(r) = h.revision else { return };
            let Some(v) = h.value.as_mut() else { return };
            v.listed = true;
            (r, serde_json::to_vec(v).unwrap_or_default())
        };
        match self
            .queue
            .lease
            .update(self.key(), body.into(), revision)
            .await
        {
            Ok(r) => {
                self.held.lock().unwrap_or_else(|e| e.into_inner()).revision = Some(r);
                self.listed.store(true, Ordering::SeqCst);
            }
            Err(e) => tracing::warn!("marking the pass listed failed: {e}"),
        }
    }

    /// Lists every served stage in order, once (one pass) or every
    /// `--refresh-every`, while the lease holds.
    async fn lead(&self) {
        let stop = self.runner.stop_handle();
        let stages = self.prepared.stages();
        loop {
            let pass_start = Instant::now();
            for (i, (uuid, title)) in stages.iter().enumerate() {
                if !self.holds() || stop.is_stopped() {
                    return;
                }
                // A stage is listed whole before the pass counts as listed:
                // a failed listing (Encord or the queue away) is tried again.
                loop {
                    match self.list_stage(uuid).await {
                        Ok((queued, already)) => {
                            tracing::info!(
                                stage = %title,
                                "listed: {queued} task(s) queued, {already} already queued or listed recently"
                            );
                            break;
                        }
                        Err(e) => {
                            tracing::error!(stage = %title, "listing tasks failed ({e}); trying again in 1 s")
                        }
                    }
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                        () = stop.stopped() => return,
                    }
                    if !self.holds() {
                        return;
                    }
                }
                if i + 1 < stages.len() && !self.wait_drained(uuid).await {
                    return;
                }
            }
            crate::runner::crash_point("lister-before-listed");
            self.mark_listed().await;
            let Some(every) = self.refresh_every else {
                return;
            };
            let next = pass_start + every;
            tokio::select! {
                () = tokio::time::sleep_until(next.into()) => {}
                () = stop.stopped() => return,
            }
        }
    }

    /// Queues the stage's tasks (but its dead letters); returns (queued,
    /// already queued or listed recently).
    async fn list_stage(&self, stage: &str) -> Result<(usize, usize), QueueError> {
        let project = self.prepared.project_hash();
        let dead: HashSet<String> = self
            .queue
            .dead_letters(project, stage)
            .await?
            .into_iter()
            .map(|(_, d)| d.message.task.uuid)
            .collect();
        let mut left = self.max_tasks_per_stage.unwrap_or(usize::MAX);
        let (mut queued, mut already) = (0, 0);
        let mut token: Option<String> = None;
        while left > 0 && self.holds() {
            let page = self
                .runner
                .list_page(self.prepared, stage, token.as_deref())
                .await
                .map_err(|e| QueueError::Nats(format!("listing the stage: {e}")))?;
            let listed_at = now();
            let mut messages = Vec::new();
            for task in page.tasks {
                if dead.contains(&task.uuid) || left == 0 {
                    continue;
                }
                left -= 1;
                messages.push(TaskMessage {
                    v: 1,
                    project_hash: project.to_string(),
                    stage_uuid: stage.to_string(),
                    task,
                    listed_at: listed_at.clone(),
                });
            }
            let results: Vec<Result<bool, QueueError>> = futures::stream::iter(&messages)
                .map(|m| async move {
                    self.queue
                        .publish_task(m, &message_id(stage, &m.task.uuid))
                        .await
                })
                .buffered(PUBLISHES_IN_FLIGHT)
                .collect()
                .await;
            for r in results {
                if r? {
                    queued += 1;
                } else {
                    already += 1;
                }
            }
            token = page.next_page_token;
            if token.is_none() {
                break;
            }
        }
        Ok((queued, already))
    }

    /// Waits until the stage has no task queued or in flight; false when
    /// the lease was lost or the worker stopped meanwhile.
    async fn wait_drained(&self, stage: &str) -> bool {
        let stop = self.runner.stop_handle();
        loop {
            if !self.holds() || stop.is_stopped() {
                return false;
            }
            match self
                .queue
                .stage_messages(self.prepared.project_hash(), stage)
                .await
            {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e) => tracing::warn!("reading the queue failed ({e}); trying again"),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Stops renewing; with `drained`, gives the lease up, so a later run
    /// lists afresh (else it expires on its own).
    pub(super) async fn release(&self, drained: bool) {
        let revision = {
            let mut h = self.held.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(r) = h.renewer.take() {
                r.abort();
            }
            h.revision.take()
        };
        if let (Some(revision), true) = (revision, drained) {
            if let Err(e) = self
                .queue
                .lease
                .purge_expect_revision(self.key(), Some(revision))
                .await
            {
                tracing::debug!("giving the lister lease up failed: {e}");
            }
        }
    }
}
