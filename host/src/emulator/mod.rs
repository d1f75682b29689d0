//! `runner-host emulator`: serves a local store over Encord's wire format,
//! at the root of its address, so runner-host's HTTP client and the
//! official Python SDK can both be pointed at it (`docs/encord-wire.md` §6).
//!
//! Every API request must be signed by a key registered in the store
//! (`runner-host local add-key`); media is served under its own signed
//! URLs. Latency and failures can be injected per endpoint.

mod faults;
mod legacy;
mod media;
pub(crate) mod store;
mod v2;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::Router;
use serde_json::json;

pub use faults::{Fault, Faults};

use crate::encord::auth;
use crate::local::LocalStore;

/// Largest request body accepted (a save bundle of 100 big rows fits).
const MAX_BODY: usize = 256 << 20;

pub(crate) struct Emulator {
    pub(crate) store: LocalStore,
    pub(crate) faults: Faults,
    /// `http://host:port`, for signed media URLs.
    pub(crate) base_url: String,
    /// Key for media URL signatures.
    pub(crate) media_secret: [u8; 32],
    pub(crate) bearer: Option<String>,
    /// Where authenticated API requests are recorded, one JSON line each.
    pub(crate) record: Option<std::sync::Mutex<std::fs::File>>,
}

pub(crate) type Shared = Arc<Emulator>;

/// Options of `runner-host emulator`.
#[derive(Debug, Default)]
pub struct EmulatorOptions {
    pub faults: Faults,
    /// A bearer token accepted besides signed requests.
    pub bearer_token: Option<String>,
    /// Record every authenticated API request (method, target, headers
    /// but credentials, body) and its status into this file, one JSON line
    /// each, to replay the same call mix later (`bench/compare.py`
    /// measures the emulator's ceiling that way).
    pub record: Option<std::fs::File>,
}

/// Serves `store` on `listener` until the process ends.
pub async fn serve(
    store: LocalStore,
    listener: tokio::net::TcpListener,
    options: EmulatorOptions,
) -> std::io::Result<()> {
    let addr: SocketAddr = listener.local_addr()?;
    axum::serve(listener, app(store, format!("http://{addr}"), options)).await
}

/// The emulator's whole request handling (authentication, faults, every
/// endpoint) over `store`, without a listener: `serve` puts it on one, the
/// request fuzzer calls it directly. `base_url` is where signed media URLs
/// point.
pub fn app(store: LocalStore, base_url: String, options: EmulatorOptions) -> Router {
    router(Arc::new(Emulator {
        store,
        faults: options.faults,
        base_url,
        media_secret: rand::random(),
        bearer: options.bearer_token,
        record: options.record.map(std::sync::Mutex::new),
    }))
}

fn router(state: Shared) -> Router {
    let api = Router::new()
        .route("/public", post(legacy::dispatch))
        .route("/v2/public/projects/{project}", get(v2::project))
        .route("/v2/public/ontologies/{ontology}", get(v2::ontology))
        .route(
            "/v2/public/projects/{project}/workflow/stages/{stage}/tasks",
            get(v2::tasks),
        )
        .route(
            "/v2/public/projects/{project}/workflow/stages/{stage}/actions",
            post(v2::actions),
        )
        .route(
            "/v2/public/projects/{project}/workflow/stages/{stage}/move-tasks",
            post(v2::move_tasks),
        )
        .route(
            "/v2/public/projects/{project}/priorities",
            post(v2::priorities),
        )
        .route("/v2/public/storage/items/get-bulk", post(v2::items_bulk))
        .route("/v2/public/storage/items/patch-bulk", patch(v2::patch_bulk))
        .route("/v2/public/storage/items/{item}", get(v2::item))
        .route(
            "/v2/public/storage/folders/{folder}/items/{item}",
            patch(v2::patch_item),
        )
        .route(
            "/v2/public/storage/folders/{folder}/items/{item}/child-items",
            get(v2::child_items),
        )
        .layer(axum::middleware::from_fn(off_the_workers))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            authenticate,
        ));
    Router::new()
        .route("/media/{item}", get(media::serve))
        .merge(api)
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                axum::Json(json!({"message": "no such endpoint"})),
            )
        })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            inject_faults,
        ))
        .with_state(state)
}

/// Adds latency and injected failures before the request is handled.
async fn inject_faults(State(emu): State<Shared>, req: Request, next: Next) -> Response {
    let (req, target) = if emu.faults.by_legacy_query(req.uri().path()) {
        let (req, query) = match legacy_query(req).await {
            Ok(read) => read,
            Err(too_large) => return too_large,
        };
        tracing::info!(target: "emulator", method = %req.method(), path = req.uri().path(), query, "request");
        let target = format!("{} {query}", req.uri().path());
        (req, target)
    } else {
        tracing::info!(target: "emulator", method = %req.method(), path = req.uri().path(), "request");
        let target = req.uri().path().to_owned();
        (req, target)
    };
    if !emu.faults.latency.is_zero() {
        tokio::time::sleep(emu.faults.latency).await;
    }
    match emu.faults.pick(&target) {
        None => next.run(req).await,
        Some(Fault::TooManyRequests) => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", emu.faults.retry_after.to_string())],
            axum::Json(json!({"message": "injected rate limit"})),
        )
            .into_response(),
        Some(Fault::InternalError) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(json!({"message": "injected failure"})),
        )
            .into_response(),
        Some(Fault::BadRequest) => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"message": "injected rejection"})),
        )
            .into_response(),
        Some(Fault::Unavailable) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"message": "injected outage"})),
        )
            .into_response(),
        Some(Fault::Reset) => {
            // A body that fails at once: the connection is cut mid-answer.
            let body = Body::from_stream(futures::stream::once(async {
                Err::<Bytes, std::io::Error>(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "injected reset",
                ))
            }));
            Response::new(body)
        }
    }
}

