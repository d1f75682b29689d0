//! `runner-host serve`: Encord's task-ready webhooks over real HTTP to the
//! real binary on a demo store, answered as encord-agents answers them
//! (its `tests/test_fastapi_notifications.py`), a valid one draining the
//! stage it names, and the metrics and health endpoints.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::support::*;

const SECRET: &str = "5cbf0f7d3a1e4b2c9f8a6d5e4c3b2a1908f7e6d5c4b3a2910f8e7d6c5b4a3921";

fn envelope(project: &str, stage: &str) -> Value {
    json!({
        "uid": "33333333-3333-3333-3333-333333333333",
        "version": 1,
        "source": "encord",
        "event_type": "agent_stage_work_available_event",
        "event_created_timestamp": "2026-09-01T12:00:00+00:00",
        "payload": {"project_hash": project, "stage_uuid": stage, "pending_count": 24, "reason": "batch_size_reached"},
    })
}

/// The headers the platform sends with `body`, signed as it signs them.
fn signed(body: &[u8], secret: &str) -> Vec<(&'static str, String)> {
    let at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{at}.").as_bytes());
    mac.update(body);
    vec![
        (
            "X-Encord-Signature",
            hex::encode(mac.finalize().into_bytes()),
        ),
        ("X-Encord-Timestamp", at.to_string()),
    ]
}

fn stage_uuid(store: &std::path::Path, hash: &str, title: &str) -> String {
    let out = runner_host(&[
        "local",
        "status",
        "--store",
        &store.to_string_lossy(),
        "--project-hash",
        hash,
        "--json",
    ]);
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    v["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["title"] == title)
        .map(|s| s["uuid"].as_str().unwrap().to_string())
        .unwrap()
}

/// `runner-host serve` of the prelabel agent on `store`; the child and its
/// base URL.
fn serve(store: &std::path::Path, hash: &str, extra: &[&str]) -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_runner-host"))
        .args(["serve", "--listen", "127.0.0.1:0", "--component"])
        .arg(guest("prelabel"))
        .arg("--store")
        .arg(store)
        .args(["--project-hash", hash])
        .args(extra)
        .env("ENCORD_WEBHOOK_SECRET", SECRET)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{line}"))
        .to_string();
    (child, base)
}

/// The child's stderr, read to its end on a thread (so the pipe never fills).
fn read_stderr(child: &mut std::process::Child) -> std::thread::JoinHandle<String> {
    let pipe = child.stderr.take().unwrap();
    std::thread::spawn(move || std::io::read_to_string(pipe).unwrap())
}

/// SIGTERM to the service; its exit status and everything it logged.
fn stop(
    mut child: std::process::Child,
    logs: std::thread::JoinHandle<String>,
) -> (std::process::ExitStatus, String) {
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let code = child.wait().unwrap();
    (code, logs.join().unwrap())
}

