//! The emulator's request handling: whatever request arrives (any method,
//! any path, query and body, on every endpoint, the legacy `/public` one
//! included), the emulator answers it without panicking and without a
//! server error: bad input is the client's fault (4xx), never a 5xx.
//!
//! The requests go to the emulator's whole router (authentication, fault
//! layer, every endpoint) over a demo store made once, authenticated with a
//! bearer token so that the fuzzer reaches the handlers (signature checks
//! have their own target, `auth`). The store is shared between inputs, as
//! a real emulator's is between requests.
//!
//! Input: byte 0 picks the method, byte 1 a path (one of the emulator's
//! routes with real or fuzzed ids, or the fuzzed text itself), bytes 2..4
//! which of the store's ids fill it; then up to the first newline the path
//! tail / query, and the rest is the body.
#![no_main]

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{Method, Request};
use libfuzzer_sys::fuzz_target;
use runner_host::emulator::{self, EmulatorOptions};
use runner_host::local::{self, LocalStore};
use runner_host::runner::validate::is_uuid;
use tower::ServiceExt;

const TOKEN: &str = "fuzz-token";

struct World {
    rt: tokio::runtime::Runtime,
    app: axum::Router,
    project: String,
    /// Every id the store holds (project, stages, pathways, tasks, data,
    /// label rows, ontology), found in its own answers.
    ids: Vec<String>,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        // The world lives in a static, which is never dropped: the store's
        // directory is left in the temporary directory (a few MB).
        let dir = std::env::temp_dir().join(format!("emulator-fuzz-{}", std::process::id()));
        let project = local::create_demo(&dir, 4, true).expect("a demo store");
        let store = LocalStore::open(&dir).expect("the demo store opens");
        let app = emulator::app(
            store,
            "http://127.0.0.1:9".into(),
            EmulatorOptions {
                bearer_token: Some(TOKEN.into()),
                ..Default::default()
            },
        );
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let mut ids = vec![project.clone()];
        let path = format!("/v2/public/projects/{project}");
        collect_ids(&rt.block_on(send(&app, Method::GET, &path, &project, Vec::new())).1, &mut ids);
        // Tasks of each stage, and the label rows (data hashes, label hashes).
        for stage in ids.clone() {
            let path = format!("/v2/public/projects/{project}/workflow/stages/{stage}/tasks");
            collect_ids(&rt.block_on(send(&app, Method::GET, &path, &project, Vec::new())).1, &mut ids);
        }
        let rows = r#"{"query_type":"labelrowmetadata","query_method":"GET","values":{"uid":null,"payload":{}}}"#;
        collect_ids(&rt.block_on(send(&app, Method::POST, "/public", &project, rows.into())).1, &mut ids);
        ids.sort();
        ids.dedup();
        // The token is accepted and the handlers answer: the store's stages,
        // tasks and data were found (else every input would stop at a 401).
        assert!(ids.len() > 10, "the emulator answered the set-up requests: {ids:?}");
        World { rt, app, project, ids }
    })
}

/// Every UUID-shaped string in a JSON answer.
fn collect_ids(answer: &[u8], ids: &mut Vec<String>) {
    fn walk(v: &serde_json::Value, ids: &mut Vec<String>) {
        match v {
            serde_json::Value::String(s) if is_uuid(s) => ids.push(s.clone()),
            serde_json::Value::Array(a) => a.iter().for_each(|v| walk(v, ids)),
            serde_json::Value::Object(o) => o.values().for_each(|v| walk(v, ids)),
            _ => {}
        }
    }
    if let Ok(v) = serde_json::from_slice(answer) {
        walk(&v, ids);
    }
}

async fn send(app: &axum::Router, method: Method, path: &str, project: &str, body: Vec<u8>) -> (u16, Vec<u8>) {
    let Ok(request) = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-type", "application/json")
        .header("resourcetype", "project")
        .header("resourceid", project)
        .body(Body::from(body))
    else {
        return (0, Vec::new()); // not a request http can even carry
    };
    let response = app.clone().oneshot(request).await.expect("the router is infallible");
    let status = response.status().as_u16();
    let body = axum::body::to_bytes(response.into_body(), 64 << 20)
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    (status, body)
}

const METHODS: [Method; 5] = [Method::GET, Method::POST, Method::PATCH, Method::PUT, Method::DELETE];

/// The emulator's routes; `{}` is filled with one of the store's ids (or,
/// for the last of a pair of picks, the fuzzed text).
const ROUTES: [&str; 14] = [
    "/public",
    "/v2/public/projects/{}",
    "/v2/public/ontologies/{}",
    "/v2/public/projects/{}/workflow/stages/{}/tasks",
    "/v2/public/projects/{}/workflow/stages/{}/actions",
    "/v2/public/projects/{}/workflow/stages/{}/move-tasks",
    "/v2/public/projects/{}/priorities",
    "/v2/public/storage/items/get-bulk",
    "/v2/public/storage/items/patch-bulk",
    "/v2/public/storage/items/{}",
    "/v2/public/storage/folders/{}/items/{}",
    "/v2/public/storage/folders/{}/items/{}/child-items",
    "/media/{}",
    "",
];

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let w = world();
    let method = METHODS[data[0] as usize % METHODS.len()].clone();
    let route = ROUTES[data[1] as usize % ROUTES.len()];
    let (tail, body) = match data[4..].iter().position(|b| *b == b'\n') {
        Some(i) => (&data[4..4 + i], data[4 + i + 1..].to_vec()),
        None => (&data[4..], Vec::new()),
    };
    let tail = String::from_utf8_lossy(tail);
    let mut picks = [data[2], data[3]].into_iter();
    let mut path = String::new();
    let mut parts = route.split("{}").peekable();
    while let Some(part) = parts.next() {
        path.push_str(part);
        if parts.peek().is_some() {
            let pick = picks.next().unwrap_or(0) as usize;
            match w.ids.get(pick % (w.ids.len() + 1)) {
                Some(id) => path.push_str(id),
                None => path.push_str(&tail.replace(['/', '?', '#'], "")),
            }
        }
    }
    // The tail is the query (or, for the raw route, the whole target).
    if route.is_empty() {
        path = format!("/{}", tail.trim_start_matches('/'));
    } else if !tail.is_empty() {
        path = format!("{path}?{tail}");
    }
    // The legacy API names its project in a header: the store's own, or
    // (when byte 2 is odd) whichever id byte 3 picks.
    let project = if data[2] % 2 == 1 { &w.ids[data[3] as usize % w.ids.len()] } else { &w.project };
    let (status, answer) = w.rt.block_on(send(&w.app, method.clone(), &path, project, body));
    assert!(
        status < 500,
        "{method} {path} was answered {status}: {}",
        String::from_utf8_lossy(&answer)
    );
});
