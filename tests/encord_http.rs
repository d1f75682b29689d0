//! The HTTP client against the emulator, over real HTTP on loopback: the
//! same end state as the store directly, with and without injected faults;
//! 400s never retried; bad credentials and addresses reported clearly.

use crate::support;

use std::path::Path;

use support::*;

/// Runs both example agents over `store` through `emulator` with `key`.
fn run_demo_over_http(emulator: &Emulator, key: &Path, hash: &str, extra: &[&str]) {
    for agent in ["prelabel", "triage"] {
        let out = run_over_http(&guest(agent), emulator, key, hash, extra);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{agent} over HTTP failed: {}\n{}",
            stderr(&out),
            stdout(&out)
        );
    }
}

fn run_demo_on_store(store: &Path, hash: &str) {
    for agent in ["prelabel", "triage"] {
        let out = run_agent(&guest(agent), store, hash, &[]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{agent} on the store failed: {}",
            stderr(&out)
        );
    }
}

/// Two copies of one demo store: (guard, direct copy, served copy, hash, key).
fn two_copies() -> (
    tempfile::TempDir,
    std::path::PathBuf,
    std::path::PathBuf,
    String,
    std::path::PathBuf,
) {
    let (dir, direct, hash) = demo_store();
    let served = dir.path().join("served");
    copy_store(&direct, &served);
    let (key, public) = keypair(dir.path(), "id_ed25519");
    add_key(&served, &public);
    (dir, direct, served, hash, key)
}

