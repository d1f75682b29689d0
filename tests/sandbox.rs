//! The hostile-guest suite: a real component that tries to exhaust or
//! escape the sandbox on chosen tasks. Each attempt fails that task with its
//! own reason; the host stays up; every other task is labelled and moved.
//! Plus the compiled-component cache: used when warm, rebuilt when corrupt.

use crate::support;

use std::io::{Read, Write};
use std::net::TcpListener;

use support::*;

/// A server on a free port answering "pong": to a raw "ping", and as the
/// body of an HTTP/1.1 200 to an HTTP request. It counts the HTTP requests.
fn pong_server() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let http_requests = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = http_requests.clone();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut head = [0u8; 4];
            if conn.read_exact(&mut head).is_err() {
                continue;
            }
            if &head == b"ping" {
                let _ = conn.write_all(b"pong");
                continue;
            }
            // An HTTP request: read to the end of its head, then answer.
            let mut seen = head.to_vec();
            let mut byte = [0u8; 1];
            while !seen.ends_with(b"\r\n\r\n") && conn.read_exact(&mut byte).is_ok() {
                seen.push(byte[0]);
            }
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let _ = conn.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\nconnection: close\r\n\r\npong",
            );
        }
    });
    (port, http_requests)
}

/// The hostile run: one batch in which the guest attacks the host on chosen
/// tasks. Run once per test binary; each test below checks one attack.
struct Hostile {
    root: std::path::PathBuf,
    store: std::path::PathBuf,
    hash: String,
    out: std::process::Output,
    granted: u16,
    denied: u16,
    denied_http: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Hostile {
    /// The summary's failure line of the task titled `title`.
    fn reason(&self, title: &str) -> String {
        failure_line(&stdout(&self.out), title)
    }
}

fn hostile() -> &'static Hostile {
    static RUN: std::sync::OnceLock<Hostile> = std::sync::OnceLock::new();
    RUN.get_or_init(|| {
        // Under target/, not a temporary directory: a static is never
        // dropped, so it is cleared here, at the next run.
        let root = workspace().join("target").join("test-runs").join("hostile");
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("granted")).unwrap();
        let store = root.join("store");
        let hash = demo_at(&store, &[]);
        let ((granted, _), (denied, denied_http)) = (pong_server(), pong_server());
        let wasm = guest("guest-hostile");
        let dir_grant = format!("{}:/data", root.join("granted").display());
        let allow = format!("127.0.0.1:{granted}");
        let out = agent_command(&wasm, &store, &hash)
            .args(["--report", root.join("report.jsonl").to_str().unwrap()])
            .args([
                "--task-timeout",
                "2",
                "--memory-limit",
                "512",
                "--num-retries",
                "0",
                "--concurrency",
                "2",
            ])
            .args([
                "--dir",
                &dir_grant,
                "--env",
                "NET_GRANTED",
                "--env",
                "NET_DENIED",
                "--allow-net",
                &allow,
            ])
            .env("NET_GRANTED", format!("127.0.0.1:{granted}"))
            .env("NET_DENIED", format!("127.0.0.1:{denied}"))
            .env("HOME", "/root")
            .output()
            .unwrap();
        Hostile {
            root,
            store,
            hash,
            out,
            granted,
            denied,
            denied_http,
        }
    })
}

#[test]
fn hostile_run_ends_with_the_failures_listed_and_the_rest_landed() {
    let h = hostile();
    assert_eq!(
        h.out.status.code(),
        Some(3),
        "the host finished the run: {}",
        stderr(&h.out)
    );
    let text = stdout(&h.out);
    assert!(!text.contains("SANDBOX BREACH"), "{text}");
    // Everything else landed: 10 failures, 14 moved with labels.
    let s = status(&h.store, &h.hash);
    assert_eq!((count(&s, "pre-label"), count(&s, "triage")), (10, 14));
    let rows = export(&h.store, &h.hash);
    for title in [
        "portrait-01.png",
        "portrait-03.png",
        "park-01.png",
        "walk-01.y4m",
    ] {
        let e = exported(&rows, title);
        assert_eq!(e["stage"], "triage", "{title}");
        assert_eq!(
            e["label_row"]["classification_answers"]
                .as_object()
                .unwrap()
                .len(),
            1
        );
    }
    for title in ["street-02.png", "street-05.png"] {
        assert!(
            exported(&rows, title)["label_row"]["label_hash"].is_null(),
            "{title}: nothing saved"
        );
    }
}