#[test]
fn with_refresh_every_the_stages_served_drain_without_a_notification() {
    let (_dir, store, hash) = demo_store();
    let (mut child, _base) = serve(&store, &hash, &["--refresh-every", "1"]);
    let logs = read_stderr(&mut child);
    let deadline = Instant::now() + Duration::from_secs(60);
    while count(&status(&store, &hash), "triage") < 24 {
        assert!(
            Instant::now() < deadline,
            "the poll did not drain pre-label"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(count(&status(&store, &hash), "pre-label"), 0);
    let (code, logs) = stop(child, logs);
    assert!(code.success(), "{code:?}\n{logs}");
    assert!(logs.contains("serving stage(s) pre-label"), "{logs}");
}

#[test]
fn task_ready_webhooks_are_verified_and_a_valid_one_drains_its_stage() {
    let (_dir, store, hash) = demo_store();
    let pre_label = stage_uuid(&store, &hash, "pre-label");
    let component = guest("prelabel");
    let mut child = Command::new(env!("CARGO_BIN_EXE_runner-host"))
        .args(["serve", "--listen", "127.0.0.1:0", "--component"])
        .arg(&component)
        .arg("--store")
        .arg(&store)
        .args(["--project-hash", &hash])
        .env("ENCORD_WEBHOOK_SECRET", SECRET)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{line}"))
        .to_string();
    let logs = read_stderr(&mut child);

    let rt = tokio::runtime::Runtime::new().unwrap();
    let http = reqwest::Client::new();
    let post = |body: Vec<u8>, headers: Vec<(&'static str, String)>| {
        let mut r = http.post(format!("{base}/encord/task-ready")).body(body);
        for (k, v) in headers {
            r = r.header(k, v);
        }
        rt.block_on(async { r.send().await.unwrap().status().as_u16() })
    };
    let get = |path: &str| {
        let url = format!("{base}{path}");
        rt.block_on(async {
            let r = http.get(url).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        })
    };

    assert_eq!(get("/healthz"), (200, "ok\n".into()));
    let valid = serde_json::to_vec(&envelope(&hash, &pre_label)).unwrap();
    // Unverified: refused, nothing drained.
    assert_eq!(post(valid.clone(), vec![]), 401);
    assert_eq!(post(valid.clone(), signed(&valid, "another secret")), 401);
    let mut changed = envelope(&hash, &pre_label);
    changed["payload"]["pending_count"] = json!(1);
    assert_eq!(
        post(
            serde_json::to_vec(&changed).unwrap(),
            signed(&valid, SECRET)
        ),
        401
    );
    // Genuine but not for this receiver: acknowledged.
    let mut other = envelope(&hash, &pre_label);
    other["event_type"] = json!("task_submitted_event");
    let other = serde_json::to_vec(&other).unwrap();
    assert_eq!(post(other.clone(), signed(&other, SECRET)), 200);
    // A version this host cannot read.
    let mut v2 = envelope(&hash, &pre_label);
    v2["version"] = json!(2);
    let v2 = serde_json::to_vec(&v2).unwrap();
    assert_eq!(post(v2.clone(), signed(&v2, SECRET)), 501);
    // Authenticated, not authorised: a project this service does not serve.
    let elsewhere = serde_json::to_vec(&envelope(
        "44444444-4444-4444-4444-444444444444",
        &pre_label,
    ))
    .unwrap();
    assert_eq!(post(elsewhere.clone(), signed(&elsewhere, SECRET)), 200);
    // ... nor a stage this agent does not serve.
    let triage =
        serde_json::to_vec(&envelope(&hash, &stage_uuid(&store, &hash, "triage"))).unwrap();
    assert_eq!(post(triage.clone(), signed(&triage, SECRET)), 200);
    assert_eq!(
        count(&status(&store, &hash), "pre-label"),
        24,
        "nothing was drained yet"
    );

    // A valid notification: 200, and the stage drains.
    assert_eq!(post(valid.clone(), signed(&valid, SECRET)), 200);
    let deadline = Instant::now() + Duration::from_secs(60);
    let metrics = loop {
        let (code, text) = get("/metrics");
        assert_eq!(code, 200);
        if text.contains("outcome=\"ok\"} 1") {
            break text;
        }
        assert!(Instant::now() < deadline, "the drain did not end:\n{text}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let status = status(&store, &hash);
    assert_eq!(count(&status, "pre-label"), 0, "{status:?}");
    assert_eq!(count(&status, "triage"), 24, "{status:?}");
    for line in [
        format!("runner_host_tasks_total{{project=\"{hash}\",stage=\"pre-label\",result=\"moved\"}} 24"),
        format!("runner_host_pathway_moves_total{{project=\"{hash}\",stage=\"pre-label\",pathway=\"to triage\"}} 24"),
        "runner_host_webhooks_total{answer=\"unverified\"} 3".into(),
        "runner_host_webhooks_total{answer=\"other_event\"} 1".into(),
        "runner_host_webhooks_total{answer=\"unsupported_version\"} 1".into(),
        "runner_host_webhooks_total{answer=\"not_served\"} 2".into(),
        "runner_host_webhooks_total{answer=\"accepted\"} 1".into(),
        "runner_host_drains_running 0".into(),
        format!("runner_host_task_duration_seconds_count{{project=\"{hash}\",stage=\"pre-label\"}} 24"),
    ] {
        assert!(metrics.contains(&line), "no `{line}` in\n{metrics}");
    }

    let (code, logs) = stop(child, logs);
    assert!(code.success(), "{code:?}\n{logs}");
    assert!(!logs.contains(SECRET), "the secret is in the log");
}

#[test]
fn serve_without_a_secret_says_where_to_put_it() {
    let (_dir, store, hash) = demo_store();
    let out = Command::new(env!("CARGO_BIN_EXE_runner-host"))
        .args(["serve", "--component"])
        .arg(guest("prelabel"))
        .arg("--store")
        .arg(&store)
        .args(["--project-hash", &hash])
        .env_remove("ENCORD_WEBHOOK_SECRET")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let e = stderr(&out);
    assert!(
        e.contains("ENCORD_WEBHOOK_SECRET") && e.contains("--webhook-secret-file"),
        "{e}"
    );
}