/// The data hashes of the project's first `n` label rows, listed with a
/// `labelrowmetadata` call.
async fn first_data_hashes(
    client: &runner_host::encord::EncordClient,
    hash: &str,
    n: usize,
) -> Vec<String> {
    use serde_json::{json, Value};
    client
        .http()
        .legacy::<Value>(
            hash,
            "labelrowmetadata",
            "GET",
            Value::Null,
            json!({}),
            true,
        )
        .await
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .take(n)
        .map(|m| m["data_hash"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn over_http_the_demo_ends_exactly_as_on_the_store() {
    let (_dir, direct, served, hash, key) = two_copies();
    run_demo_on_store(&direct, &hash);
    let emulator = Emulator::start(&served, &[]);
    run_demo_over_http(&emulator, &key, &hash, &[]);
    drop(emulator);
    assert_eq!(status(&served, &hash), status(&direct, &hash));
    assert_eq!(
        comparable(export(&served, &hash)),
        comparable(export(&direct, &hash))
    );
    assert_eq!(count(&status(&served, &hash), "Complete"), 14);
}

#[test]
fn with_a_fifth_of_requests_failing_every_task_is_routed_once_and_no_label_lost() {
    let (_dir, direct, served, hash, key) = two_copies();
    run_demo_on_store(&direct, &hash);
    let emulator = Emulator::start(
        &served,
        &[
            "--fault-rate",
            "0.2",
            "--faults",
            "429,503,500,reset",
            "--retry-after",
            "0",
        ],
    );
    run_demo_over_http(&emulator, &key, &hash, &["--task-batch-size", "5"]);
    let log = emulator.log();
    drop(emulator);
    assert!(
        log.matches("request").count() > 40,
        "the run made real requests"
    );
    assert_eq!(status(&served, &hash), status(&direct, &hash));
    assert_eq!(
        comparable(export(&served, &hash)),
        comparable(export(&direct, &hash))
    );
}

/// Every move answered 400 while the tasks are still in their stage: a
/// refusal, not "already advanced". Each task fails with Encord's message,
/// stays in `pre-label`, and the run exits 3; its labels were still saved.
#[test]
fn a_refused_move_of_a_task_still_in_its_stage_fails_the_task() {
    let (dir, _direct, served, hash, key) = two_copies();
    let emulator = Emulator::start(
        &served,
        &[
            "--fault-rate",
            "1",
            "--faults",
            "400",
            "--fault-endpoint",
            "/actions",
        ],
    );
    let report = dir.path().join("report.jsonl");
    let out = run_over_http(
        &guest("prelabel"),
        &emulator,
        &key,
        &hash,
        &[
            "--max-tasks-per-stage",
            "4",
            "--report",
            report.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    // One bundled request, then one per task: each refused once, none retried.
    assert_eq!(emulator.requests("/actions"), 1 + 4, "{}", emulator.log());
    assert!(
        stderr(&out).contains("bundled move rejected"),
        "{}",
        stderr(&out)
    );
    assert!(
        !stderr(&out).contains("already left"),
        "no refusal is taken for an advanced task: {}",
        stderr(&out)
    );
    let lines = read_report(&report);
    assert_eq!(lines.len(), 4);
    for r in &lines {
        assert_eq!(r["result"], "failed", "{r}");
        assert_eq!(
            r["error"],
            "the move was refused: injected rejection (the task is still in `pre-label`)",
            "{r}"
        );
        assert_eq!(r["labels_saved"], true, "{r}");
    }
    let summary = stdout(&out);
    assert!(
        summary.contains("the move was refused: injected rejection"),
        "the summary lists the failures: {summary}"
    );
    drop(emulator);
    assert_eq!(
        count(&status(&served, &hash), "pre-label"),
        24,
        "no task moved"
    );
    // The labels were saved before the moves were tried.
    let rows = export(&served, &hash);
    let saved = rows
        .iter()
        .filter(|r| r["label_row"]["label_hash"].is_string())
        .count();
    assert_eq!(saved, 4);
}

/// Creating label rows (a `labelrow` PUT, not idempotent) that keeps
/// failing is tried as often as the retry policy allows, and no more: after
/// a 503 (not processed) the request is simply repeated; after a 500 (maybe
/// processed) which rows were created after all is checked first. No row is
/// left half-created.
#[test]
fn creating_label_rows_is_tried_as_often_as_the_retry_policy_allows() {
    use runner_host::encord::{Credentials, EncordClient, RetryPolicy};
    use runner_host::platform::{LabelRowQuery, Platform};
    let (_dir, _direct, served, hash, key) = two_copies();
    let policy = RetryPolicy {
        max_retries: 2,
        base: std::time::Duration::from_millis(1),
        max_delay: std::time::Duration::from_millis(5),
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut data = Vec::new();
    // (fault, checks of which rows were created between tries)
    for (fault, checks) in [("503", 0), ("500", 2)] {
        let emulator = Emulator::start(
            &served,
            &[
                "--fault-rate",
                "1",
                "--faults",
                fault,
                "--fault-endpoint",
                "labelrow/PUT",
            ],
        );
        let err = rt.block_on(async {
            let creds = Credentials::from_file(&key).unwrap();
            let client = EncordClient::new(&emulator.url, creds, policy).unwrap();
            data = first_data_hashes(&client, &hash, 3).await;
            client
                .label_rows(&hash, &data, &LabelRowQuery::default())
                .await
                .unwrap_err()
        });
        assert!(
            err.to_string().contains("creating label rows") && err.to_string().contains(fault),
            "{fault}: {err}"
        );
        // The first try and the policy's 2 retries; no other call was hit.
        assert_eq!(
            emulator.requests("labelrow/PUT"),
            3,
            "{fault}: {}",
            emulator.log()
        );
        // Listed here, read before creating, then the checks.
        assert_eq!(
            emulator.legacy_calls("labelrowmetadata/GET"),
            1 + 1 + checks,
            "{fault}: {}",
            emulator.log()
        );
    }
    let db = rusqlite::Connection::open(served.join("store.sqlite")).unwrap();
    for data_hash in &data {
        let label_hash: Option<String> = db
            .query_row(
                "SELECT label_hash FROM label_rows WHERE project_hash = ?1 AND data_hash = ?2",
                [hash.as_str(), data_hash.as_str()],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(label_hash, None, "the row of {data_hash} stays uncreated");
    }
}

fn one_error_line(out: &std::process::Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout: {}\nstderr: {}",
        stdout(out),
        stderr(out)
    );
    let errors: Vec<&str> = std::str::from_utf8(&out.stderr)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{}", stderr(out));
    errors[0].to_string()
}

fn run_with(url: &str, hash: &str, key_args: &[&str]) -> std::process::Output {
    let wasm = guest("prelabel");
    let mut args = vec![
        "--component",
        wasm.to_str().unwrap(),
        "--project-hash",
        hash,
        "--domain",
        url,
        "--http-retries",
        "1",
    ];
    args.extend_from_slice(key_args);
    runner_host(&args)
}

#[test]
fn bad_credentials_and_addresses_are_one_clear_line() {
    let (dir, _direct, served, hash, key) = two_copies();
    let emulator = Emulator::start(&served, &[]);
    let before = (status(&served, &hash), export(&served, &hash));

    // A key file that is not there.
    let e = one_error_line(&run_with(
        &emulator.url,
        &hash,
        &["--ssh-key-file", "/nonexistent/id_ed25519"],
    ));
    assert!(
        e.contains("/nonexistent/id_ed25519") && e.contains("does not exist"),
        "{e}"
    );

    // A key that is not Ed25519.
    let ecdsa = dir.path().join("id_ecdsa");
    std::fs::write(&ecdsa, ECDSA_KEY).unwrap();
    let e = one_error_line(&run_with(
        &emulator.url,
        &hash,
        &["--ssh-key-file", ecdsa.to_str().unwrap()],
    ));
    assert!(e.contains("Ed25519") && !e.contains("BEGIN OPENSSH"), "{e}");

    // Something that is not a key at all.
    let junk = dir.path().join("junk");
    std::fs::write(&junk, "hello").unwrap();
    let e = one_error_line(&run_with(
        &emulator.url,
        &hash,
        &["--ssh-key-file", junk.to_str().unwrap()],
    ));
    assert!(e.contains("is not an OpenSSH private key"), "{e}");

    // A valid key the server does not know.
    let (stranger, _) = keypair(dir.path(), "stranger");
    let e = one_error_line(&run_with(
        &emulator.url,
        &hash,
        &["--ssh-key-file", stranger.to_str().unwrap()],
    ));
    assert!(e.contains("refused the credentials (401)"), "{e}");
    assert!(emulator.log().contains("401"), "the emulator answered 401");

    // A project the server does not know.
    let other = "3f0e5f40-0000-4000-8000-000000000000";
    let e = one_error_line(&run_with(
        &emulator.url,
        other,
        &["--ssh-key-file", key.to_str().unwrap()],
    ));
    assert!(
        e.contains(&format!(
            "no project `{other}` in Encord at {}",
            emulator.url
        )),
        "{e}"
    );

    // Nobody listening.
    let e = one_error_line(&run_with(
        "http://127.0.0.1:9",
        &hash,
        &["--ssh-key-file", key.to_str().unwrap()],
    ));
    assert!(
        e.contains("cannot reach Encord at http://127.0.0.1:9"),
        "{e}"
    );

    // The key never leaks, and nothing was written.
    let secret = std::fs::read_to_string(&key).unwrap();
    let body = secret.lines().nth(1).unwrap();
    assert!(!emulator.log().contains(body));
    drop(emulator);
    assert_eq!((status(&served, &hash), export(&served, &hash)), before);
}

/// A throwaway ECDSA key (test fixture, not a secret).
const ECDSA_KEY: &str = "-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAaAAAABNlY2RzYS
1zaGEyLW5pc3RwMjU2AAAACG5pc3RwMjU2AAAAQQT02TlmG97Men+GE2fY79xjX2LOd5j7
ckLyuqdM8FRIghQ1OaYitqrjaEBTtqXaKkhT4nYLK6s96UdTsIJnZc6WAAAAoBfLrtYXy6
7WAAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBPTZOWYb3sx6f4YT
Z9jv3GNfYs53mPtyQvK6p0zwVEiCFDU5piK2quNoQFO2pdoqSFPidgsrqz3pR1Owgmdlzp
YAAAAgF914/USE88rDgrmTNPstp0r+zXmhjvgxpsHrkSrqgZIAAAAEdGVzdAECAwQ=
-----END OPENSSH PRIVATE KEY-----
";

/// Signed media URLs from the emulator download, streaming, byte for byte,
/// through injected failures; a tampered URL is refused.
#[test]
fn signed_media_downloads_survive_failures() {
    use runner_host::encord::{Credentials, EncordClient, RetryPolicy};
    let (dir, _direct, served, hash, key) = two_copies();
    let emulator = Emulator::start(
        &served,
        &[
            "--fault-rate",
            "0.3",
            "--faults",
            "503,reset",
            "--retry-after",
            "0",
        ],
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let creds = Credentials::from_file(&key).unwrap();
        let client = EncordClient::new(&emulator.url, creds, RetryPolicy::default()).unwrap();
        // Storage items of the video and an image, through the label rows' metadata.
        let meta = client
            .http()
            .legacy::<serde_json::Value>(
                &hash,
                "labelrowmetadata",
                "GET",
                serde_json::Value::Null,
                serde_json::json!({"data_hashes": null}),
                true,
            )
            .await
            .unwrap();
        let items: Vec<String> = meta
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["data_title"] == "walk-01.y4m" || m["data_title"] == "park-01.png")
            .map(|m| m["backing_item_uuid"].as_str().unwrap().to_string())
            .collect();
        let body = serde_json::json!({"itemUuids": items, "signUrls": true});
        let got = client
            .http()
            .v2(
                reqwest::Method::POST,
                "storage/items/get-bulk",
                &[],
                Some(&body),
                true,
            )
            .await
            .unwrap();
        let results = got["results"].as_array().unwrap();
        assert_eq!(results.len(), 2);
        for (item, uuid) in results.iter().zip(&items) {
            assert_eq!(item["uuid"], uuid.as_str(), "get-bulk keeps request order");
            let url = item["signedUrl"].as_str().unwrap();
            let dest = dir.path().join(item["name"].as_str().unwrap());
            let n = client.http().download(url, &dest).await.unwrap();
            let original = std::fs::read(
                served
                    .join("media")
                    .join(&hash)
                    .join(item["name"].as_str().unwrap()),
            )
            .unwrap();
            assert_eq!(n as usize, original.len());
            assert_eq!(std::fs::read(&dest).unwrap(), original);
            let forged = url.replace("sig=", "sig=0");
            let before = emulator.requests("/media/");
            assert!(before >= 1, "{}", emulator.log());
            assert!(client.http().download(&forged, &dest).await.is_err());
            assert!(!dest.exists(), "a failed download leaves no partial file");
        }
    });
}

/// Over HTTP too, misbehaving tasks fail alone, and a dry run changes no
/// label, priority or task (it may give never-opened rows a label hash:
/// Encord's create call, which is how label rows are read at all).
#[test]
fn over_http_failures_stay_isolated_and_a_dry_run_changes_nothing() {
    let (dir, direct, served, hash, key) = two_copies();
    let emulator = Emulator::start(&served, &[]);
    let wasm = guest("guest-misbehave");
    let report = dir.path().join("dry.jsonl");
    let args = |extra: &[&'static str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "--component",
            wasm.to_str().unwrap(),
            "--project-hash",
            &hash,
            "--domain",
            &emulator.url,
            "--ssh-key-file",
            key.to_str().unwrap(),
            "--num-retries",
            "0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let dry: Vec<String> = args(&["--dry-run", "--report"])
        .into_iter()
        .chain([report.to_str().unwrap().to_string()])
        .collect();
    let out = runner_host(&dry.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(status(&served, &hash), status(&direct, &hash));
    assert_eq!(
        comparable(export(&served, &hash)),
        comparable(export(&direct, &hash))
    );

    let real = args(&[]);
    let out = runner_host(&real.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    drop(emulator);
    let s = status(&served, &hash);
    assert_eq!((count(&s, "pre-label"), count(&s, "triage")), (5, 19));
    let text = stdout(&out);
    assert!(
        text.contains("(street-07.png): dependency failed"),
        "{text}"
    );
    assert!(
        text.contains("(street-02.png): stage `pre-label` has no pathway `to nowhere`"),
        "{text}"
    );
}

#[test]
fn the_emulator_records_every_api_request_and_its_answer_without_credentials() {
    let (dir, _direct, served, hash, key) = two_copies();
    let record = dir.path().join("requests.jsonl");
    let emulator = Emulator::start(&served, &["--record", record.to_str().unwrap()]);
    run_demo_over_http(&emulator, &key, &hash, &[]);
    let log = emulator.log();
    drop(emulator);
    let api_requests = log
        .lines()
        .filter(|l| l.contains("emulator: request") && !l.contains("path=/media/"))
        .count();
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&record)
        .expect("the record file")
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert!(
        api_requests > 10,
        "the run made API requests: {api_requests}"
    );
    assert_eq!(lines.len(), api_requests, "one line per API request");
    for line in &lines {
        for field in ["method", "target", "body", "answer"] {
            assert!(line[field].is_string(), "{field} in {line}");
        }
        assert!(line["status"].is_u64(), "{line}");
        let headers = line["headers"].as_object().expect("headers");
        for secret in ["authorization", "signature", "signature-input"] {
            assert!(!headers.contains_key(secret), "{secret} recorded: {line}");
        }
    }
    let priorities = format!("/v2/public/projects/{hash}/priorities");
    assert!(
        lines
            .iter()
            .any(|l| l["method"] == "POST" && l["target"] == priorities && l["status"] == 204),
        "the priorities call is recorded with its status"
    );
}

/// Label rows reach the agent as the server's own JSON text, byte for byte
/// (not parsed and written out again), whether created or fetched; an error
/// answer to a label-row call is mapped as any other call's is.
#[test]
fn label_rows_come_back_as_the_servers_text_and_errors_keep_their_meaning() {
    use runner_host::encord::{ApiError, Credentials, EncordClient, RetryPolicy};
    use runner_host::platform::{LabelRowQuery, Platform};
    use serde_json::value::RawValue;
    use serde_json::{json, Value};
    type Rows = Vec<Box<RawValue>>;
    let (_dir, _direct, served, hash, key) = two_copies();
    let emulator = Emulator::start(&served, &[]);
    let stored = |data_hash: &str| -> String {
        let db = rusqlite::Connection::open(served.join("store.sqlite")).unwrap();
        db.query_row(
            "SELECT row_json FROM label_rows WHERE project_hash = ?1 AND data_hash = ?2",
            [hash.as_str(), data_hash],
            |r| r.get(0),
        )
        .unwrap()
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let creds = Credentials::from_file(&key).unwrap();
        let client = EncordClient::new(&emulator.url, creds, RetryPolicy::default()).unwrap();
        let http = client.http();
        let data = first_data_hashes(&client, &hash, 3).await;
        let query = LabelRowQuery::default();
        // Uninitialised: created by the PUT, answered as the store now keeps them.
        let created = client.label_rows(&hash, &data, &query).await.unwrap();
        for r in &created {
            assert_eq!(r.json.as_deref(), Some(stored(&r.data_hash).as_str()));
        }
        // Fetched by the GET: a row the server keeps spread over lines (which
        // no parse-and-write-again would give back) comes back as it is.
        let pretty = serde_json::to_string_pretty(
            &serde_json::from_str::<Value>(&stored(&data[0])).unwrap(),
        )
        .unwrap();
        rusqlite::Connection::open(served.join("store.sqlite"))
            .unwrap()
            .execute(
                "UPDATE label_rows SET row_json = ?1 WHERE project_hash = ?2 AND data_hash = ?3",
                [pretty.as_str(), hash.as_str(), data[0].as_str()],
            )
            .unwrap();
        let fetched = client.label_rows(&hash, &data, &query).await.unwrap();
        assert_eq!(fetched[0].json.as_deref(), Some(pretty.as_str()));
        for r in &fetched[1..] {
            assert_eq!(r.json.as_deref(), Some(stored(&r.data_hash).as_str()));
        }

        let not_a_list = http
            .legacy::<Rows>(&hash, "labelrow", "GET", json!("nope"), json!({}), true)
            .await
            .unwrap_err();
        assert!(
            matches!(&not_a_list, ApiError::InvalidArguments(m) if m.contains("uid must be a list")),
            "{not_a_list:?}"
        );
        let unknown = http
            .legacy::<Rows>(&hash, "labelrow", "GET", json!(["no-such-label"]), json!({}), true)
            .await
            .unwrap_err();
        assert!(matches!(unknown, ApiError::NotFound(_)), "{unknown:?}");
        // A saved row must be a JSON object; a bundle with one that is not
        // is refused whole and names it.
        let before = stored(&data[1]);
        let label_hash = serde_json::from_str::<Value>(&before).unwrap()["label_hash"].clone();
        let not_an_object = http
            .legacy::<Value>(
                &hash,
                "labelrow",
                "POST",
                json!([label_hash, label_hash]),
                json!({"labels": [serde_json::from_str::<Value>(&before).unwrap(), [1, 2]]}),
                false,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&not_an_object, ApiError::InvalidArguments(m) if m.contains("label row 1") && m.contains("is not a JSON object")),
            "{not_an_object:?}"
        );
        assert_eq!(stored(&data[1]), before, "nothing of the bundle was saved");
        // Saving nothing answers `true`: a status-200 answer that is no list.
        let not_a_list_answer = http
            .legacy::<Rows>(&hash, "labelrow", "POST", json!([]), json!({"labels": []}), false)
            .await
            .unwrap_err();
        assert!(
            matches!(&not_a_list_answer, ApiError::BadResponse { reason, .. } if reason.contains("expected a sequence")),
            "{not_a_list_answer:?}"
        );
    });
}

#[test]
fn a_task_page_is_answered_while_a_save_waits_for_the_stores_write_lock() {
    use runner_host::encord::{Credentials, EncordClient, RetryPolicy};
    use runner_host::platform::{LabelRowQuery, LabelSave, Platform};
    use std::time::Duration;
    let (_dir, _direct, served, hash, key) = two_copies();
    let db = served.join("store.sqlite");
    let (stage, data_hash): (String, String) = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT stage_uuid, data_hash FROM tasks WHERE project_hash = ?1 ORDER BY seq LIMIT 1",
            [hash.as_str()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    // One runtime worker: a handler that blocked its thread would hold up
    // every other request.
    let emulator = Emulator::start_env(&served, &[], &[("TOKIO_WORKER_THREADS", "1")]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let creds = Credentials::from_file(&key).unwrap();
        let client =
            std::sync::Arc::new(EncordClient::new(&emulator.url, creds, RetryPolicy::default()).unwrap());
        let query = LabelRowQuery::default();
        let row = client.label_rows(&hash, std::slice::from_ref(&data_hash), &query).await.unwrap();
        let mut row: serde_json::Value = serde_json::from_str(row[0].json.as_deref().unwrap()).unwrap();
        row["label_status"] = "LABELLED".into();
        let saves = vec![LabelSave {
            data_hash: data_hash.clone(),
            json: row.to_string(),
        }];

        // Another process holds the store's write lock (as `runner-host local`
        // commands may): the save waits for it.
        let holder = rusqlite::Connection::open(&db).unwrap();
        holder.execute_batch("BEGIN IMMEDIATE").unwrap();
        let save = tokio::spawn({
            let client = client.clone();
            let hash = hash.clone();
            async move { client.save_labels(&hash, &saves).await }
        });
        let waited = std::time::Instant::now();
        while emulator.legacy_calls("labelrow/POST") == 0 {
            assert!(waited.elapsed() < Duration::from_secs(10), "the save never reached the emulator");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Meanwhile a task page (and its signature check) reads the last
        // commit, answered while the save still waits: it cannot land before
        // the lock is released below.
        let page = tokio::time::timeout(
            Duration::from_secs(5),
            client.list_tasks(&hash, &stage, None),
        )
        .await
        .expect("a task page waited behind the blocked save")
        .unwrap();
        assert!(page.tasks.iter().any(|t| t.data_hash == data_hash));
        if save.is_finished() {
            panic!("the save did not wait for the write lock: {:?}", save.await);
        }

        // The lock released, the save lands.
        holder.execute_batch("ROLLBACK").unwrap();
        tokio::time::timeout(Duration::from_secs(10), save)
            .await
            .expect("the save finishes once the lock is free")
            .unwrap()
            .unwrap();
        let status: String = holder
            .query_row(
                "SELECT json_extract(row_json, '$.label_status') FROM label_rows WHERE project_hash = ?1 AND data_hash = ?2",
                [hash.as_str(), data_hash.as_str()],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(status, "LABELLED");
    });
}
