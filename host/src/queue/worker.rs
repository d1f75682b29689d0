//! `runner-host worker`: takes batches of a project's tasks from the queue,
//! stage by stage in manifest order, and runs each batch through the
//! runner: fetch → heartbeat → re-check still-in-stage → load → run → saves
//! → moves → acknowledge. Meanwhile it contends for the project's lister
//! lease ([`super::lister`]).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::{self, AckKind};
use futures::StreamExt;

use super::lister::Lister;
use super::*;
use crate::runner::{Runner, StageSummary, Summary, TaskReport, TaskResult};

/// How long an idle worker waits before it looks for work again.
const IDLE_POLL: Duration = Duration::from_millis(100);
/// How long a batch should take when its size is left to the worker: long
/// enough to spread each batch's round trips over many tasks, short enough
/// that no worker sits on tasks another could be running.
const BATCH_TIME: Duration = Duration::from_secs(1);
/// Most tasks taken per batch when the size is left to the worker.
const MAX_FETCH: usize = 300;
/// How long a pull waits on the server for messages. (A pull that asks not
/// to wait went unanswered after nats-server 2.9.10 restarted on its store.)
const PULL_EXPIRES: Duration = Duration::from_millis(200);
/// Longest wait for what a fetch asked for.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Batches of one stage in flight at once.
const PIPELINE: usize = 2;
/// Messages acknowledged at once.
const ACKS_IN_FLIGHT: usize = 64;
/// Longest wait before a failed task's next delivery.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(300);

/// A worker's settings (the run options are the runner's).
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    pub queue_url: String,
    /// This worker's name in `queue status` and in results.
    pub worker_id: String,
    /// How long a delivered task stays this worker's without a heartbeat.
    pub ack_wait: Duration,
    /// How often a batch's tasks are heartbeaten.
    pub heartbeat: Duration,
    /// Deliveries of a task before it is a dead letter.
    pub max_deliver: u32,
    /// The lister lease's time to live (when this worker makes its bucket).
    pub lease_ttl: Duration,
    /// Tasks taken (and run) per batch (`--task-batch-size`); none: sized
    /// to what this worker runs in about [`BATCH_TIME`], between
    /// `concurrency` and [`MAX_FETCH`] tasks.
    pub fetch: Option<usize>,
    /// Tasks run at once.
    pub concurrency: usize,
    /// Re-list every N (whichever worker lists); none: one pass, then exit
    /// once the stages are drained.
    pub refresh_every: Option<Duration>,
    pub max_tasks_per_stage: Option<usize>,
}

impl WorkerOptions {
    /// Checks the settings that need no server.
    pub fn check(&self) -> Result<(), QueueError> {
        let bad = |m: &str| Err(QueueError::Config(m.to_string()));
        if self.ack_wait < Duration::from_secs(1) {
            return bad("--ack-wait must be at least 1 s");
        }
        if self.heartbeat.is_zero() || self.heartbeat * 2 >= self.ack_wait {
            return bad("--heartbeat must be above 0 and under half of --ack-wait (e.g. --ack-wait 30 --heartbeat 10)");
        }
        if self.max_deliver == 0 {
            return bad("--max-deliver must be at least 1");
        }
        if self.fetch == Some(0) || self.concurrency == 0 {
            return bad("--task-batch-size and --concurrency must be at least 1");
        }
        if self.lease_ttl < Duration::from_secs(1) {
            return bad("--lease-ttl must be at least 1 s");
        }
        if !self
            .worker_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            || self.worker_id.is_empty()
        {
            return bad("--worker-id may hold only letters, digits, - and _");
        }
        Ok(())
    }
}

/// How a worker ended.
pub struct WorkerEnd {
    /// What this worker did.
    pub summary: Summary,
    /// Tasks of the project that became dead letters since this worker
    /// started (by any worker).
    pub failed_for_good: usize,
}

/// One served stage and its consumers.
struct Stage {
    uuid: String,
    title: String,
    tasks: PullConsumer,
    advisories: PullConsumer,
}

