//! Scale-out: `runner-host worker`s sharing a project through a real
//! nats-server (Debian's 2.9.10, started per test on a free loopback port in
//! a temporary directory), against the real emulator over HTTP, running a
//! real component. Every verdict comes from the emulator's record of each
//! request it answered (`--record`): each task exactly one accepted move,
//! its labels saved before it, and the stage empty, whatever was killed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::*;

/// A nats-server with JetStream, on a free loopback port, its store in a
/// temporary directory; killed when dropped.
struct Nats {
    child: Child,
    dir: tempfile::TempDir,
    url: String,
    port: u16,
}

fn nats_binary() -> PathBuf {
    ["/usr/sbin/nats-server", "/usr/bin/nats-server"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            PathBuf::from(which("nats-server").expect(
                "nats-server is not installed: run scripts/setup.sh (Debian's nats-server)",
            ))
        })
}

fn which(name: &str) -> Option<String> {
    std::env::var("PATH").ok()?.split(':').find_map(|d| {
        let p = Path::new(d).join(name);
        p.exists().then(|| p.to_string_lossy().into_owned())
    })
}

impl Nats {
    fn start() -> Nats {
        Nats::start_with(&["-js"], None)
    }

    /// `args` besides the store, address and ports; on `port` if given.
    fn start_with(args: &[&str], port: Option<u16>) -> Nats {
        let dir = tempfile::tempdir().unwrap();
        let (child, port) = Nats::spawn(dir.path(), args, port);
        Nats {
            child,
            url: format!("nats://127.0.0.1:{port}"),
            dir,
            port,
        }
    }

