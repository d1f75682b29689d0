//! Scale-out: many `runner-host worker` processes, on any number of
//! machines, share a project's agent stages through NATS JetStream
//! (`docs/scaling-out.md`; the research behind it is
//! `shared/specs/scale-out.md`).
//!
//! Encord (or the store) stays the source of truth; the queue only hands
//! out work:
//! - `RH_TASKS` (work queue): one message per task waiting in a served
//!   stage, subject `rh.task.<project>.<stage>.<task>`, at most one per
//!   subject and de-duplicated by the id `<stage>:<task>`, so no listing,
//!   second lister or restart queues a task twice while it waits or runs.
//! - One durable pull consumer per stage: a delivery not acknowledged within
//!   the ack wait goes to another worker; a live worker extends it with
//!   in-progress heartbeats.
//! - `RH_DEAD`: tasks that failed for good, with their reason, until
//!   `runner-host queue retry`. `RH_ADV` keeps the server's max-deliveries
//!   advisories (a task whose worker died at every delivery).
//! - `RH_RESULTS`: one event per task settled, for `queue status`.
//! - KV `rh_lease`: the one lister per project; `rh_workers`: each worker's
//!   last heartbeat and counts.
//!
//! Routing is exactly-once (a worker re-checks that each task is still in
//! its stage before it runs it, saves before it moves, acknowledges last,
//! and writes nothing once it may have lost its hold); runs and saves are
//! at-least-once.
//!
//! Only what Debian's nats-server 2.9.10 serves is used (async-nats is
//! built without its `server_2_10` features).

pub mod admin;
pub mod compat;
mod lister;
mod worker;

use std::time::Duration;

use async_nats::jetstream::{self, kv, stream};
use serde::{Deserialize, Serialize};

use crate::platform::Task;

pub use worker::{default_worker_id as worker_id, work, WorkerEnd, WorkerOptions};

pub const TASKS_STREAM: &str = "RH_TASKS";
pub const DEAD_STREAM: &str = "RH_DEAD";
pub const RESULTS_STREAM: &str = "RH_RESULTS";
pub const ADVISORY_STREAM: &str = "RH_ADV";
const LEASE_BUCKET: &str = "rh_lease";
const WORKERS_BUCKET: &str = "rh_workers";
/// How long a worker's registry entry outlives its last heartbeat.
const WORKER_TTL: Duration = Duration::from_secs(30);
/// How long a published task's id is remembered (a stale listing racing a
/// finished task is absorbed within it).
const DUPLICATE_WINDOW: Duration = Duration::from_secs(600);
/// Results are kept this long.
const RESULTS_AGE: Duration = Duration::from_secs(7 * 24 * 3600);
/// Most deliveries waiting for acknowledgement on one stage, all workers
/// together.
const MAX_ACK_PENDING: i64 = 10_000;
/// Wait for one JetStream API answer.
const API_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the queue could not be used. Each is one line naming the fix.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Nats(String),
    #[error(transparent)]
    Run(#[from] crate::runner::RunError),
}

fn nats_err(what: &str) -> impl Fn(&dyn std::fmt::Display) -> QueueError + '_ {
    move |e| QueueError::Nats(format!("{what}: {e}"))
}

/// A queued task: what a worker needs to find it again (version 1). It
/// carries no label data, which would be stale by the time it runs; the
/// worker loads that when it runs the task.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskMessage {
    pub v: u32,
    pub project_hash: String,
    pub stage_uuid: String,
    pub task: Task,
    /// When the lister published it (RFC 3339).
    pub listed_at: String,
}

/// A task that failed for good, kept in `RH_DEAD` until retried.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeadLetter {
    pub message: TaskMessage,
    pub error: String,
    pub worker: String,
    /// Deliveries of its message (each ran the agent up to --num-retries + 1 times).
    pub deliveries: u64,
    pub at: String,
}

/// One settled task, published to `RH_RESULTS`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResultEvent {
    pub task_uuid: String,
    pub data_title: String,
    pub stage_uuid: String,
    pub worker: String,
    pub delivery: u64,
    /// moved, already_advanced, stayed, failed (to be retried), dead, abandoned.
    pub outcome: String,
    pub pathway: Option<String>,
    pub error: Option<String>,
    pub ms: u64,
}