/// One delivered task of a batch.
struct Item {
    msg: Arc<jetstream::Message>,
    task: TaskMessage,
    delivered: u64,
}

/// Counts the registry publishes.
#[derive(Default)]
struct Counts {
    done: AtomicU64,
    failed: AtomicU64,
}

/// Runs the worker on `queue` (see [`Queue::connect`], which a caller runs
/// before it opens anything else, so that a bad URL, an unreachable server
/// or one without JetStream touches nothing) until its stages are drained
/// (one pass) or it is stopped (polling). Everything is prepared before the
/// first task: a runner that cannot start ends it with one line.
pub async fn work(
    queue: Queue,
    runner: &Runner,
    options: WorkerOptions,
) -> Result<WorkerEnd, QueueError> {
    options.check()?;
    let started_at = now();
    let prepared = runner.prepare_tasks().await?;
    let project = prepared.project_hash().to_string();
    let mut stages = Vec::new();
    for (uuid, title) in prepared.stages() {
        let tasks = queue
            .consumer(
                &project,
                &uuid,
                &title,
                options.ack_wait,
                i64::from(options.max_deliver),
            )
            .await?;
        let advisories = queue.advisory_consumer(&project, &uuid).await?;
        stages.push(Stage {
            uuid,
            title,
            tasks,
            advisories,
        });
    }
    tracing::info!(
        worker = %options.worker_id,
        "worker on {}: stage(s) {}",
        queue.url,
        stages.iter().map(|s| s.title.as_str()).collect::<Vec<_>>().join(", ")
    );
    let counts = Arc::new(Counts::default());
    let registry = tokio::spawn(register(
        queue.clone(),
        WorkerEntry {
            worker: options.worker_id.clone(),
            host: host_name(),
            pid: std::process::id(),
            project_hash: project.clone(),
            started_at: started_at.clone(),
            last_heartbeat: String::new(),
            done: 0,
            failed: 0,
            finished: false,
        },
        counts.clone(),
    ));
    let listed = Arc::new(AtomicBool::new(false));
    let lister = Lister {
        queue: queue.clone(),
        runner,
        prepared: &prepared,
        worker: options.worker_id.clone(),
        refresh_every: options.refresh_every,
        max_tasks_per_stage: options.max_tasks_per_stage,
        listed: listed.clone(),
        held: Default::default(),
    };
    let worker = Worker {
        queue: queue.clone(),
        runner,
        prepared: &prepared,
        options: &options,
        stages,
        listed,
        counts: counts.clone(),
        gate: tokio::sync::Semaphore::new(1),
    };
    // Both in this task: the runner's futures need not be Send.
    let summary = {
        let listing = lister.run();
        let draining = worker.drain();
        tokio::pin!(listing, draining);
        let mut listing_done = false;
        loop {
            tokio::select! {
                summary = &mut draining => break summary,
                () = &mut listing, if !listing_done => listing_done = true,
            }
        }
    };
    registry.abort();
    let drained = worker.drained().await.unwrap_or(false);
    lister.release(drained).await;
    finish_registry(&queue, &worker.entry_of(&project, &started_at), &counts).await;
    let failed_for_good = match queue.dead_letters(&project, "*").await {
        Ok(letters) => letters.iter().filter(|(_, d)| d.at >= started_at).count(),
        Err(e) => {
            tracing::warn!("reading the dead letters failed: {e}");
            0
        }
    };
    Ok(WorkerEnd {
        summary,
        failed_for_good,
    })
}

struct Worker<'a> {
    queue: Queue,
    runner: &'a Runner,
    prepared: &'a crate::runner::Prepared,
    options: &'a WorkerOptions,
    stages: Vec<Stage>,
    /// This pass's listing is complete (seen by the lister).
    listed: Arc<AtomicBool>,
    counts: Arc<Counts>,
    /// One batch runs at a time; the next loads, the one before writes.
    gate: tokio::sync::Semaphore,
}