/// A legacy request's `query_type/query_method` (empty if its body is not
/// a legacy envelope), and the request with its body put back.
async fn legacy_query(req: Request) -> Result<(Request, String), Response> {
    let (parts, body) = req.into_parts();
    let bytes = whole_body(body).await?;
    let query = serde_json::from_slice::<legacy::Envelope>(&bytes)
        .map(|e| e.query())
        .unwrap_or_default();
    Ok((Request::from_parts(parts, Body::from(bytes)), query))
}

/// A request's whole body; 413 past `MAX_BODY`.
async fn whole_body(body: Body) -> Result<Bytes, Response> {
    axum::body::to_bytes(body, MAX_BODY).await.map_err(|e| {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            axum::Json(json!({"message": e.to_string()})),
        )
            .into_response()
    })
}

/// Runs an API handler on a blocking thread, after `authenticate` has read
/// its body. Handlers do the store's synchronous SQLite work (a bundle of
/// saves holds it for milliseconds, a save waits out another process's
/// write lock); on a runtime worker that would hold up every connection the
/// worker serves, and with `--latency-ms` the sleeps that end meanwhile
/// would wait for it (task pages came ~2 ms late on average).
async fn off_the_workers(req: Request, next: Next) -> Response {
    let handle = tokio::runtime::Handle::current();
    match tokio::task::spawn_blocking(move || handle.block_on(next.run(req))).await {
        Ok(response) => response,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"message": format!("emulator shutting down: {e}")})),
        )
            .into_response(),
    }
}

/// Verifies the request's signature (v2 or legacy) against the keys
/// registered in the store; answers 401 otherwise.
async fn authenticate(State(emu): State<Shared>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = match whole_body(body).await {
        Ok(b) => b,
        Err(too_large) => return too_large,
    };
    let legacy = parts.uri.path() == "/public";
    let verdict = check_auth(
        &emu,
        &parts.method,
        &parts.uri,
        &parts.headers,
        &bytes,
        legacy,
    );
    if let Err(why) = verdict {
        tracing::info!(path = parts.uri.path(), "emulator: 401: {why}");
        let message = format!("authentication failed: {why}");
        return if legacy {
            (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({"status": 401, "response": ["AUTHENTICATION_ERROR"], "payload": message})),
            )
                .into_response()
        } else {
            (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({"message": message})),
            )
                .into_response()
        };
    }
    let Some(record) = &emu.record else {
        return next
            .run(Request::from_parts(parts, Body::from(bytes)))
            .await;
    };
    let (method, target) = (
        parts.method.to_string(),
        parts
            .uri
            .path_and_query()
            .map_or("", |p| p.as_str())
            .to_string(),
    );
    let headers: serde_json::Map<String, serde_json::Value> = parts
        .headers
        .iter()
        .filter(|(name, _)| !UNRECORDED_HEADERS.contains(&name.as_str()))
        .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.into())))
        .collect();
    let body = String::from_utf8_lossy(&bytes).into_owned();
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    // The answer is recorded too: a replay maps the ids the server made
    // (label hashes) from the recorded answer to its own.
    let (parts, answer) = response.into_parts();
    let answer = match axum::body::to_bytes(answer, MAX_BODY).await {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!("emulator: cannot record an answer: {e}");
            return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response();
        }
    };
    let line = json!({
        "method": method,
        "target": target,
        "headers": headers,
        "body": body,
        "status": parts.status.as_u16(),
        "answer": String::from_utf8_lossy(&answer),
    });
    let response = Response::from_parts(parts, Body::from(answer));
    use std::io::Write;
    let text = format!("{line}\n");
    let mut file = record.lock().unwrap_or_else(|e| e.into_inner());
    if let Err(e) = file.write_all(text.as_bytes()) {
        tracing::warn!("emulator: cannot record a request: {e}");
    }
    response
}

/// Headers left out of a recorded request: credentials and what the
/// replaying client sets itself.
const UNRECORDED_HEADERS: [&str; 8] = [
    "authorization",
    "signature",
    "signature-input",
    "content-digest",
    "host",
    "content-length",
    "connection",
    "accept-encoding",
];

fn check_auth(
    emu: &Emulator,
    method: &Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: &[u8],
    legacy: bool,
) -> Result<(), String> {
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    if let (Some(token), Some(auth)) = (&emu.bearer, header("authorization")) {
        if auth.strip_prefix("Bearer ") == Some(token.as_str()) {
            return Ok(());
        }
    }
    let keys = emu.store.public_keys().map_err(|e| e.to_string())?;
    if keys.is_empty() {
        return Err(
            "no public key is registered for this store (runner-host local add-key)".into(),
        );
    }
    if legacy {
        auth::verify_legacy(&keys, body, header("authorization")).map(|_| ())
    } else {
        let target = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
        auth::verify_v2(
            &keys,
            method.as_str(),
            target,
            body,
            header("content-digest"),
            header("signature-input"),
            header("signature"),
        )
        .map(|_| ())
    }
}