pub fn task_subject(project: &str, stage: &str, task: &str) -> String {
    format!("rh.task.{project}.{stage}.{task}")
}

fn stage_subjects(project: &str, stage: &str) -> String {
    format!("rh.task.{project}.{stage}.*")
}

fn dead_subject(project: &str, stage: &str, task: &str) -> String {
    format!("rh.dead.{project}.{stage}.{task}")
}

fn result_subject(project: &str, stage: &str) -> String {
    format!("rh.result.{project}.{stage}")
}

/// The durable consumer of one stage.
fn consumer_name(project: &str, stage: &str) -> String {
    format!("rh-{project}-{stage}")
}

/// The message id that de-duplicates a task's listing.
fn message_id(stage: &str, task: &str) -> String {
    format!("{stage}:{task}")
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A connection to the queue, its streams and buckets made if missing.
#[derive(Clone)]
pub struct Queue {
    pub url: String,
    js: jetstream::Context,
    tasks: stream::Stream,
    dead: stream::Stream,
    lease: kv::Store,
    workers: kv::Store,
    /// The lease bucket's time to live (a lister renews at a third of it).
    lease_ttl: Duration,
}

impl Queue {
    /// Connects to `url` (`nats://HOST:PORT`) and makes the streams and
    /// buckets that are missing; the lease lives `lease_ttl` when this call
    /// makes its bucket.
    pub async fn connect(url: &str, name: &str, lease_ttl: Duration) -> Result<Queue, QueueError> {
        let parsed = url::Url::parse(url).ok().filter(|u| {
            matches!(u.scheme(), "nats" | "tls") && u.host_str().is_some_and(|h| !h.is_empty())
        });
        if parsed.is_none() {
            return Err(QueueError::Config(format!(
                "--queue `{url}` is not a NATS server URL: use nats://HOST:PORT (e.g. nats://127.0.0.1:4222)"
            )));
        }
        let client = async_nats::ConnectOptions::new()
            .name(name)
            .connection_timeout(Duration::from_secs(5))
            .connect(url)
            .await
            .map_err(|e| {
                QueueError::Nats(format!(
                    "cannot reach the NATS server at `{url}` ({e}): start one (`nats-server -js -sd DIR`) or fix --queue"
                ))
            })?;
        // The account's JetStream info: no answer, or an error, means the
        // server runs without JetStream. (async-nats' `query_account` cannot
        // read 2.9's answer.)
        let no_js = |why: String| {
            QueueError::Nats(format!(
                "the NATS server at `{url}` has no JetStream ({why}): start it with -js (`nats-server -js -sd DIR`)"
            ))
        };
        let info = tokio::time::timeout(API_TIMEOUT, client.request("$JS.API.INFO", "".into()))
            .await
            .map_err(|_| no_js("no answer".into()))?
            .map_err(|e| no_js(e.to_string()))?;
        let info: serde_json::Value =
            serde_json::from_slice(&info.payload).map_err(|e| no_js(e.to_string()))?;
        if let Some(e) = info.get("error") {
            return Err(no_js(
                e.get("description")
                    .and_then(|d| d.as_str())
                    .unwrap_or("an error")
                    .to_string(),
            ));
        }
        let mut js = jetstream::new(client);
        js.set_timeout(API_TIMEOUT);
        let make = |config: stream::Config| {
            let js = js.clone();
            async move {
                let name = config.name.clone();
                js.get_or_create_stream(config)
                    .await
                    .map_err(|e| QueueError::Nats(format!("making stream {name}: {e}")))
            }
        };
        let tasks = make(stream::Config {
            name: TASKS_STREAM.into(),
            description: Some("runner-host: tasks waiting in agent stages".into()),
            subjects: vec!["rh.task.>".into()],
            retention: stream::RetentionPolicy::WorkQueue,
            storage: stream::StorageType::File,
            max_messages_per_subject: 1,
            discard: stream::DiscardPolicy::New,
            discard_new_per_subject: true,
            duplicate_window: DUPLICATE_WINDOW,
            ..Default::default()
        })
        .await?;
        let dead = make(stream::Config {
            name: DEAD_STREAM.into(),
            description: Some("runner-host: tasks that failed for good, until retried".into()),
            subjects: vec!["rh.dead.>".into()],
            retention: stream::RetentionPolicy::Limits,
            storage: stream::StorageType::File,
            max_messages_per_subject: 1,
            ..Default::default()
        })
        .await?;
        make(stream::Config {
            name: RESULTS_STREAM.into(),
            description: Some("runner-host: one event per task settled".into()),
            subjects: vec!["rh.result.>".into()],
            retention: stream::RetentionPolicy::Limits,
            storage: stream::StorageType::File,
            max_age: RESULTS_AGE,
            ..Default::default()
        })
        .await?;
        make(stream::Config {
            name: ADVISORY_STREAM.into(),
            description: Some("runner-host: tasks delivered --max-deliver times unsettled".into()),
            subjects: vec![format!(
                "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{TASKS_STREAM}.>"
            )],
            retention: stream::RetentionPolicy::WorkQueue,
            storage: stream::StorageType::File,
            max_age: RESULTS_AGE,
            ..Default::default()
        })
        .await?;
        let lease = bucket(&js, LEASE_BUCKET, lease_ttl).await?;
        let lease_ttl = match lease.status().await {
            Ok(s) if s.max_age() > Duration::ZERO => s.max_age(),
            _ => lease_ttl,
        };
        let workers = bucket(&js, WORKERS_BUCKET, WORKER_TTL).await?;
        Ok(Queue {
            url: url.to_string(),
            js,
            tasks,
            dead,
            lease,
            workers,
            lease_ttl,
        })
    }

    /// The durable consumer of a served stage, made or updated with these
    /// settings (2.9 creates or updates alike).
    async fn consumer(
        &self,
        project: &str,
        stage: &str,
        title: &str,
        ack_wait: Duration,
        max_deliver: i64,
    ) -> Result<jetstream::consumer::PullConsumer, QueueError> {
        let name = consumer_name(project, stage);
        self.tasks
            .create_consumer(jetstream::consumer::pull::Config {
                durable_name: Some(name.clone()),
                description: Some(format!("{project} / {title}")),
                filter_subject: stage_subjects(project, stage),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ack_wait,
                max_deliver,
                max_ack_pending: MAX_ACK_PENDING,
                ..Default::default()
            })
            .await
            .map_err(|e| QueueError::Nats(format!("making consumer {name}: {e}")))
    }

    /// The consumer of the server's max-deliveries advisories of one stage
    /// (each advisory is handled by one worker).
    async fn advisory_consumer(
        &self,
        project: &str,
        stage: &str,
    ) -> Result<jetstream::consumer::PullConsumer, QueueError> {
        let name = format!("rh-adv-{project}-{stage}");
        let stream = self
            .js
            .get_stream(ADVISORY_STREAM)
            .await
            .map_err(|e| QueueError::Nats(format!("reading stream {ADVISORY_STREAM}: {e}")))?;
        stream
            .create_consumer(jetstream::consumer::pull::Config {
                durable_name: Some(name.clone()),
                filter_subject: format!(
                    "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{TASKS_STREAM}.{}",
                    consumer_name(project, stage)
                ),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ..Default::default()
            })
            .await
            .map_err(|e| QueueError::Nats(format!("making consumer {name}: {e}")))
    }

    /// Messages of a stage still in the queue (waiting, in flight, or
    /// waiting for a retry).
    async fn stage_messages(&self, project: &str, stage: &str) -> Result<usize, QueueError> {
        use futures::TryStreamExt;
        let tasks = self.tasks.clone();
        let subjects = tasks
            .info_with_subjects(stage_subjects(project, stage))
            .await
            .map_err(|e| nats_err("reading RH_TASKS")(&e))?;
        let counts: Vec<(String, usize)> = subjects
            .try_collect()
            .await
            .map_err(|e| nats_err("reading RH_TASKS")(&e))?;
        Ok(counts.iter().map(|(_, n)| n).sum())
    }

    /// The dead letters of one stage (or of every stage with `*`), by subject.
    async fn dead_letters(
        &self,
        project: &str,
        stage: &str,
    ) -> Result<Vec<(String, DeadLetter)>, QueueError> {
        use futures::TryStreamExt;
        let dead = self.dead.clone();
        let subjects = dead
            .info_with_subjects(dead_subject(project, stage, "*"))
            .await
            .map_err(|e| nats_err("reading RH_DEAD")(&e))?;
        let subjects: Vec<(String, usize)> = subjects
            .try_collect()
            .await
            .map_err(|e| nats_err("reading RH_DEAD")(&e))?;
        let mut letters = Vec::with_capacity(subjects.len());
        for (subject, _) in subjects {
            let m = match self.dead.get_last_raw_message_by_subject(&subject).await {
                Ok(m) => m,
                // Retried meanwhile.
                Err(_) => continue,
            };
            match serde_json::from_slice::<DeadLetter>(&m.payload) {
                Ok(d) => letters.push((subject, d)),
                Err(e) => tracing::warn!("an unreadable dead letter on {subject}: {e}"),
            }
        }
        letters.sort_by(|a, b| a.1.at.cmp(&b.1.at));
        Ok(letters)
    }

    /// Records `letter` (replacing an older one of the same task).
    async fn bury(&self, letter: &DeadLetter) -> Result<(), QueueError> {
        let m = &letter.message;
        let body = serde_json::to_vec(letter).map_err(|e| QueueError::Nats(e.to_string()))?;
        self.js
            .publish(
                dead_subject(&m.project_hash, &m.stage_uuid, &m.task.uuid),
                body.into(),
            )
            .await
            .map_err(|e| nats_err("recording a dead letter")(&e))?
            .await
            .map_err(|e| nats_err("recording a dead letter")(&e))?;
        Ok(())
    }

    /// Queues a task; `Ok(false)` when it was already queued, in flight, or
    /// listed within the duplicate window.
    async fn publish_task(&self, message: &TaskMessage, id: &str) -> Result<bool, QueueError> {
        let body = serde_json::to_vec(message).map_err(|e| QueueError::Nats(e.to_string()))?;
        let subject = task_subject(
            &message.project_hash,
            &message.stage_uuid,
            &message.task.uuid,
        );
        let sent = self
            .js
            .send_publish(
                subject,
                jetstream::message::PublishMessage::build()
                    .message_id(id)
                    .payload(body.into()),
            )
            .await;
        let ack = match sent {
            Ok(ack) => ack.await,
            Err(e) => return Err(nats_err("queueing a task")(&e)),
        };
        match ack {
            Ok(ack) => Ok(!ack.duplicate),
            // One message per task: it already waits or runs (API error 10077).
            Err(e) if is_per_subject_limit(&e.to_string()) => Ok(false),
            Err(e) => Err(nats_err("queueing a task")(&e)),
        }
    }
}

fn is_per_subject_limit(error: &str) -> bool {
    error.contains("10077") || error.contains("maximum messages per subject")
}

/// A KV bucket, its stream made as async-nats makes one (but without its
/// account query, which cannot read nats-server 2.9's answer).
async fn bucket(
    js: &jetstream::Context,
    name: &str,
    ttl: Duration,
) -> Result<kv::Store, QueueError> {
    if let Ok(store) = js.get_key_value(name).await {
        return Ok(store);
    }
    let config = stream::Config {
        name: format!("KV_{name}"),
        description: Some(format!("runner-host: {name}")),
        subjects: vec![format!("$KV.{name}.>")],
        max_messages_per_subject: 1,
        max_age: ttl,
        storage: stream::StorageType::File,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: stream::DiscardPolicy::New,
        num_replicas: 1,
        ..Default::default()
    };
    // Another worker may make it meanwhile: either way, it is then there.
    let made = js.get_or_create_stream(config).await;
    js.get_key_value(name).await.map_err(|e| {
        let why = made.err().map_or(e.to_string(), |m| m.to_string());
        QueueError::Nats(format!("making bucket {name}: {why}"))
    })
}

/// The lease key of a project's lister.
fn lease_key(project: &str) -> String {
    format!("lister-{project}")
}

/// The lister's lease, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct LeaseValue {
    worker: String,
    /// The listing of this pass is complete (every stage published).
    listed: bool,
    pass: u64,
}

/// A worker's registry entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerEntry {
    pub worker: String,
    pub host: String,
    pub pid: u32,
    pub project_hash: String,
    pub started_at: String,
    pub last_heartbeat: String,
    pub done: u64,
    pub failed: u64,
    pub finished: bool,
}

fn worker_key(project: &str, worker: &str) -> String {
    format!("{project}.{worker}")
}