impl Worker<'_> {
    /// Takes batches, earlier stages first, until drained (one pass) or stopped.
    async fn drain(&self) -> Summary {
        let stop = self.runner.stop_handle();
        let mut summaries: Vec<StageSummary> = self
            .stages
            .iter()
            .map(|s| StageSummary::new(&s.title))
            .collect();
        let started = Instant::now();
        let mut size = self
            .options
            .fetch
            .unwrap_or(self.options.concurrency * 4)
            .max(1);
        'work: while !stop.is_stopped() {
            for (i, stage) in self.stages.iter().enumerate() {
                let msgs = match fetch(&stage.tasks, size).await {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::warn!(stage = %stage.title, "taking tasks from the queue failed ({e}); trying again");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue 'work;
                    }
                };
                if msgs.is_empty() {
                    continue;
                }
                // Batches of this stage in flight, up to PIPELINE: one runs
                // while the next loads and the one before writes.
                let mut inflight = futures::stream::FuturesUnordered::new();
                let sized = |msgs: Vec<jetstream::Message>| {
                    let (n, began) = (msgs.len(), Instant::now());
                    async move {
                        let reports = self.batch(stage, msgs).await;
                        (n, began.elapsed(), reports)
                    }
                };
                inflight.push(sized(msgs));
                // The next pull waits on the server while the batches in
                // flight go on; a pull that came back empty is tried again
                // once a batch ends.
                let mut pull = None;
                let mut pull_again = true;
                loop {
                    if pull.is_none()
                        && pull_again
                        && inflight.len() < PIPELINE
                        && !stop.is_stopped()
                    {
                        pull = Some(Box::pin(fetch(&stage.tasks, size)));
                    }
                    if inflight.is_empty() && pull.is_none() {
                        break;
                    }
                    tokio::select! {
                        got = async { pull.as_mut().expect("a pull").await }, if pull.is_some() => {
                            pull = None;
                            match got {
                                Ok(msgs) if !msgs.is_empty() => inflight.push(sized(msgs)),
                                _ => pull_again = false,
                            }
                        }
                        Some((n, took, reports)) = inflight.next(), if !inflight.is_empty() => {
                            for r in reports {
                                summaries[i].record(&r);
                            }
                            if self.options.fetch.is_none() {
                                // From load to ack, waits for the run step included.
                                let per_task = took.as_secs_f64() / n as f64;
                                size = ((BATCH_TIME.as_secs_f64() / per_task.max(1e-6)) as usize)
                                    .clamp(self.options.concurrency, MAX_FETCH);
                            }
                            pull_again = true;
                        }
                    }
                }
                // Back to the first stage: earlier stages drain first.
                continue 'work;
            }
            for stage in &self.stages {
                self.bury_unsettled(stage).await;
            }
            if self.options.refresh_every.is_none()
                && self.listed.load(Ordering::SeqCst)
                && self.drained().await.unwrap_or(false)
            {
                break;
            }
            tokio::select! {
                () = tokio::time::sleep(IDLE_POLL) => {}
                () = stop.stopped() => {}
            }
        }
        let mut summary = Summary::default();
        for mut s in summaries {
            s.duration = started.elapsed();
            summary.add(s);
        }
        summary.interrupted = stop.is_stopped();
        summary
    }

    /// Whether no task of a served stage is queued, in flight or waiting
    /// for a retry.
    async fn drained(&self) -> Result<bool, QueueError> {
        for s in &self.stages {
            if self
                .queue
                .stage_messages(self.prepared.project_hash(), &s.uuid)
                .await?
                > 0
            {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn entry_of(&self, project: &str, started_at: &str) -> WorkerEntry {
        WorkerEntry {
            worker: self.options.worker_id.clone(),
            host: host_name(),
            pid: std::process::id(),
            project_hash: project.to_string(),
            started_at: started_at.to_string(),
            last_heartbeat: String::new(),
            done: 0,
            failed: 0,
            finished: true,
        }
    }

    /// Runs one delivered batch and settles each of its messages.
    async fn batch(&self, stage: &Stage, msgs: Vec<jetstream::Message>) -> Vec<TaskReport> {
        let project = self.prepared.project_hash();
        let mut items = Vec::with_capacity(msgs.len());
        for m in msgs {
            let delivered = m.info().map(|i| i.delivered.max(1) as u64).unwrap_or(1);
            match serde_json::from_slice::<TaskMessage>(&m.payload) {
                Ok(t) if t.v == 1 && t.project_hash == project && t.stage_uuid == stage.uuid => {
                    items.push(Item {
                        msg: Arc::new(m),
                        task: t,
                        delivered,
                    })
                }
                other => {
                    let why = match other {
                        Ok(t) => format!(
                            "version {} for project {} stage {}",
                            t.v, t.project_hash, t.stage_uuid
                        ),
                        Err(e) => e.to_string(),
                    };
                    tracing::error!(subject = %m.subject, "dropping an unreadable task message from the queue: {why}");
                    if let Err(e) = m.ack_with(AckKind::Term).await {
                        tracing::warn!("dropping it failed: {e}");
                    }
                }
            }
        }
        if items.is_empty() {
            return Vec::new();
        }
        let hold = Hold::start(
            items.iter().map(|i| i.msg.clone()).collect(),
            self.options.heartbeat,
            self.options.ack_wait,
        );
        tracing::info!(
            stage = %stage.title,
            worker = %self.options.worker_id,
            "batch started: {} task(s)",
            items.len()
        );
        let tasks: Vec<Task> = items.iter().map(|i| i.task.task.clone()).collect();
        let present = match self
            .runner
            .still_in_stage(self.prepared, &stage.uuid, &tasks)
            .await
        {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(stage = %stage.title, "re-checking a batch failed ({e}); it goes back to the queue");
                for i in &items {
                    nak(i, Some(Duration::from_secs(1))).await;
                }
                return Vec::new();
            }
        };
        let here: HashSet<&str> = present.iter().map(|t| t.uuid.as_str()).collect();
        let by_task: HashMap<&str, &Item> = items
            .iter()
            .map(|i| (i.task.task.uuid.as_str(), i))
            .collect();
        let mut reports: Vec<TaskReport> = items
            .iter()
            .filter(|i| !here.contains(i.task.task.uuid.as_str()))
            .map(|i| {
                TaskReport::new(
                    i.task.task.clone(),
                    &stage.title,
                    // Left the stage before this delivery ran it (an earlier
                    // delivery's move, or someone in Encord).
                    TaskResult::AlreadyAdvanced(String::new()),
                )
            })
            .collect();
        self.runner.record(self.prepared, &reports);
        if !present.is_empty() {
            reports.extend(
                self.runner
                    .run_tasks(
                        self.prepared,
                        &stage.uuid,
                        present,
                        Some(&self.gate),
                        || hold.holds(),
                    )
                    .await,
            );
        }
        crate::runner::crash_point("before-acks");
        let holds = hold.holds();
        let settled: Vec<(&Item, &TaskReport, &'static str)> = futures::stream::iter(
            reports
                .iter()
                .filter_map(|r| Some((*by_task.get(r.task.uuid.as_str())?, r))),
        )
        .map(|(item, r)| async move { (item, r, self.settle(item, r, holds).await) })
        .buffered(ACKS_IN_FLIGHT)
        .collect()
        .await;
        let mut events = Vec::with_capacity(reports.len());
        for (item, r, outcome) in settled {
            events.push(ResultEvent {
                task_uuid: r.task.uuid.clone(),
                data_title: r.task.data_title.clone(),
                stage_uuid: stage.uuid.clone(),
                worker: self.options.worker_id.clone(),
                delivery: item.delivered,
                outcome: outcome.into(),
                pathway: match &r.result {
                    TaskResult::Moved(p) | TaskResult::AlreadyAdvanced(p) if !p.is_empty() => {
                        Some(p.clone())
                    }
                    _ => None,
                },
                error: match &r.result {
                    TaskResult::Failed(e) => Some(e.clone()),
                    _ => None,
                },
                ms: r.duration.as_millis() as u64,
            });
        }
        drop(hold);
        self.publish_results(&stage.uuid, events).await;
        reports
    }

    /// Acknowledges, retries or buries one task's message; returns the
    /// outcome's name.
    async fn settle(&self, item: &Item, r: &TaskReport, holds: bool) -> &'static str {
        match &r.result {
            TaskResult::Moved(_)
            | TaskResult::AlreadyAdvanced(_)
            | TaskResult::Stayed
            | TaskResult::SkippedFailed(_) => {
                ack(item).await;
                self.counts.done.fetch_add(1, Ordering::Relaxed);
                match &r.result {
                    TaskResult::Moved(_) => "moved",
                    TaskResult::AlreadyAdvanced(_) => "already_advanced",
                    _ => "stayed",
                }
            }
            TaskResult::Failed(error) if item.delivered >= u64::from(self.options.max_deliver) => {
                let letter = DeadLetter {
                    message: item.task.clone(),
                    error: error.clone(),
                    worker: self.options.worker_id.clone(),
                    deliveries: item.delivered,
                    at: now(),
                };
                match self.queue.bury(&letter).await {
                    Ok(()) => {
                        tracing::error!(task = %r.task.uuid, title = %r.task.data_title, "task failed for good after {} deliveries: {error} (`runner-host queue retry` runs it again)", item.delivered);
                        if let Err(e) = item.msg.ack_with(AckKind::Term).await {
                            tracing::warn!("removing the failed task from the queue failed: {e}");
                        }
                        self.counts.failed.fetch_add(1, Ordering::Relaxed);
                        "dead"
                    }
                    Err(e) => {
                        // Not recorded: the message stays, and its next
                        // delivery (after the ack wait) tries again.
                        tracing::error!(task = %r.task.uuid, "recording the failed task failed ({e}); it stays queued");
                        "failed"
                    }
                }
            }
            TaskResult::Failed(error) => {
                let delay = retry_delay(self.options.ack_wait, item.delivered);
                tracing::warn!(task = %r.task.uuid, "task failed on delivery {} ({error}); retried in {:.1} s", item.delivered, delay.as_secs_f64());
                nak(item, Some(delay)).await;
                "failed"
            }
            TaskResult::Abandoned => {
                if holds {
                    // Stopped before it ran: straight back to the queue.
                    nak(item, None).await;
                }
                // Otherwise the hold may be lost: nothing was written, and the
                // message is redelivered when its ack wait ends.
                "abandoned"
            }
        }
    }

    async fn publish_results(&self, stage: &str, events: Vec<ResultEvent>) {
        let subject = result_subject(self.prepared.project_hash(), stage);
        let mut acks = Vec::with_capacity(events.len());
        for e in events {
            let Ok(body) = serde_json::to_vec(&e) else {
                continue;
            };
            match self.queue.js.publish(subject.clone(), body.into()).await {
                Ok(ack) => acks.push(ack),
                Err(e) => {
                    tracing::warn!("publishing a task result failed: {e}");
                    return;
                }
            }
        }
        for a in
            futures::future::join_all(acks.into_iter().map(std::future::IntoFuture::into_future))
                .await
        {
            if let Err(e) = a {
                tracing::warn!("publishing a task result failed: {e}");
            }
        }
    }

    /// Tasks the server gave up on (delivered --max-deliver times, never
    /// settled: the worker running them died or hung each time) become dead
    /// letters and leave the queue.
    async fn bury_unsettled(&self, stage: &Stage) {
        let Ok(msgs) = fetch(&stage.advisories, 100).await else {
            return;
        };
        for m in msgs {
            #[derive(Deserialize)]
            struct Advisory {
                stream_seq: u64,
                deliveries: u64,
            }
            let Ok(a) = serde_json::from_slice::<Advisory>(&m.payload) else {
                m.ack().await.ok();
                continue;
            };
            if let Ok(raw) = self.queue.tasks.get_raw_message(a.stream_seq).await {
                if let Ok(task) = serde_json::from_slice::<TaskMessage>(&raw.payload) {
                    let letter = DeadLetter {
                        error: format!(
                            "delivered {} times and never settled: the worker running it died or hung each time",
                            a.deliveries
                        ),
                        message: task,
                        worker: self.options.worker_id.clone(),
                        deliveries: a.deliveries,
                        at: now(),
                    };
                    if self.queue.bury(&letter).await.is_err() {
                        m.ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
                            .await
                            .ok();
                        continue;
                    }
                    tracing::error!(task = %letter.message.task.uuid, "{}", letter.error);
                    self.counts.failed.fetch_add(1, Ordering::Relaxed);
                }
                self.queue.tasks.delete_message(a.stream_seq).await.ok();
            }
            m.ack().await.ok();
        }
    }
}

