//! The runner's own behaviour with real components: reports and dry runs
//! that match what happens, exactly-once routing under concurrency (on the
//! store and over HTTP), tasks run `--concurrency` at a time, a clean stop
//! mid-batch, polling, and the library builder.

use crate::support;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use runner_host::platform::{PlatformError, Project};
use serde_json::Value;
use support::*;

/// What a report says per task, without timings.
fn decisions(report: &[Value]) -> HashMap<String, (Value, Value, Value, Value, Value)> {
    report
        .iter()
        .map(|r| {
            (
                r["task_uuid"].as_str().unwrap().to_string(),
                (
                    r["result"].clone(),
                    r["pathway"].clone(),
                    r["labels_saved"].clone(),
                    r["priority"].clone(),
                    r["error"].clone(),
                ),
            )
        })
        .collect()
}

#[test]
fn the_report_and_a_dry_run_match_what_happens() {
    let (dir, store, hash) = demo_store();
    let (status_before, export_before) = (status(&store, &hash), export(&store, &hash));
    let dry = dir.path().join("dry.jsonl");
    let out = run_agent(
        &guest("guest-misbehave"),
        &store,
        &hash,
        &[
            "--dry-run",
            "--report",
            dry.to_str().unwrap(),
            "--num-retries",
            "0",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stdout(&out).contains("dry run: nothing was saved or moved"));
    assert_eq!(
        status(&store, &hash),
        status_before,
        "a dry run moves nothing"
    );
    assert_eq!(
        export(&store, &hash),
        export_before,
        "a dry run saves nothing"
    );
    let dry_report = read_report(&dry);
    assert_eq!(dry_report.len(), 24);
    assert!(dry_report
        .iter()
        .filter(|r| r["result"] == "moved")
        .all(|r| r["dry_run"] == true));

    let real = dir.path().join("real.jsonl");
    let out = run_agent(
        &guest("guest-misbehave"),
        &store,
        &hash,
        &["--report", real.to_str().unwrap(), "--num-retries", "0"],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let real_report = read_report(&real);
    assert_eq!(
        decisions(&real_report),
        decisions(&dry_report),
        "the dry run predicted the real run"
    );

    // The store agrees with the report, task by task.
    let rows = export(&store, &hash);
    for r in &real_report {
        let e = exported(&rows, r["data_title"].as_str().unwrap());
        match r["result"].as_str().unwrap() {
            "moved" => {
                assert_eq!(e["stage"], "triage");
                assert_eq!(r["pathway"], "to triage");
                assert_eq!(
                    e["label_row"]["label_hash"].is_string(),
                    r["labels_saved"] == true
                );
                assert_eq!(e["priority"], r["priority"]);
            }
            "failed" => {
                assert_eq!(e["stage"], "pre-label");
                assert!(r["error"].is_string());
                assert_eq!(r["attempts"], 1, "--num-retries 0: one attempt");
            }
            other => panic!("unexpected outcome {other}"),
        }
        assert!(r["duration_ms"].is_u64());
    }
    assert_eq!(
        real_report
            .iter()
            .filter(|r| r["result"] == "failed")
            .count(),
        5
    );
}

/// The waits between a failed agent's attempts, in ms, as the runner logs them.
fn retry_waits(stderr: &str) -> Vec<u64> {
    stderr
        .lines()
        .filter(|l| l.contains("agent failed: deliberate failure"))
        .filter_map(|l| {
            l.split("retrying in ")
                .nth(1)?
                .split(" ms")
                .next()?
                .parse()
                .ok()
        })
        .collect()
}

/// `--retry-delay-ms` sets the first wait between a failed agent's
/// attempts, which then doubles (plus at most 50 % jitter); the default
/// is 100 ms. Read from the runner's own log, not from a clock.
#[test]
fn the_wait_between_agent_attempts_is_the_retry_delay_doubling() {
    let (_dir, store, hash) = demo_store();
    let args = [
        "--dry-run",
        "--retry-failed",
        "--stage",
        "pre-label",
        "--num-retries",
        "2",
    ];
    let out = run_agent(&guest("guest-misbehave"), &store, &hash, &args);
    let waits = retry_waits(&stderr(&out));
    assert_eq!(waits.len(), 2, "{}", stderr(&out));
    assert!(
        (100..=150).contains(&waits[0]),
        "default first wait: {waits:?}"
    );
    assert!((200..=300).contains(&waits[1]), "doubled: {waits:?}");

    let mut args = args.to_vec();
    args.extend(["--retry-delay-ms", "40"]);
    let out = run_agent(&guest("guest-misbehave"), &store, &hash, &args);
    let waits = retry_waits(&stderr(&out));
    assert_eq!(waits.len(), 2, "{}", stderr(&out));
    assert!(
        (40..=60).contains(&waits[0]),
        "--retry-delay-ms 40: {waits:?}"
    );
    assert!((80..=120).contains(&waits[1]), "doubled: {waits:?}");
}

fn assert_exactly_once(report: &[Value], total: usize) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for r in report {
        *seen.entry(r["task_uuid"].as_str().unwrap()).or_default() += 1;
        assert_eq!(r["result"], "moved", "{r}");
    }
    assert_eq!(seen.len(), total, "every task reported");
    assert!(seen.values().all(|n| *n == 1), "no task reported twice");
}

#[test]
fn a_thousand_tasks_are_routed_exactly_once_with_concurrency_4_and_batches_of_7() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let out = runner_host(&[
        "local",
        "demo",
        "--store",
        store.to_str().unwrap(),
        "--images",
        "1000",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let hash = stdout(&out).lines().last().unwrap().trim().to_string();
    let served = dir.path().join("served");
    copy_store(&store, &served);
    let total = 1000 + 2;

    // On the store.
    let report = dir.path().join("store.jsonl");
    let out = run_agent(
        &guest("prelabel"),
        &store,
        &hash,
        &[
            "--concurrency",
            "4",
            "--task-batch-size",
            "7",
            "--report",
            report.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let s = status(&store, &hash);
    assert_eq!(
        (count(&s, "pre-label"), count(&s, "triage")),
        (0, total as u64)
    );
    assert_exactly_once(&read_report(&report), total);

    // Over HTTP, through the emulator.
    let (key, public) = keypair(dir.path(), "id_ed25519");
    add_key(&served, &public);
    let emulator = Emulator::start(&served, &[]);
    let report = dir.path().join("http.jsonl");
    let out = run_over_http(
        &guest("prelabel"),
        &emulator,
        &key,
        &hash,
        &[
            "--concurrency",
            "4",
            "--task-batch-size",
            "7",
            "--report",
            report.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    drop(emulator);
    let s = status(&served, &hash);
    assert_eq!(
        (count(&s, "pre-label"), count(&s, "triage")),
        (0, total as u64)
    );
    assert_exactly_once(&read_report(&report), total);
    assert_eq!(
        comparable(export(&served, &hash)),
        comparable(export(&store, &hash))
    );
}

/// Starts a run in the background: `from` says where the project is.
fn spawn_run(wasm: &Path, hash: &str, from: &[String], extra: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_runner-host"))
        .args([
            "--component",
            wasm.to_str().unwrap(),
            "--project-hash",
            hash,
        ])
        .args(from)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Sends SIGINT to a process.
fn interrupt(pid: u32) {
    let ok = Command::new("sh")
        .arg("-c")
        .arg(format!("kill -INT {pid}"))
        .status()
        .unwrap();
    assert!(ok.success());
}

fn wait_for(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Where a test's runner-host gets its project: the store, or the
/// emulator serving it (kept alive by the returned guard).
/// `emulator` holds the emulator's own options (e.g. `--record FILE`).
fn source(
    dir: &Path,
    store: &Path,
    over_http: bool,
    emulator: &[&str],
) -> (Option<Emulator>, Vec<String>) {
    if !over_http {
        return (None, vec!["--store".into(), store.to_str().unwrap().into()]);
    }
    let (key, public) = keypair(dir, "id_ed25519");
    add_key(store, &public);
    let emulator = Emulator::start(store, emulator);
    let args = vec![
        "--domain".into(),
        emulator.url.clone(),
        "--ssh-key-file".into(),
        key.to_str().unwrap().into(),
    ];
    (Some(emulator), args)
}

#[test]
fn ctrl_c_mid_batch_loses_no_decided_save_or_move() {
    ctrl_c_mid_batch(false);
}

#[test]
fn ctrl_c_mid_batch_over_http_loses_no_decided_save_or_move() {
    ctrl_c_mid_batch(true);
}

fn ctrl_c_mid_batch(over_http: bool) {
    let (dir, store, hash) = demo_store();
    let report = dir.path().join("report.jsonl");
    let wasm = guest("guest-slow");
    let (_emulator, from) = source(dir.path(), &store, over_http, &[]);
    let child = spawn_run(
        &wasm,
        &hash,
        &from,
        &[
            "--concurrency",
            "2",
            "--task-batch-size",
            "6",
            "--report",
            report.to_str().unwrap(),
        ],
    );
    // Stop once the first batch is written and the second is under way.
    wait_for("the first batch", Duration::from_secs(60), || {
        read_report(&report).len() >= 6
    });
    std::thread::sleep(Duration::from_millis(250));
    interrupt(child.id());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("interrupted:"),
        "the summary is printed: {}",
        stdout(&out)
    );

    let report = read_report(&report);
    let rows = export(&store, &hash);
    let moved: Vec<&Value> = report.iter().filter(|r| r["result"] == "moved").collect();
    assert!(
        moved.len() >= 6 && moved.len() < 24,
        "stopped mid-run: {} moved",
        moved.len()
    );
    // Every task that was decided is fully written; nothing else was touched.
    for r in &report {
        let e = exported(&rows, r["data_title"].as_str().unwrap());
        if r["result"] == "moved" {
            assert_eq!(e["stage"], "triage", "{r}");
            assert!(labelled(e), "{r}");
            assert_eq!(e["priority"], 0.5);
        } else {
            assert_eq!(r["result"], "abandoned", "{r}");
        }
    }
    let in_triage = count(&status(&store, &hash), "triage") as usize;
    assert_eq!(
        in_triage,
        moved.len(),
        "no task moved that the report does not list"
    );
    let labelled = rows.iter().filter(|e| labelled(e)).count();
    assert_eq!(labelled, moved.len(), "no label saved for a task not moved");
}

#[test]
fn polling_picks_up_tasks_added_between_passes() {
    polling(false);
}

#[test]
fn polling_over_http_picks_up_tasks_added_between_passes() {
    polling(true);
}

fn polling(over_http: bool) {
    let (dir, store, hash) = demo_store();
    let report = dir.path().join("report.jsonl");
    let wasm = guest("prelabel");
    let (_emulator, from) = source(dir.path(), &store, over_http, &[]);
    let child = spawn_run(
        &wasm,
        &hash,
        &from,
        &["--refresh-every", "1", "--report", report.to_str().unwrap()],
    );
    wait_for("the first pass", Duration::from_secs(60), || {
        count(&status(&store, &hash), "triage") == 24
    });
    let out = runner_host(&[
        "local",
        "add-data",
        "--store",
        store.to_str().unwrap(),
        "--project-hash",
        &hash,
        "--images",
        "3",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    wait_for("a later pass", Duration::from_secs(60), || {
        count(&status(&store, &hash), "triage") == 27
    });
    interrupt(child.id());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let report = read_report(&report);
    assert_eq!(report.len(), 27, "each task handled once across passes");
    assert!(report
        .iter()
        .any(|r| r["data_title"].as_str().unwrap().starts_with("added-")));
    assert!(
        stderr(&out).contains("sleeping"),
        "it waited between passes"
    );
}

/// Runs `wasm` over the store through the library's builder: batches of
/// `batch`, `concurrency` tasks at once, at most `max` tasks.
fn run_with_builder(
    wasm: &Path,
    store: &Path,
    hash: &str,
    batch: usize,
    concurrency: usize,
    max: usize,
) -> runner_host::runner::Summary {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        runner_host::runner::Runner::builder()
            .component(wasm)
            .store(store)
            .project_hash(hash)
            .task_batch_size(batch)
            .concurrency(concurrency)
            .max_tasks_per_stage(Some(max))
            .build()
            .unwrap()
            .run()
            .await
            .unwrap()
    })
}

#[test]
fn the_library_builder_runs_like_the_cli() {
    let (_dir, store, hash) = demo_store();
    let summary = run_with_builder(&guest("prelabel"), &store, &hash, 5, 2, 10);
    assert_eq!(summary.stages[0].processed, 10);
    assert_eq!(summary.stages[0].moved.get("to triage"), Some(&10));
    assert_eq!(count(&status(&store, &hash), "triage"), 10);
}

/// `--concurrency N` runs N tasks of a batch at once: from the report's
/// start times and durations, the most tasks of a guest that sleeps 200 ms
/// each that were ever running together is N.
#[test]
fn concurrency_runs_that_many_tasks_at_once() {
    let most_at_once = |concurrency: usize| {
        let (dir, store, hash) = demo_store();
        let report = dir.path().join("report.jsonl");
        let out = run_agent(
            &guest("guest-slow"),
            &store,
            &hash,
            &[
                "--concurrency",
                &concurrency.to_string(),
                "--task-batch-size",
                "12",
                "--max-tasks-per-stage",
                "12",
                "--report",
                report.to_str().unwrap(),
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(count(&status(&store, &hash), "triage"), 12);
        // (time, +1 at a start or -1 at an end); ends sort before starts at
        // the same instant, so back-to-back tasks do not count as together.
        let mut events: Vec<(i64, i32)> = read_report(&report)
            .iter()
            .flat_map(|r| {
                let start = chrono::DateTime::parse_from_rfc3339(r["started_at"].as_str().unwrap())
                    .unwrap()
                    .timestamp_micros();
                let end = start + r["duration_ms"].as_i64().unwrap() * 1000;
                [(start, 1), (end, -1)]
            })
            .collect();
        assert_eq!(events.len(), 24);
        events.sort();
        let mut running = 0;
        let mut most = 0;
        for (_, step) in events {
            running += step;
            most = most.max(running);
        }
        most
    };
    assert_eq!(most_at_once(1), 1);
    assert_eq!(most_at_once(4), 4);
}

#[test]
fn tasks_that_exhausted_their_retries_wait_for_new_data_or_retry_failed() {
    let (dir, store, hash) = demo_store();
    let report = dir.path().join("r.jsonl");
    let run = |extra: &[&str]| {
        let mut args = vec!["--num-retries", "0", "--report", report.to_str().unwrap()];
        args.extend_from_slice(extra);
        run_agent(&guest("guest-misbehave"), &store, &hash, &args)
    };
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        read_report(&report)
            .iter()
            .filter(|r| r["result"] == "failed")
            .count(),
        5
    );

    // A later run (a restart) does not run them again.
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("5 task(s) skipped: they failed before on the same data"),
        "{}",
        stdout(&out)
    );
    let r = read_report(&report);
    assert_eq!(r.len(), 5);
    assert!(
        r.iter()
            .all(|r| r["result"] == "skipped_failed" && r["attempts"] == 0),
        "{r:?}"
    );
    assert!(
        !stderr(&out).contains("deliberate failure"),
        "the agent was not called"
    );

    // A rebuilt agent (other bytes: here the same code with a custom
    // section added) gets them back without --retry-failed.
    let rebuilt = dir.path().join("rebuilt.wasm");
    let mut bytes = std::fs::read(guest("guest-misbehave")).unwrap();
    bytes.extend_from_slice(&[0, 8, 7]);
    bytes.extend_from_slice(b"rebuilt");
    std::fs::write(&rebuilt, bytes).unwrap();
    let out = run_agent(
        &rebuilt,
        &store,
        &hash,
        &["--num-retries", "0", "--report", report.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(
        read_report(&report)
            .iter()
            .filter(|r| r["result"] == "failed")
            .count(),
        5
    );

    // --retry-failed runs them again.
    let out = run(&["--retry-failed"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        read_report(&report)
            .iter()
            .filter(|r| r["result"] == "failed")
            .count(),
        5
    );
}

/// Whether the agent's labels were saved on this exported row (over HTTP,
/// merely reading a row may give it a label hash, so that is not the sign).
fn labelled(e: &Value) -> bool {
    e["label_row"]["classification_answers"]
        .as_object()
        .is_some_and(|c| !c.is_empty())
}

/// The platform of a run in which someone else (a person, another runner)
/// moves one task out of its stage while the agent works on it: just before
/// the run's first move, `task` is sent straight to `destination` through
/// the store itself. Everything else is the real platform's.
struct Interloper {
    inner: std::sync::Arc<dyn runner_host::platform::Platform>,
    store: runner_host::local::LocalStore,
    task: String,
    destination: String,
    done: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl runner_host::platform::Platform for Interloper {
    async fn project(&self, p: &str) -> Result<Project, PlatformError> {
        self.inner.project(p).await
    }
    async fn list_tasks(
        &self,
        p: &str,
        s: &str,
        token: Option<&str>,
    ) -> Result<runner_host::platform::TaskPage, PlatformError> {
        self.inner.list_tasks(p, s, token).await
    }
    async fn label_rows(
        &self,
        p: &str,
        d: &[String],
        q: &runner_host::platform::LabelRowQuery,
    ) -> Result<Vec<runner_host::platform::LabelRowRecord>, PlatformError> {
        self.inner.label_rows(p, d, q).await
    }
    async fn save_labels(
        &self,
        p: &str,
        saves: &[runner_host::platform::LabelSave],
    ) -> Result<(), PlatformError> {
        self.inner.save_labels(p, saves).await
    }
    async fn set_priorities(&self, p: &str, prios: &[(String, f32)]) -> Result<(), PlatformError> {
        self.inner.set_priorities(p, prios).await
    }
    async fn data_items(
        &self,
        p: &str,
        d: &[String],
        known: &[Option<String>],
    ) -> Result<Vec<Option<runner_host::platform::DataItem>>, PlatformError> {
        self.inner.data_items(p, d, known).await
    }
    async fn set_client_metadata(&self, u: &[(String, String)]) -> Result<(), PlatformError> {
        self.inner.set_client_metadata(u).await
    }
    async fn twins(
        &self,
        p: &str,
        d: &[String],
        include_task: bool,
    ) -> Result<Vec<Option<runner_host::platform::TwinRecord>>, PlatformError> {
        self.inner.twins(p, d, include_task).await
    }
    async fn move_tasks(
        &self,
        p: &str,
        s: &str,
        actions: &[runner_host::platform::MoveAction],
    ) -> Result<(), PlatformError> {
        if !self.done.swap(true, std::sync::atomic::Ordering::SeqCst) {
            self.store
                .move_to_stage(p, s, std::slice::from_ref(&self.task), &self.destination)
                .expect("the interloper moves the task");
        }
        self.inner.move_tasks(p, s, actions).await
    }
    async fn task_in_stage(
        &self,
        p: &str,
        s: &str,
        task: &runner_host::platform::Task,
    ) -> Result<bool, PlatformError> {
        self.inner.task_in_stage(p, s, task).await
    }
}

#[test]
fn a_task_moved_by_someone_else_meanwhile_is_already_advanced_on_the_store() {
    already_advanced(false);
}

#[test]
fn a_task_moved_by_someone_else_meanwhile_is_already_advanced_over_http() {
    already_advanced(true);
}

/// One of five tasks leaves `pre-label` for `Review` while the agent runs:
/// the bundled move is refused, the replay moves the other four, and that
/// one counts as already advanced: not a failure, left where the other
/// party put it, the run exits cleanly.
fn already_advanced(over_http: bool) {
    use runner_host::platform::Platform;
    let (dir, store, hash) = demo_store();
    let local = runner_host::local::LocalStore::open(&store).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (project, first) = rt.block_on(async {
        let project = local.project(&hash).await.unwrap();
        let stage = project.workflow.agent_stages().next().unwrap().uuid.clone();
        let page = local.list_tasks(&hash, &stage, None).await.unwrap();
        (project, page.tasks[0].clone())
    });
    let review = project
        .workflow
        .stages
        .iter()
        .find(|st| st.title == "Review")
        .unwrap()
        .uuid
        .clone();
    // The run's own platform: the store itself, or the emulator serving it.
    let mut emulator = None;
    let inner: std::sync::Arc<dyn Platform> = if over_http {
        let (key, public) = keypair(dir.path(), "id_ed25519");
        add_key(&store, &public);
        let e = Emulator::start(&store, &[]);
        let creds = runner_host::encord::Credentials::from_file(&key).unwrap();
        let retry = runner_host::encord::RetryPolicy::default();
        let client = runner_host::encord::EncordClient::new(&e.url, creds, retry).unwrap();
        emulator = Some(e);
        std::sync::Arc::new(client)
    } else {
        std::sync::Arc::new(runner_host::local::LocalStore::open(&store).unwrap())
    };
    let platform = Interloper {
        inner,
        store: local,
        task: first.uuid.clone(),
        destination: review,
        done: Default::default(),
    };
    let summary = rt.block_on(async {
        runner_host::runner::Runner::builder()
            .component(guest("prelabel"))
            .platform(std::sync::Arc::new(platform))
            .project_hash(&hash)
            .task_batch_size(5)
            .max_tasks_per_stage(Some(5))
            .build()
            .unwrap()
            .run()
            .await
            .unwrap()
    });
    drop(emulator);
    let s = &summary.stages[0];
    assert_eq!(s.processed, 5);
    assert_eq!(s.failed, 0, "{:?}", s.failures);
    assert_eq!(s.already_advanced, 1);
    assert_eq!(s.moved.get("to triage"), Some(&4));
    let st = status(&store, &hash);
    assert_eq!(
        (
            count(&st, "pre-label"),
            count(&st, "triage"),
            count(&st, "Review")
        ),
        (19, 4, 1)
    );
}

#[test]
fn killed_after_its_first_move_then_rerun_on_the_store_loses_nothing() {
    killed_then_rerun(false, "after-first-move");
}

#[test]
fn killed_after_its_first_move_then_rerun_over_http_loses_nothing() {
    killed_then_rerun(true, "after-first-move");
}

#[test]
fn killed_between_saves_and_moves_then_rerun_on_the_store_loses_nothing() {
    killed_then_rerun(false, "before-moves");
}

#[test]
fn killed_between_saves_and_moves_then_rerun_over_http_loses_nothing() {
    killed_then_rerun(true, "before-moves");
}

/// A 3,000-task run (batches of 300) killed with SIGKILL at `point`
/// (`RUNNER_HOST_TEST_CRASH_AT`), then run again to the end. On the store,
/// and over HTTP with the emulator's record of every request it accepted as
/// the ledger: every task routed exactly once, none moved before its labels
/// were saved, no saved label lost.
fn killed_then_rerun(over_http: bool, point: &str) {
    use std::os::unix::process::ExitStatusExt;
    const TASKS: usize = 3000;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let hash = demo_at(&store, &["--images", &TASKS.to_string(), "--images-only"]);
    let ledger = dir.path().join("ledger.jsonl");
    let (emulator, source) = source(
        dir.path(),
        &store,
        over_http,
        &["--record", ledger.to_str().unwrap()],
    );
    let run = |crash: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_runner-host"));
        cmd.args(["--component", guest("bench-agent").to_str().unwrap()])
            .args(["--project-hash", &hash])
            .args(&source)
            .env("RUST_LOG", "info");
        if let Some(point) = crash {
            cmd.env("RUNNER_HOST_TEST_CRASH_AT", point);
        }
        cmd.output().expect("runner-host starts")
    };

    let killed = run(Some(point));
    assert_eq!(killed.status.signal(), Some(9), "{}", stderr(&killed));
    let moved_before = if point == "after-first-move" { 300 } else { 0 };
    let st = status(&store, &hash);
    assert_eq!(
        (count(&st, "pre-label"), count(&st, "triage")),
        (TASKS as u64 - moved_before, moved_before),
        "{point}"
    );

    let rerun = run(None);
    assert_eq!(rerun.status.code(), Some(0), "{}", stderr(&rerun));
    assert!(
        stdout(&rerun).contains(&format!("to triage: {}", TASKS as u64 - moved_before)),
        "the rerun moves exactly the rest: {}",
        stdout(&rerun)
    );
    drop(emulator);
    let st = status(&store, &hash);
    assert_eq!(
        (count(&st, "pre-label"), count(&st, "triage")),
        (0, TASKS as u64)
    );
    // No saved label lost: every row has the agent's one box and priority.
    let rows = export(&store, &hash);
    assert_eq!(rows.len(), TASKS);
    for r in &rows {
        assert_eq!(
            r["label_row"]["object_answers"]
                .as_object()
                .map(|o| o.len()),
            Some(1),
            "{r}"
        );
        assert!(r["priority"].is_number(), "{r}");
    }
    if !over_http {
        return;
    }

    // The ledger: what the server accepted, in order.
    let conn = rusqlite::Connection::open(store.join("store.sqlite")).unwrap();
    let data_of: HashMap<String, String> = conn
        .prepare("SELECT task_uuid, data_hash FROM tasks WHERE project_hash = ?1")
        .unwrap()
        .query_map([&hash], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut saved = std::collections::HashSet::new();
    let mut moves: HashMap<String, usize> = HashMap::new();
    for line in std::fs::read_to_string(&ledger).unwrap().lines() {
        let l: Value = serde_json::from_str(line).unwrap();
        let body: Value = serde_json::from_str(l["body"].as_str().unwrap()).unwrap_or(Value::Null);
        let target = l["target"].as_str().unwrap();
        if target.ends_with("/actions") && l["status"] == 204 {
            for a in body.as_array().unwrap() {
                let task = a["taskUuid"].as_str().unwrap();
                assert!(
                    saved.contains(&data_of[task]),
                    "task {task} moved before its labels were saved"
                );
                *moves.entry(task.to_string()).or_default() += 1;
            }
        }
        let answer: Value =
            serde_json::from_str(l["answer"].as_str().unwrap()).unwrap_or(Value::Null);
        if target == "/public"
            && body["query_type"] == "labelrow"
            && body["query_method"] == "POST"
            && answer["status"] == 200
        {
            for row in body["values"]["payload"]["labels"].as_array().unwrap() {
                saved.insert(row["data_hash"].as_str().unwrap().to_string());
            }
        }
    }
    assert_eq!(moves.len(), TASKS, "every task was moved");
    assert!(
        moves.values().all(|&n| n == 1),
        "some task was moved twice: {:?}",
        moves
            .iter()
            .filter(|(_, &n)| n != 1)
            .take(3)
            .collect::<Vec<_>>()
    );
}