#[test]
fn hostile_loop_forever_times_out() {
    assert!(hostile()
        .reason("street-01.png")
        .ends_with("timed out after 2s"));
}

#[test]
fn hostile_sleep_inside_a_host_call_times_out() {
    assert!(hostile()
        .reason("portrait-02.png")
        .ends_with("timed out after 2s"));
}

/// The memory limit is recognised from the limiter that enforced it, and
/// the report says how close the hog came.
#[test]
fn hostile_allocation_hits_the_memory_limit() {
    let h = hostile();
    assert!(h
        .reason("street-02.png")
        .ends_with("memory limit exceeded (512 MiB)"));
    let hog = read_report(&h.root.join("report.jsonl"))
        .into_iter()
        .find(|r| r["data_title"] == "street-02.png")
        .unwrap();
    let peak = hog["memory_peak_bytes"].as_u64().unwrap();
    assert!(peak > 256 << 20 && peak <= 512 << 20, "{hog}");
}

#[test]
fn hostile_recursion_overflows_the_stack() {
    assert!(hostile()
        .reason("street-03.png")
        .ends_with("stack overflow"));
}

/// The stack in linear memory (Rust's and C's locals whose address is
/// taken) runs past address 0: a trap, not a write into the agent's data,
/// with the likely cause and its fix.
#[test]
fn hostile_big_locals_overflow_the_stack_in_linear_memory() {
    let reason = hostile().reason("portrait-04.png");
    assert!(
        reason.ends_with(
            "agent trapped: wasm trap: out of bounds memory access (if the agent recurses deeply \
             or keeps large arrays in locals, its stack may have overflowed: link it with a \
             larger `-zstack-size`)"
        ),
        "{reason}"
    );
}

#[test]
fn hostile_panic_names_the_guests_line() {
    let reason = hostile().reason("street-04.png");
    assert!(
        reason.ends_with(
            "agent panicked at tests/guests/hostile/src/lib.rs:25:28: hostile panic on street-04"
        ),
        "{reason}"
    );
}

#[test]
fn hostile_100_mb_label_row_is_refused() {
    let reason = hostile().reason("street-05.png");
    assert!(
        reason.contains("the label row returned is 100 MiB, over the 32 MiB limit"),
        "{reason}"
    );
}

#[test]
fn hostile_filesystem_is_invisible_but_the_granted_directory() {
    let h = hostile();
    assert!(h
        .reason("street-06.png")
        .contains("denied: read /etc/passwd"));
    // The granted directory was writable; nothing escaped it.
    assert_eq!(
        std::fs::read_to_string(h.root.join("granted").join("inside.txt")).unwrap(),
        "granted"
    );
    assert!(!h.root.join("escaped.txt").exists());
}

#[test]
fn hostile_environment_shows_only_the_granted_variables() {
    let reason = hostile().reason("street-07.png");
    assert!(
        reason.ends_with("denied: HOME not visible; visible: [NET_GRANTED, NET_DENIED]"),
        "{reason}"
    );
}

#[test]
fn hostile_sockets_reach_only_the_granted_address() {
    let h = hostile();
    let net = h.reason("street-08.png");
    assert!(
        net.contains(&format!("granted 127.0.0.1:{}: pong", h.granted)),
        "{net}"
    );
    assert!(
        net.contains(&format!("denied 127.0.0.1:{}: Permission denied", h.denied)),
        "{net}"
    );
}

/// HTTP (wasi:http): to the granted host and port, answered; to another
/// port, refused by the host before any byte was sent, and logged.
#[test]
fn hostile_http_reaches_only_the_granted_host() {
    let h = hostile();
    let net = h.reason("street-08.png");
    assert!(
        net.contains(&format!(
            "http://127.0.0.1:{}/ answered 200 pong",
            h.granted
        )),
        "{net}"
    );
    assert!(
        net.contains(&format!(
            "http://127.0.0.1:{0}/ refused: HTTP request to `127.0.0.1:{0}` denied: the host is not granted",
            h.denied
        )),
        "{net}"
    );
    assert_eq!(
        h.denied_http.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "no HTTP request reached the host not granted"
    );
    assert!(
        stderr(&h.out).contains(&format!(
            "the agent's HTTP request to `127.0.0.1:{}` was denied",
            h.denied
        )),
        "the denial is logged"
    );
}