/// The wait before a failed task's next delivery: a sixth of the ack wait,
/// doubled per delivery (5 s, 10 s, 20 s… with the default 30 s), at most 5 min.
fn retry_delay(ack_wait: Duration, delivered: u64) -> Duration {
    let base = ack_wait / 6;
    let factor = 1u32 << delivered.saturating_sub(1).min(16);
    (base * factor).min(MAX_RETRY_DELAY)
}

/// What is deliverable on `consumer` now, up to `n` messages.
async fn fetch(consumer: &PullConsumer, n: usize) -> Result<Vec<jetstream::Message>, String> {
    // A pull request lost with the connection is never answered.
    tokio::time::timeout(FETCH_TIMEOUT, fetch_now(consumer, n))
        .await
        .map_err(|_| "no answer from the server".to_string())?
}

async fn fetch_now(consumer: &PullConsumer, n: usize) -> Result<Vec<jetstream::Message>, String> {
    let mut batch = consumer
        .batch()
        .max_messages(n)
        .expires(PULL_EXPIRES)
        .messages()
        .await
        .map_err(|e| e.to_string())?;
    let mut msgs = Vec::new();
    while let Some(m) = batch.next().await {
        match m {
            Ok(m) => msgs.push(m),
            Err(e) if msgs.is_empty() => return Err(e.to_string()),
            Err(_) => break,
        }
    }
    Ok(msgs)
}