    // The child is returned to a `Nats`, whose drop kills and waits for it.
    #[allow(clippy::zombie_processes)]
    fn spawn(dir: &Path, args: &[&str], port: Option<u16>) -> (Child, u16) {
        let port_arg = port.map_or("-1".to_string(), |p| p.to_string());
        let mut child = Command::new(nats_binary())
            .args(args)
            .arg("-sd")
            .arg(dir.join("js"))
            .args(["-a", "127.0.0.1", "-p", &port_arg, "--ports_file_dir"])
            .arg(dir)
            .arg("-l")
            .arg(dir.join("nats.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server starts");
        let ports = dir.join(format!("nats-server_{}.ports", child.id()));
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let port = std::fs::read_to_string(&ports)
                .ok()
                .and_then(|text| serde_json::from_str::<Value>(&text).ok())
                .and_then(|v| v["nats"][0].as_str()?.rsplit(':').next()?.parse().ok());
            if let Some(port) = port {
                return (child, port);
            }
            if Instant::now() > deadline {
                child.kill().ok();
                child.wait().ok();
                panic!("nats-server did not write {}", ports.display());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }

    /// Starts the server again on the same port and store directory.
    fn restart(&mut self) {
        self.kill();
        let (child, _) = Nats::spawn(self.dir.path(), &["-js"], Some(self.port));
        self.child = child;
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A project of `titles` in one agent stage `work` (pathway `done` to
/// Done), served by the emulator with a record of every request.
struct Project {
    dir: tempfile::TempDir,
    store: PathBuf,
    hash: String,
    key: PathBuf,
    record: PathBuf,
    emulator: Emulator,
}

fn project(titles: &[String]) -> Project {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.db");
    let data: Vec<Value> = titles.iter().map(|t| json!({ "title": t })).collect();
    let hash = local_project(
        &store,
        &json!({
            "title": "Queued", "ontology": ontology_json("examples/demo-ontology.json"),
            "stages": [
                {"title": "work", "type": "AGENT", "pathways": [{"name": "done", "to": "Done"}]},
                {"title": "Done", "type": "DONE"}
            ],
            "data": data,
        }),
    );
    let (key, public) = keypair(dir.path(), "worker");
    add_key(&store, &public);
    let record = dir.path().join("record.jsonl");
    let emulator = Emulator::start(&store, &["--record", record.to_str().unwrap()]);
    Project {
        dir,
        store,
        hash,
        key,
        record,
        emulator,
    }
}

fn images(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("img-{i:04}.png")).collect()
}

impl Project {
    fn log(&self, id: &str) -> PathBuf {
        self.dir.path().join(format!("{id}.log"))
    }

    fn report(&self, id: &str) -> PathBuf {
        self.dir.path().join(format!("{id}.report"))
    }

    /// Starts worker `id` with the test's short timings.
    fn worker(&self, nats: &Nats, id: &str, env: &[(&str, &str)], extra: &[&str]) -> Child {
        Command::new(env!("CARGO_BIN_EXE_runner-host"))
            .arg("worker")
            .args(["--queue", &nats.url, "--worker-id", id, "--component"])
            .arg(guest("guest-queue-work"))
            .args(["--project-hash", &self.hash, "--domain", &self.emulator.url])
            .arg("--ssh-key-file")
            .arg(&self.key)
            .args([
                "--ack-wait",
                "2",
                "--heartbeat",
                "0.5",
                "--max-deliver",
                "3",
            ])
            .args([
                "--lease-ttl",
                "3",
                "--concurrency",
                "1",
                "--task-batch-size",
                "10",
            ])
            .args(["--num-retries", "0", "--report"])
            .arg(self.report(id))
            .args(extra)
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.log(id)).unwrap())
            .spawn()
            .expect("the worker starts")
    }

    fn logs(&self, id: &str) -> String {
        std::fs::read_to_string(self.log(id)).unwrap_or_default()
    }

    /// Waits for worker `id` to end; its exit code (none: killed by a signal).
    fn wait(&self, child: &mut Child, id: &str) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status.code();
            }
            if Instant::now() > deadline {
                child.kill().ok();
                panic!("worker {id} did not end:\n{}", self.logs(id));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until worker `id` logged `line`.
    fn wait_for_log(&self, id: &str, line: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.logs(id).contains(line) {
            assert!(
                Instant::now() < deadline,
                "worker {id} never logged `{line}`:\n{}",
                self.logs(id)
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn reports(&self, ids: &[&str]) -> Vec<Value> {
        ids.iter()
            .filter(|id| self.report(id).exists())
            .flat_map(|id| read_report(&self.report(id)))
            .collect()
    }

    fn queue(&self, nats: &Nats, args: &[&str]) -> Output {
        let mut all = vec!["queue"];
        all.extend_from_slice(&args[..1]);
        all.extend_from_slice(&["--queue", &nats.url, "--project-hash", &self.hash]);
        all.extend_from_slice(&args[1..]);
        runner_host(&all)
    }
}

/// What the emulator accepted, in the order it answered.
#[derive(Default)]
struct Ledger {
    /// (answer index, data hash) of every accepted label row save.
    saves: Vec<(usize, String)>,
    /// (answer index, task uuid) of every accepted move.
    moves: Vec<(usize, String)>,
    rejected_moves: usize,
    /// Task uuid → (data hash, title), from the task listings answered.
    tasks: HashMap<String, (String, String)>,
}

fn ledger(record: &Path) -> Ledger {
    let mut l = Ledger::default();
    let text = std::fs::read_to_string(record).unwrap();
    for (i, line) in text.lines().enumerate() {
        let r: Value = serde_json::from_str(line).unwrap();
        let target = r["target"].as_str().unwrap();
        let status = r["status"].as_u64().unwrap();
        let body: Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap_or(Value::Null);
        let answer: Value =
            serde_json::from_str(r["answer"].as_str().unwrap()).unwrap_or(Value::Null);
        if target == "/public" && body["query_type"] == "labelrow" && body["query_method"] == "POST"
        {
            if status == 200 && answer["status"].as_u64().unwrap_or(200) == 200 {
                for row in body["values"]["payload"]["labels"].as_array().unwrap() {
                    l.saves
                        .push((i, row["data_hash"].as_str().unwrap().to_string()));
                }
            }
        } else if target.contains("/workflow/stages/") && target.ends_with("/actions") {
            for a in body.as_array().unwrap() {
                let task = a["taskUuid"].as_str().unwrap().to_string();
                if status < 300 {
                    l.moves.push((i, task));
                } else {
                    l.rejected_moves += 1;
                }
            }
        } else if target.contains("/tasks") && status == 200 {
            for t in answer["results"].as_array().into_iter().flatten() {
                l.tasks.insert(
                    t["uuid"].as_str().unwrap().to_string(),
                    (
                        t["dataHash"].as_str().unwrap().to_string(),
                        t["dataTitle"].as_str().unwrap().to_string(),
                    ),
                );
            }
        }
    }
    l
}

impl Ledger {
    fn moves_of(&self, task: &str) -> Vec<usize> {
        self.moves
            .iter()
            .filter(|(_, t)| t == task)
            .map(|(i, _)| *i)
            .collect()
    }

    fn saves_of(&self, data: &str) -> Vec<usize> {
        self.saves
            .iter()
            .filter(|(_, d)| d == data)
            .map(|(i, _)| *i)
            .collect()
    }

    fn task_titled(&self, title: &str) -> (String, String) {
        self.tasks
            .iter()
            .find(|(_, (_, t))| t == title)
            .map(|(uuid, (data, _))| (uuid.clone(), data.clone()))
            .unwrap_or_else(|| panic!("no task `{title}` was listed"))
    }
}

/// Every task but `except` moved exactly once, after an accepted save of
/// its labels; the work stage holds only `except`; each saved label is the
/// agent's for that task.
fn assert_routed_once(p: &Project, l: &Ledger, titles: &[String], except: &[&str]) {
    assert_eq!(l.tasks.len(), titles.len(), "every task was listed");
    for (task, (data, title)) in &l.tasks {
        let moves = l.moves_of(task);
        if except.contains(&title.as_str()) {
            assert!(moves.is_empty(), "{title} must not move: {moves:?}");
            continue;
        }
        assert_eq!(
            moves.len(),
            1,
            "{title}: exactly one accepted move, got {moves:?}"
        );
        let first_save = l.saves_of(data).into_iter().min();
        assert!(
            first_save.is_some_and(|s| s < moves[0]),
            "{title}: its labels were saved before its move (save {first_save:?}, move {})",
            moves[0]
        );
    }
    let st = status(&p.store, &p.hash);
    assert_eq!(
        count(&st, "work"),
        except.len() as u64,
        "the stage is empty: {st:?}"
    );
    assert_eq!(
        count(&st, "Done"),
        (titles.len() - except.len()) as u64,
        "{st:?}"
    );
    let rows = export(&p.store, &p.hash);
    for title in titles.iter().filter(|t| !except.contains(&t.as_str())) {
        let row = exported(&rows, title);
        assert!(
            row["label_row"].to_string().contains(&format!("q:{title}")),
            "{title}'s own label was saved: {}",
            row["label_row"]
        );
    }
}

fn queue_status(p: &Project, nats: &Nats) -> Value {
    let out = p.queue(nats, &["status", "--json"]);
    assert!(out.status.success(), "queue status: {}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

/// How one of three workers is killed.
#[derive(Clone, Copy, PartialEq)]
enum Kill {
    /// By itself, after its first batch's saves, before its moves.
    AfterSaves,
    /// By itself, after its first batch's moves, before its acks.
    AfterMoves,
    /// With kill -9 from outside, once it started a batch.
    MidBatch,
}

fn three_workers_and_one_killed(kill: Kill) {
    const N: usize = 600;
    let nats = Nats::start();
    let titles = images(N);
    let p = project(&titles);
    let crash = match kill {
        Kill::AfterSaves => vec![("RUNNER_HOST_TEST_CRASH_AT", "before-moves")],
        Kill::AfterMoves => vec![("RUNNER_HOST_TEST_CRASH_AT", "before-acks")],
        Kill::MidBatch => vec![],
    };
    // The doomed worker takes the first batch: the others start once it has.
    let mut doomed = p.worker(&nats, "w1", &crash, &[]);
    p.wait_for_log("w1", "batch started");
    let mut w2 = p.worker(&nats, "w2", &[], &[]);
    let mut w3 = p.worker(&nats, "w3", &[], &[]);
    if kill == Kill::MidBatch {
        doomed.kill().unwrap();
    }
    let killed = p.wait(&mut doomed, "w1");
    assert_eq!(killed, None, "w1 died by a signal:\n{}", p.logs("w1"));
    assert_eq!(p.wait(&mut w2, "w2"), Some(0), "w2:\n{}", p.logs("w2"));
    assert_eq!(p.wait(&mut w3, "w3"), Some(0), "w3:\n{}", p.logs("w3"));

    let l = ledger(&p.record);
    assert_routed_once(&p, &l, &titles, &[]);
    // The survivors settled the doomed worker's batch, after its ack wait.
    let reports = p.reports(&["w2", "w3"]);
    let doomed_report = p.reports(&["w1"]);
    let settled: std::collections::HashSet<&str> = reports
        .iter()
        .chain(&doomed_report)
        .map(|r| r["task_uuid"].as_str().unwrap())
        .collect();
    assert_eq!(settled.len(), N, "every task was reported settled");
    match kill {
        Kill::AfterSaves => {
            // Saved by w1, not moved: run and saved again by another.
            let twice = l
                .tasks
                .values()
                .filter(|(d, _)| l.saves_of(d).len() == 2)
                .count();
            assert!(twice >= 1, "w1's saved batch was run again");
        }
        Kill::AfterMoves => {
            // Moved by w1, not acknowledged: redelivered, found gone, not run.
            let gone = reports
                .iter()
                .filter(|r| r["result"] == "already_advanced")
                .count();
            assert!(
                gone >= 1,
                "w1's moved batch was redelivered and settled without a run"
            );
            assert_eq!(l.saves.len(), N, "no task was saved twice");
        }
        Kill::MidBatch => {}
    }
    let s = queue_status(&p, &nats);
    let stage = &s["stages"][0];
    assert_eq!(
        (stage["queued"].as_u64(), stage["in_flight"].as_u64()),
        (Some(0), Some(0)),
        "{s}"
    );
    let done: u64 = s["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["done"].as_u64().unwrap())
        .sum();
    assert!(
        done >= (N as u64) - 10,
        "the registry counts what the workers did: {s}"
    );
}

#[test]
fn a_worker_killed_after_its_saves_loses_nothing_and_routes_nothing_twice() {
    three_workers_and_one_killed(Kill::AfterSaves);
}

#[test]
fn a_worker_killed_after_its_moves_has_its_batch_settled_without_a_second_run() {
    three_workers_and_one_killed(Kill::AfterMoves);
}

#[test]
fn a_worker_killed_from_outside_mid_batch_loses_nothing() {
    three_workers_and_one_killed(Kill::MidBatch);
}

/// A task whose agent always fails becomes a dead letter with its reason
/// after --max-deliver deliveries, never moves and holds no one up; a task
/// working four times the ack wait stays its worker's through heartbeats
/// and runs once; `queue retry` queues the dead letter again.
#[test]
fn a_poison_task_is_a_dead_letter_and_a_long_task_runs_once() {
    let nats = Nats::start();
    let mut titles = images(30);
    titles.push("poison-1.png".into());
    titles.push("long-8000-1.png".into());
    let p = project(&titles);
    let mut w1 = p.worker(&nats, "w1", &[], &[]);
    let mut w2 = p.worker(&nats, "w2", &[], &[]);
    // Tasks failed for good during the run: exit 3 from each.
    assert_eq!(p.wait(&mut w1, "w1"), Some(3), "w1:\n{}", p.logs("w1"));
    assert_eq!(p.wait(&mut w2, "w2"), Some(3), "w2:\n{}", p.logs("w2"));

    let l = ledger(&p.record);
    assert_routed_once(&p, &l, &titles, &["poison-1.png"]);
    let (_, long_data) = l.task_titled("long-8000-1.png");
    assert_eq!(
        l.saves_of(&long_data).len(),
        1,
        "the long task ran and saved once"
    );
    let (poison, poison_data) = l.task_titled("poison-1.png");
    assert!(l.saves_of(&poison_data).is_empty());

    let out = p.queue(&nats, &["failed", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let dead: Vec<Value> = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0]["message"]["task"]["uuid"], poison.as_str());
    assert_eq!(dead[0]["deliveries"], 3);
    assert!(
        dead[0]["error"]
            .as_str()
            .unwrap()
            .contains("poison-1.png is poison"),
        "{dead:?}"
    );
    let s = queue_status(&p, &nats);
    assert_eq!(s["stages"][0]["failed"], 1, "{s}");

    // A second pass leaves the dead letter alone: nothing is queued.
    let mut again = p.worker(&nats, "w3", &[], &[]);
    assert_eq!(p.wait(&mut again, "w3"), Some(0), "w3:\n{}", p.logs("w3"));
    assert!(
        p.logs("w3").contains("listed: 0 task(s) queued"),
        "{}",
        p.logs("w3")
    );

    // An unknown task is refused, and nothing is queued.
    let out = p.queue(
        &nats,
        &["retry", "--task", "00000000-0000-4000-8000-000000000000"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("is not a dead letter"),
        "{}",
        stderr(&out)
    );
    let out = p.queue(&nats, &["retry", "--task", &poison]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), poison);
    let s = queue_status(&p, &nats);
    assert_eq!(
        (
            s["stages"][0]["queued"].as_u64(),
            s["stages"][0]["failed"].as_u64()
        ),
        (Some(1), Some(0)),
        "{s}"
    );
}

/// The lister dies after queueing every task but before it marks the pass
/// listed: another worker takes the lease once it expires, lists again (the
/// queue refuses every duplicate) and the run completes.
#[test]
fn a_lister_killed_hands_over_and_a_second_listing_queues_nothing_twice() {
    let nats = Nats::start();
    let titles = images(60);
    let p = project(&titles);
    let mut w1 = p.worker(
        &nats,
        "w1",
        &[("RUNNER_HOST_TEST_CRASH_AT", "lister-before-listed")],
        &[],
    );
    assert_eq!(
        p.wait(&mut w1, "w1"),
        None,
        "w1 died by a signal:\n{}",
        p.logs("w1")
    );
    assert!(
        p.logs("w1").contains("listed: 60 task(s) queued"),
        "{}",
        p.logs("w1")
    );
    let started = Instant::now();
    let mut w2 = p.worker(&nats, "w2", &[], &[]);
    assert_eq!(p.wait(&mut w2, "w2"), Some(0), "w2:\n{}", p.logs("w2"));
    let w2_log = p.logs("w2");
    assert!(w2_log.contains("holding the lister lease"), "{w2_log}");
    assert!(
        w2_log.contains("listed: 0 task(s) queued"),
        "the second listing queued nothing: {w2_log}"
    );
    assert!(started.elapsed() < Duration::from_secs(60));
    assert_routed_once(&p, &ledger(&p.record), &titles, &[]);
}

/// The server goes away mid-run and comes back on its store: the worker
/// waits, reconnects, and nothing is routed twice.
#[test]
fn a_worker_waits_out_a_nats_server_restart() {
    let mut nats = Nats::start();
    let titles = images(200);
    let p = project(&titles);
    let mut w1 = p.worker(&nats, "w1", &[], &[]);
    p.wait_for_log("w1", "batch started");
    nats.kill();
    std::thread::sleep(Duration::from_secs(2));
    nats.restart();
    assert_eq!(p.wait(&mut w1, "w1"), Some(0), "w1:\n{}", p.logs("w1"));
    assert_routed_once(&p, &ledger(&p.record), &titles, &[]);
}

/// A bad --queue, a server nobody runs, and one without JetStream: one line
/// naming the fix, exit 1, and nothing in the store touched.
#[test]
fn a_bad_queue_is_one_line_exit_1_and_nothing_touched() {
    let (dir, store, hash) = demo_store();
    let before = snapshot(dir.path());
    let plain = Nats::start_with(&[], None);
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let nobody = format!("nats://127.0.0.1:{free}");
    for (queue, says) in [
        ("http://127.0.0.1:4222", "is not a NATS server URL"),
        (nobody.as_str(), "cannot reach the NATS server"),
        (plain.url.as_str(), "has no JetStream"),
    ] {
        let out = runner_host(&[
            "worker",
            "--queue",
            queue,
            "--component",
            guest("prelabel").to_str().unwrap(),
            "--store",
            store.to_str().unwrap(),
            "--project-hash",
            &hash,
        ]);
        assert_eq!(out.status.code(), Some(1), "{queue}: {}", stderr(&out));
        let errors: Vec<String> = stderr(&out)
            .lines()
            .filter(|l| l.starts_with("error"))
            .map(String::from)
            .collect();
        assert_eq!(errors.len(), 1, "{queue}: {}", stderr(&out));
        assert!(errors[0].contains(says), "{queue}: {}", errors[0]);
    }
    assert!(
        before == snapshot(dir.path()),
        "nothing in the store was touched"
    );
}

/// encord-agents' QueueRunner protocol: `run-task` takes what its Celery or
/// Modal producers send (AgentTask JSON, one or a list of JSON strings) and
/// answers its TaskCompletionResult JSON; a failing task fails alone.
#[test]
fn run_task_answers_queue_runner_task_json() {
    let mut titles = images(3);
    titles.push("poison-1.png".into());
    let p = project(&titles);
    let http = |extra: &[&str]| {
        let mut args = vec![
            "--component",
            guest_path("guest-queue-work"),
            "--project-hash",
            &p.hash,
            "--domain",
            &p.emulator.url,
            "--ssh-key-file",
            p.key.to_str().unwrap(),
            "--num-retries",
            "0",
        ];
        args.extend_from_slice(extra);
        args.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    // The tasks, as a producer would list them.
    let report = p.dir.path().join("listing.jsonl");
    let listed = runner_host(
        &http(&["--dry-run", "--report", report.to_str().unwrap()])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    // 3: the poison task failed (in the dry run too).
    assert_eq!(listed.status.code(), Some(3), "{}", stderr(&listed));
    let spec = |title: &str| -> String {
        let r = read_report(&report)
            .into_iter()
            .find(|r| r["data_title"] == title)
            .unwrap();
        json!({
            "uuid": r["task_uuid"], "created_at": "2026-12-01T10:00:00", "updated_at": "2026-12-01T10:00:00",
            "status": "NEW", "data_hash": r["data_hash"], "data_title": title,
            "label_branch_name": "main", "assignee": null, "last_actioned_by": null,
        })
        .to_string()
    };
    let run_task = |input: String| -> (Option<i32>, Value) {
        let file = p.dir.path().join(format!("spec-{}.json", input.len()));
        std::fs::write(&file, input).unwrap();
        let mut args = vec![
            "run-task".to_string(),
            "--task-json".into(),
            file.to_string_lossy().into(),
        ];
        args.extend(http(&[]));
        let out = runner_host(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let answer = serde_json::from_str(&stdout(&out))
            .unwrap_or_else(|e| panic!("{e}: {} / {}", stdout(&out), stderr(&out)));
        (out.status.code(), answer)
    };
    let uuid_of = |title: &str| -> String {
        serde_json::from_str::<Value>(&spec(title)).unwrap()["uuid"]
            .as_str()
            .unwrap()
            .to_string()
    };

    let batch = serde_json::to_string(&vec![spec("img-0001.png"), spec("poison-1.png")]).unwrap();
    let (code, a) = run_task(batch);
    assert_eq!(code, Some(3), "{a}");
    let (good, bad) = (uuid_of("img-0001.png"), uuid_of("poison-1.png"));
    assert_eq!(a["task_uuid"], json!([good, bad]));
    assert_eq!(a["success"], json!([good]));
    let pathway = a["pathway"][0].as_str().unwrap().to_string();
    assert_eq!(a["pathway"].as_array().unwrap().len(), 1, "{a}");
    assert!(
        a["error"].as_str().unwrap().contains(&format!("{bad}: ")),
        "{a}"
    );
    assert!(
        a["error"]
            .as_str()
            .unwrap()
            .contains("poison-1.png is poison"),
        "{a}"
    );

    // One spec: the same shape as QueueRunner's single result.
    let (code, a) = run_task(spec("img-0002.png"));
    assert_eq!(code, Some(0), "{a}");
    assert_eq!(
        a,
        json!({"task_uuid": uuid_of("img-0002.png"), "stage_uuid": a["stage_uuid"], "success": true, "pathway": pathway, "error": null})
    );
    // A task that already left the stage is not run again.
    let (code, a) = run_task(spec("img-0001.png"));
    assert_eq!(code, Some(3));
    assert_eq!(a["success"], false);
    assert!(
        a["error"]
            .as_str()
            .unwrap()
            .contains("no longer in the stage"),
        "{a}"
    );

    let l = ledger(&p.record);
    assert_eq!(l.moves_of(&good).len(), 1);
    assert!(l.moves_of(&bad).is_empty());
    let st = status(&p.store, &p.hash);
    assert_eq!((count(&st, "Done"), count(&st, "work")), (2, 2), "{st:?}");
}

fn guest_path(package: &str) -> &'static str {
    Box::leak(
        guest(package)
            .to_string_lossy()
            .into_owned()
            .into_boxed_str(),
    )
}