/// A 32 MiB log line reaches the log cut short.
#[test]
fn hostile_log_lines_are_bounded() {
    let longest = stderr(&hostile().out)
        .lines()
        .map(str::len)
        .max()
        .unwrap_or(0);
    assert!(
        longest < 64 << 10,
        "log lines are bounded ({longest} bytes)"
    );
}

/// Memory went back: the host's peak holds the hog's 512 MiB and the
/// 100 MB label row; after the batch it is resident near what a benign
/// agent's run ends at, plus at most what the pooling allocator keeps
/// resident for reuse (64 MiB per instance slot; two were busy).
#[test]
fn hostile_memory_returns_after_the_batch() {
    let (now, peak) = host_memory(&stderr(&hostile().out));
    let (_d, benign_store, benign_hash) = demo_store();
    let benign = run_agent_env(
        &guest("prelabel"),
        &benign_store,
        &benign_hash,
        &["--concurrency", "2"],
        &[("RUST_LOG", "info")],
    );
    let (baseline, _) = host_memory(&stderr(&benign));
    eprintln!("hostile run: {now} MiB at the end, peak {peak} MiB; benign run: {baseline} MiB");
    assert!(
        peak >= 450,
        "the hog and the big row raised the peak: {peak} MiB"
    );
    assert!(
        now <= baseline + 2 * 64 + 16,
        "memory returned near its baseline: {now} MiB after, {baseline} MiB for a benign run"
    );
}

