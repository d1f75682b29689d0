//! `runner-host serve`: a long-lived service that drains a project's agent
//! stage when Encord says work is waiting there (task-ready webhooks,
//! verified as encord-agents verifies them), with Prometheus metrics and a
//! health check.
//!
//! - `POST /encord/task-ready`: 401 unverified (nothing drained), 200 for
//!   another event (ignored), 501 for an envelope version this host cannot
//!   read, 400 for a genuine notification of the wrong shape, and 200 **at
//!   once** for a valid one: the drain runs after the answer (Encord waits
//!   and notifies again while work remains). Verification authenticates; it
//!   does not authorise: only the projects served are drained.
//! - `GET /metrics`: OpenMetrics text (Prometheus scrapes it).
//! - `GET /healthz`: 200 while the service runs.

pub mod drains;
pub mod metrics;
pub mod webhook;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::runner::Summary;
use drains::{Drains, Requested};
use metrics::Metrics;
use webhook::Refusal;

/// Drains one stage of one project: (project hash, stage uuid) → the run's
/// summary, or why it could not run.
pub type DrainFn = Arc<
    dyn Fn(String, String) -> Pin<Box<dyn Future<Output = Result<Summary, String>> + Send>>
        + Send
        + Sync,
>;

pub struct Service {
    secret: Vec<u8>,
    /// The stages served (lowercase uuids) of each project served (lowercase hash).
    served: HashMap<String, HashSet<String>>,
    drains: Drains<(String, String)>,
    pub metrics: Arc<Metrics>,
    drain: DrainFn,
    idle: tokio::sync::Notify,
}

impl Service {
    /// `served`: each project's hash with the uuids of the agent stages it
    /// serves.
    pub fn new(
        secret: Vec<u8>,
        served: &[(String, Vec<String>)],
        metrics: Arc<Metrics>,
        drain: DrainFn,
    ) -> Arc<Service> {
        Arc::new(Service {
            secret,
            served: served
                .iter()
                .map(|(p, stages)| {
                    let stages = stages.iter().map(|s| s.to_ascii_lowercase()).collect();
                    (p.to_ascii_lowercase(), stages)
                })
                .collect(),
            drains: Drains::default(),
            metrics,
            drain,
            idle: tokio::sync::Notify::new(),
        })
    }

    /// Asks for a drain of `stage` of `project`: started now unless one is
    /// running (then exactly one more runs after it).
    pub fn request_drain(self: &Arc<Self>, project: &str, stage: &str) -> Requested {
        let key = (project.to_ascii_lowercase(), stage.to_ascii_lowercase());
        let requested = self.drains.request(&key);
        if requested == Requested::Start {
            let svc = self.clone();
            tokio::spawn(async move {
                loop {
                    svc.metrics.drains_running.inc();
                    let started = Instant::now();
                    // Its own task: a panic in a drain ends that drain, not the service.
                    let result = tokio::spawn((svc.drain)(key.0.clone(), key.1.clone()))
                        .await
                        .unwrap_or_else(|e| Err(format!("the drain panicked: {e}")));
                    svc.metrics.drains_running.dec();
                    match &result {
                        Ok(summary) => tracing::info!(
                            "drained stage {} of project {}: {} task(s) processed, {} failed",
                            key.1,
                            key.0,
                            summary.stages.iter().map(|s| s.processed).sum::<usize>(),
                            summary.failed()
                        ),
                        Err(e) => {
                            tracing::error!("draining stage {} of project {}: {e}", key.1, key.0)
                        }
                    }
                    svc.metrics
                        .drained(&key.0, &key.1, &result, started.elapsed());
                    if !svc.drains.finished(&key) {
                        break;
                    }
                }
                svc.idle.notify_waiters();
            });
        }
        requested
    }

    /// Every stage served, as (project, stage uuid).
    pub fn stages(&self) -> Vec<(String, String)> {
        let mut all: Vec<(String, String)> = self
            .served
            .iter()
            .flat_map(|(p, stages)| stages.iter().map(move |s| (p.clone(), s.clone())))
            .collect();
        all.sort();
        all
    }

    /// Waits until no drain is running (a stopping service lets them end).
    pub async fn until_idle(&self) {
        loop {
            let idle = self.idle.notified();
            if self.drains.running() == 0 {
                return;
            }
            idle.await;
        }
    }

    fn answer(
        self: &Arc<Self>,
        headers: &HeaderMap,
        body: &[u8],
    ) -> (StatusCode, serde_json::Value, &'static str) {
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        match webhook::verify_and_parse(body, &headers, &self.secret, now) {
            Ok(n) => {
                let Some(stages) = self.served.get(&n.project_hash) else {
                    tracing::warn!(
                        "task-ready notification for project {} (stage {}), which this service does not serve: ignored",
                        n.project_hash,
                        n.stage_uuid
                    );
                    return (
                        StatusCode::OK,
                        json!({"status": "ignored", "reason": "project not served"}),
                        "not_served",
                    );
                };
                if !stages.contains(&n.stage_uuid) {
                    tracing::warn!(
                        "task-ready notification for stage {} of project {}, which this agent does not serve: ignored",
                        n.stage_uuid,
                        n.project_hash
                    );
                    return (
                        StatusCode::OK,
                        json!({"status": "ignored", "reason": "stage not served"}),
                        "not_served",
                    );
                }
                tracing::info!(
                    "task-ready: project {} stage {}, {} pending ({})",
                    n.project_hash,
                    n.stage_uuid,
                    n.pending_count,
                    n.reason
                );
                let drain = match self.request_drain(&n.project_hash, &n.stage_uuid) {
                    Requested::Start => "started",
                    Requested::Queued => "queued",
                    Requested::AlreadyQueued => "already queued",
                };
                (
                    StatusCode::OK,
                    json!({"status": "accepted", "drain": drain}),
                    "accepted",
                )
            }
            Err(Refusal::OtherEvent(e)) => {
                tracing::info!("a notification of event `{e}`: not for this service, acknowledged");
                (
                    StatusCode::OK,
                    json!({"status": "ignored", "reason": format!("event {e}")}),
                    "other_event",
                )
            }
            Err(r @ Refusal::Unverified(_)) => {
                tracing::warn!("refused an unverified task-ready request: {r}");
                (
                    StatusCode::UNAUTHORIZED,
                    json!({"error": r.to_string()}),
                    "unverified",
                )
            }
            Err(r @ Refusal::UnsupportedVersion(_)) => {
                tracing::error!("{r}");
                (
                    StatusCode::NOT_IMPLEMENTED,
                    json!({"error": r.to_string()}),
                    "unsupported_version",
                )
            }
            Err(r @ Refusal::Malformed(_)) => {
                tracing::error!("{r}");
                (
                    StatusCode::BAD_REQUEST,
                    json!({"error": r.to_string()}),
                    "malformed",
                )
            }
        }
    }
}

async fn task_ready(State(svc): State<Arc<Service>>, headers: HeaderMap, body: Bytes) -> Response {
    let (status, answer, label) = svc.answer(&headers, &body);
    svc.metrics.webhook(label);
    (status, Json(answer)).into_response()
}

async fn metrics_text(State(svc): State<Arc<Service>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        svc.metrics.encode(),
    )
        .into_response()
}

pub fn router(svc: Arc<Service>) -> Router {
    Router::new()
        .route("/encord/task-ready", post(task_ready))
        .route("/metrics", get(metrics_text))
        .route("/healthz", get(|| async { "ok\n" }))
        .with_state(svc)
}