/// Acknowledges a settled task, confirmed by the server (retried a few
/// times; an unconfirmed ack means one more delivery, whose re-check finds
/// a moved task gone).
async fn ack(item: &Item) {
    for attempt in 1..=3 {
        match item.msg.double_ack().await {
            Ok(()) => return,
            Err(e) if attempt == 3 => {
                tracing::warn!(task = %item.task.task.uuid, "acknowledging failed ({e}): it will be delivered again and found settled")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

async fn nak(item: &Item, delay: Option<Duration>) {
    if let Err(e) = item.msg.ack_with(AckKind::Nak(delay)).await {
        tracing::warn!(task = %item.task.task.uuid, "handing the task back failed ({e}); it returns after the ack wait");
    }
}

/// A batch's hold on its messages: in-progress heartbeats every
/// `heartbeat`, each confirmed by the server. Once the last confirmed round
/// is too old for the writes to finish inside the ack wait, the hold is
/// lost: the server may have handed the tasks to another worker (and would
/// still accept this worker's late acks, nats-server#4786), so nothing is
/// written or acknowledged.
struct Hold {
    last_ok: Arc<Mutex<Instant>>,
    heartbeat: Duration,
    ack_wait: Duration,
    beats: tokio::task::JoinHandle<()>,
}

impl Hold {
    fn start(msgs: Vec<Arc<jetstream::Message>>, heartbeat: Duration, ack_wait: Duration) -> Hold {
        let last_ok = Arc::new(Mutex::new(Instant::now()));
        let beats = tokio::spawn({
            let last_ok = last_ok.clone();
            async move {
                loop {
                    tokio::time::sleep(heartbeat).await;
                    let round = Instant::now();
                    let beats = msgs.iter().map(|m| {
                        tokio::time::timeout(heartbeat, m.double_ack_with(AckKind::Progress))
                    });
                    let all_ok = futures::future::join_all(beats)
                        .await
                        .into_iter()
                        .all(|r| matches!(r, Ok(Ok(()))));
                    if all_ok {
                        *last_ok.lock().unwrap_or_else(|e| e.into_inner()) = round;
                    } else {
                        tracing::warn!("a heartbeat of the batch went unconfirmed");
                    }
                }
            }
        });
        Hold {
            last_ok,
            heartbeat,
            ack_wait,
            beats,
        }
    }

    /// Whether the tasks are surely still this worker's long enough to write.
    fn holds(&self) -> bool {
        let last = *self.last_ok.lock().unwrap_or_else(|e| e.into_inner());
        let held = last.elapsed() + self.heartbeat < self.ack_wait;
        if !held {
            tracing::warn!(
                "lost the hold on a batch (no confirmed heartbeat for {:.1} s): it is abandoned, nothing written",
                last.elapsed().as_secs_f64()
            );
        }
        held
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.beats.abort();
    }
}

/// Keeps this worker's registry entry fresh every 5 s.
async fn register(queue: Queue, mut entry: WorkerEntry, counts: Arc<Counts>) {
    loop {
        entry.last_heartbeat = now();
        entry.done = counts.done.load(Ordering::Relaxed);
        entry.failed = counts.failed.load(Ordering::Relaxed);
        if let Ok(body) = serde_json::to_vec(&entry) {
            if let Err(e) = queue
                .workers
                .put(worker_key(&entry.project_hash, &entry.worker), body.into())
                .await
            {
                tracing::debug!("updating the worker registry failed: {e}");
            }
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

async fn finish_registry(queue: &Queue, entry: &WorkerEntry, counts: &Counts) {
    let mut entry = entry.clone();
    entry.last_heartbeat = now();
    entry.done = counts.done.load(Ordering::Relaxed);
    entry.failed = counts.failed.load(Ordering::Relaxed);
    if let Ok(body) = serde_json::to_vec(&entry) {
        queue
            .workers
            .put(worker_key(&entry.project_hash, &entry.worker), body.into())
            .await
            .ok();
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "host".into())
}

/// The default worker id: host name and pid, in the characters ids allow.
pub fn default_worker_id() -> String {
    let host: String = host_name()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{host}-{}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_task_waits_longer_at_each_delivery_up_to_five_minutes() {
        let w = Duration::from_secs(30);
        assert_eq!(retry_delay(w, 1), Duration::from_secs(5));
        assert_eq!(retry_delay(w, 2), Duration::from_secs(10));
        assert_eq!(retry_delay(w, 3), Duration::from_secs(20));
        assert_eq!(retry_delay(w, 20), MAX_RETRY_DELAY);
    }

    #[test]
    fn a_heartbeat_must_fit_twice_in_the_ack_wait() {
        let mut o = WorkerOptions {
            queue_url: "nats://127.0.0.1:4222".into(),
            worker_id: "w1".into(),
            ack_wait: Duration::from_secs(30),
            heartbeat: Duration::from_secs(10),
            max_deliver: 5,
            lease_ttl: Duration::from_secs(15),
            fetch: Some(20),
            concurrency: 1,
            refresh_every: None,
            max_tasks_per_stage: None,
        };
        assert!(o.check().is_ok());
        o.heartbeat = Duration::from_secs(15);
        assert!(o.check().unwrap_err().to_string().contains("--heartbeat"));
        o.heartbeat = Duration::from_secs(10);
        o.worker_id = "a.b".into();
        assert!(o.check().unwrap_err().to_string().contains("--worker-id"));
    }
}