#[test]
fn fuel_is_a_deterministic_budget_with_its_own_reason() {
    let (_dir, store, hash) = demo_store();
    let out = run_agent(
        &guest("prelabel"),
        &store,
        &hash,
        &["--fuel", "20000", "--num-retries", "0"],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stdout(&out).contains("fuel exhausted (20000 units)"),
        "{}",
        stdout(&out)
    );
    let report = _dir.path().join("report.jsonl");
    let out = run_agent(
        &guest("prelabel"),
        &store,
        &hash,
        &[
            "--fuel",
            "500000000",
            "--retry-failed",
            "--report",
            report.to_str().unwrap(),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "a normal agent fits a sane budget: {}",
        stdout(&out)
    );
    // What each task used is reported, to size the limits from.
    let records = read_report(&report);
    assert_eq!(records.len(), 24);
    for r in &records {
        let fuel = r["fuel_used"].as_u64().unwrap();
        assert!((20_001..500_000_000).contains(&fuel), "{r}");
        let memory = r["memory_peak_bytes"].as_u64().unwrap();
        assert!((64 << 10..64 << 20).contains(&memory), "{r}");
    }
    assert!(
        stdout(&out).contains("pre-label: the largest instance held"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn compiled_components_are_cached_and_a_corrupt_entry_is_rebuilt() {
    let (dir, store, hash) = demo_store();
    let cache = dir.path().join("cache");
    let wasm = guest("prelabel");
    let out = runner_host(&[
        "compile",
        wasm.to_str().unwrap(),
        "--cache-dir",
        cache.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let entry = std::path::PathBuf::from(stdout(&out).trim());
    assert!(entry.starts_with(&cache) && entry.exists(), "{entry:?}");

    let run = |extra: &[&str]| {
        let mut args = vec![
            "--cache-dir",
            cache.to_str().unwrap(),
            "--max-tasks-per-stage",
            "1",
        ];
        args.extend_from_slice(extra);
        std::process::Command::new(env!("CARGO_BIN_EXE_runner-host"))
            .args([
                "--component",
                wasm.to_str().unwrap(),
                "--project-hash",
                &hash,
                "--store",
                store.to_str().unwrap(),
            ])
            .args(&args)
            .env("RUST_LOG", "runner_host=debug")
            .output()
            .unwrap()
    };
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("source=Cached"),
        "the warm cache was used: {}",
        stderr(&out)
    );

    // Corrupt the entry: detected, rebuilt, and the run still works.
    let mut bytes = std::fs::read(&entry).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&entry, &bytes).unwrap();
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("does not match its checksum; recompiling"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("source=Rebuilt"));
    let out = run(&[]);
    assert!(
        stderr(&out).contains("source=Cached"),
        "the rebuilt entry is good again"
    );
}

/// (resident, peak) MiB from the host's log line after a run.
fn host_memory(log: &str) -> (u64, u64) {
    let line = log
        .lines()
        .find_map(|l| {
            l.split_once("host memory after the run: ")
                .map(|(_, m)| m.to_string())
        })
        .expect("the host logs its memory after the run");
    let n: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    (n[0], n[1])
}

/// Per task, in the order they ran (one at a time): the count the guest
/// reported (its instance's task number), or its error.
fn reuse_run(extra: &[&str]) -> Vec<Result<u32, String>> {
    let mut args = vec!["--num-retries", "0"];
    args.extend_from_slice(extra);
    let (out, records) = run_one_at_a_time(&guest("guest-reuse"), &args);
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
    records
        .into_iter()
        .map(|r| match r["error"].as_str() {
            Some(e) => Err(format!("{}: {e}", r["data_title"].as_str().unwrap())),
            None => Ok((r["priority"].as_f64().unwrap() * 100.0).round() as u32),
        })
        .collect()
}

#[test]
fn a_fresh_instance_per_task_unless_reuse_is_asked_for() {
    // Default: every task in a new instance, initialised once.
    let ran = reuse_run(&[]);
    assert_eq!(ran.len(), 24);
    assert_eq!(ran.iter().filter(|r| **r == Ok(1)).count(), 23, "{ran:?}");

    // --reuse-instance 5: an instance runs up to 5 tasks, initialised once;
    // the one whose task panicked is dropped, never reused.
    let ran = reuse_run(&["--reuse-instance", "5"]);
    assert_eq!(ran.len(), 24);
    let mut expected = Vec::new();
    let mut in_instance = 0;
    for r in &ran {
        match r {
            Err(e) => {
                assert!(e.starts_with("street-03.png: agent panicked at"), "{e}");
                in_instance = 0;
                expected.push(r.clone());
            }
            Ok(_) => {
                in_instance = if in_instance == 5 { 1 } else { in_instance + 1 };
                expected.push(Ok(in_instance));
            }
        }
    }
    assert_eq!(ran, expected);
    assert!(ran.contains(&Ok(5)), "instances are reused: {ran:?}");
    assert_eq!(ran.iter().filter(|r| r.is_err()).count(), 1);
}

#[test]
fn verbose_adds_the_guest_backtrace_with_no_host_paths() {
    let failure = |extra: &[&str]| {
        reuse_run(extra)
            .into_iter()
            .find_map(Result::err)
            .expect("one task failed")
    };
    let plain = failure(&[]);
    assert!(!plain.contains("backtrace"), "{plain}");
    let verbose = failure(&["-v"]);
    assert!(
        verbose.starts_with(&plain),
        "the same reason first: {verbose}"
    );
    let trace: Vec<&str> = verbose
        .lines()
        .skip_while(|l| *l != "guest backtrace:")
        .collect();
    assert!(
        trace.iter().any(|l| l.contains("guest_reuse::pre_label")),
        "the panicking handler is named: {verbose}"
    );
    assert!(
        trace.iter().all(|l| !l.contains(".rs:")
            && !l.contains(workspace().to_str().unwrap())
            && !l.contains("/tmp/")
            && !l.contains("/rustc/")),
        "no paths in the backtrace: {verbose}"
    );
}

#[test]
fn a_failing_init_fails_its_tasks_with_its_message() {
    for extra in [&[][..], &["--reuse-instance", "5"][..]] {
        let (_dir, store, hash) = demo_store();
        let mut args = vec!["--num-retries", "0", "--env", "REUSE_INIT_FAILS"];
        args.extend_from_slice(extra);
        let out = run_agent_env(
            &guest("guest-reuse"),
            &store,
            &hash,
            &args,
            &[("REUSE_INIT_FAILS", "1")],
        );
        assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
        assert!(
            failure_line(&stdout(&out), "park-01.png")
                .ends_with("init failed: the model file is missing"),
            "{extra:?}: {}",
            stdout(&out)
        );
        let s = status(&store, &hash);
        assert_eq!(count(&s, "pre-label"), 24, "{extra:?}: nothing moved");
    }
}
