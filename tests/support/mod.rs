//! Shared by the end-to-end tests (tests/e2e.rs): real guest components, built once per
//! test binary (cargo makes the later builds no-ops), and the real binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The guest packages the tests load, and the components they become.
const GUESTS: &[(&str, &str)] = &[
    ("prelabel", "prelabel"),
    ("triage", "triage"),
    ("video-events", "video_events"),
    ("twin-review", "twin_review"),
    ("text-regions", "text_regions"),
    ("guest-nn-hostile", "guest_nn_hostile"),
    ("guest-misbehave", "guest_misbehave"),
    ("guest-other-world", "guest_other_world"),
    ("guest-old-version", "guest_old_version"),
    ("guest-wrong-stage", "guest_wrong_stage"),
    ("guest-undeclared-pathway", "guest_undeclared_pathway"),
    ("guest-slow", "guest_slow"),
    ("guest-start-fails", "guest_start_fails"),
    ("guest-hostile", "guest_hostile"),
    ("guest-media", "guest_media"),
    ("guest-reuse", "guest_reuse"),
    ("guest-twin-write", "guest_twin_write"),
    ("guest-route-by-annotator", "guest_route_by_annotator"),
    ("guest-queue-work", "guest_queue_work"),
    ("bench-agent", "bench_agent"),
];

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf()
}

/// Builds every guest for wasm32-wasip2 once; returns their directory.
fn guests_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let target_dir = workspace().join("target").join("guests");
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.current_dir(workspace())
            .args(["build", "--target", "wasm32-wasip2", "--profile", "guest", "--target-dir"])
            .arg(&target_dir)
            // The outer build's flags are for the host, not for wasm.
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_TARGET_DIR");
        for (package, _) in GUESTS {
            cmd.args(["-p", package]);
        }
        let out = cmd.output().expect("cargo runs");
        assert!(
            out.status.success(),
            "building the guest components failed (is the target installed? `rustup target add wasm32-wasip2`):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        target_dir.join("wasm32-wasip2").join("guest")
    })
}

/// The component built from guest package `package`.
pub fn guest(package: &str) -> PathBuf {
    let (_, file) = GUESTS
        .iter()
        .find(|(p, _)| *p == package)
        .unwrap_or_else(|| panic!("unknown guest {package}"));
    guests_dir().join(format!("{file}.wasm"))
}

/// The component built from an agent written in Python, JavaScript or C
/// (`scripts/build-agent.sh`), e.g. `examples/python/triage.py`. Built into
/// target/guests/<language>/ once and rebuilt only when the agent, its
/// language's SDK, the WIT world or the build script change, so test
/// binaries sharing a guest build it once per run.
pub fn agent_component(source: &str) -> PathBuf {
    use std::hash::{Hash, Hasher};
    let root = workspace();
    let source = root.join(source);
    let ext = source.extension().and_then(|e| e.to_str()).unwrap_or("");
    let (language, sdk) = match ext {
        "py" => ("python", "guest-sdk/python"),
        "js" => ("js", "guest-sdk/js"),
        "c" => ("c", "tools/guest-tools"),
        _ => panic!("no language for {}", source.display()),
    };
    let mut inputs = vec![
        source.clone(),
        root.join("wit/agent.wit"),
        root.join("wit/deps/wasi-nn/wasi-nn.wit"),
        root.join("scripts/build-agent.sh"),
    ];
    let mut stack = vec![root.join(sdk)];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = e.path();
            let name = e.file_name();
            if name == "node_modules" || name == "__pycache__" {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                inputs.push(path);
            }
        }
    }
    inputs.sort();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for path in &inputs {
        path.hash(&mut hasher);
        std::fs::read(path).unwrap_or_default().hash(&mut hasher);
    }
    let fingerprint = format!("{:016x}", hasher.finish());
    // One build at a time: the first one installs the language's toolchain
    // (a venv, node_modules, apt packages) and two installs would collide.
    static BUILDS: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = BUILDS.lock().unwrap_or_else(|e| e.into_inner());
    let stem = source.file_stem().unwrap().to_string_lossy().to_string();
    let dir = root.join("target").join("guests").join(language);
    let out = dir.join(format!("{stem}.wasm"));
    let stamp = dir.join(format!("{stem}.fingerprint"));
    if out.exists() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(&fingerprint) {
        return out;
    }
    let built = Command::new(root.join("scripts/build-agent.sh"))
        .arg(&source)
        .arg("-o")
        .arg(&out)
        .output()
        .expect("scripts/build-agent.sh runs");
    assert!(
        built.status.success(),
        "building {} failed:\n{}{}",
        source.display(),
        String::from_utf8_lossy(&built.stdout),
        String::from_utf8_lossy(&built.stderr)
    );
    std::fs::write(&stamp, fingerprint).unwrap();
    out
}

/// The `failed: ...` line the run summary printed for the task titled
/// `title` (its failure reason is the end of the line).
pub fn failure_line(summary: &str, title: &str) -> String {
    summary
        .lines()
        .find(|l| l.starts_with("failed:") && l.contains(&format!("({title})")))
        .unwrap_or_else(|| panic!("no failure for {title}:\n{summary}"))
        .to_string()
}

/// Runs the real runner-host binary.
pub fn runner_host(args: &[&str]) -> Output {
    runner_host_env(args, &[])
}

/// Runs the real runner-host binary with these environment variables set.
pub fn runner_host_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_runner-host"))
        .args(args)
        .env("RUST_LOG", "info")
        .envs(env.iter().copied())
        .output()
        .expect("runner-host starts")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A fresh demo store in a temporary directory: (dir guard, store path, project hash).
pub fn demo_store() -> (tempfile::TempDir, PathBuf, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("store");
    let hash = demo_at(&store, &[]);
    (dir, store, hash)
}

/// `local demo --store store` with `extra` options (`--images N`, ...);
/// returns the project hash.
pub fn demo_at(store: &Path, extra: &[&str]) -> String {
    let mut args = vec!["local", "demo", "--store", store.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = runner_host(&args);
    assert!(out.status.success(), "local demo failed: {}", stderr(&out));
    stdout(&out)
        .lines()
        .last()
        .expect("a project hash")
        .trim()
        .to_string()
}

/// The records of a `--report` file (one JSON object a line; none if the
/// file is missing).
pub fn read_report(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a report line is JSON"))
        .collect()
}

/// `local status --json` as (stage title → task count).
pub fn status(store: &Path, hash: &str) -> Vec<(String, u64)> {
    let out = runner_host(&[
        "local",
        "status",
        "--store",
        store.to_str().unwrap(),
        "--project-hash",
        hash,
        "--json",
    ]);
    assert!(
        out.status.success(),
        "local status failed: {}",
        stderr(&out)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status JSON");
    v["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .map(|s| {
            (
                s["title"].as_str().unwrap().to_string(),
                s["tasks"].as_u64().unwrap(),
            )
        })
        .collect()
}

pub fn count(status: &[(String, u64)], stage: &str) -> u64 {
    status
        .iter()
        .find(|(t, _)| t == stage)
        .map_or(0, |(_, n)| *n)
}

/// The demo's twin project (created by `local demo`).
pub fn ground_truth_hash(store: &Path) -> String {
    let conn = rusqlite::Connection::open(store.join("store.sqlite")).unwrap();
    conn.query_row(
        "SELECT project_hash FROM projects WHERE title = 'Demo ground truth'",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

/// `local export` as JSON.
pub fn export(store: &Path, hash: &str) -> Vec<serde_json::Value> {
    let out = runner_host(&[
        "local",
        "export",
        "--store",
        store.to_str().unwrap(),
        "--project-hash",
        hash,
    ]);
    assert!(
        out.status.success(),
        "local export failed: {}",
        stderr(&out)
    );
    serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout).expect("export JSON")
}

/// The exported entry of the data unit titled `title`.
pub fn exported<'a>(rows: &'a [serde_json::Value], title: &str) -> &'a serde_json::Value {
    rows.iter()
        .find(|r| r["label_row"]["data_title"] == title)
        .unwrap_or_else(|| panic!("no exported row titled {title}"))
}

/// Runs a component over a store: the CLI's run form.
pub fn run_agent(component: &Path, store: &Path, hash: &str, extra: &[&str]) -> Output {
    run_agent_env(component, store, hash, extra, &[])
}

/// Runs a component over a fresh demo store one task at a time, with
/// `extra` arguments: the output, and the report's records in the order the
/// tasks ran.
pub fn run_one_at_a_time(component: &Path, extra: &[&str]) -> (Output, Vec<serde_json::Value>) {
    let (dir, store, hash) = demo_store();
    let report = dir.path().join("report.jsonl");
    let mut args = vec!["--concurrency", "1", "--report", report.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = run_agent(component, &store, &hash, &args);
    let records = std::fs::read_to_string(&report)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).expect("a report record"))
        .collect();
    (out, records)
}

/// [`run_agent`] with environment variables set.
pub fn run_agent_env(
    component: &Path,
    store: &Path,
    hash: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Output {
    agent_command(component, store, hash)
        .args(extra)
        .envs(env.iter().copied())
        .output()
        .expect("runner-host starts")
}

/// The run form's command (component, project, store), not yet started:
/// for tests that need the process itself (its pid, its pipes).
pub fn agent_command(component: &Path, store: &Path, hash: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_runner-host"));
    command
        .args(["--component", component.to_str().unwrap()])
        .args(["--project-hash", hash])
        .args(["--store", store.to_str().unwrap()])
        .env("RUST_LOG", "info");
    command
}

/// Runs a component through the emulator, signed with `key`: the CLI's
/// HTTP form.
pub fn run_over_http(
    component: &Path,
    emulator: &Emulator,
    key: &Path,
    hash: &str,
    extra: &[&str],
) -> Output {
    let mut args = vec![
        "--component",
        component.to_str().unwrap(),
        "--project-hash",
        hash,
        "--domain",
        &emulator.url,
        "--ssh-key-file",
        key.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    runner_host(&args)
}

/// Files and their bytes under `dir`, to prove nothing was written.
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap_or_default();
                out.push((p, bytes));
            }
        }
    }
    out.sort();
    out
}

/// An emulator process serving a store; killed when dropped.
pub struct Emulator {
    child: std::process::Child,
    pub url: String,
    stderr_path: PathBuf,
}

impl Emulator {
    /// Starts `runner-host emulator` on a free loopback port.
    pub fn start(store: &Path, extra: &[&str]) -> Emulator {
        Emulator::start_env(store, extra, &[])
    }

    /// The same, with these environment variables set for it.
    pub fn start_env(store: &Path, extra: &[&str], env: &[(&str, &str)]) -> Emulator {
        use std::io::BufRead;
        let stderr_path = store.with_extension(format!("emulator-{}.log", rand_suffix()));
        let log = std::fs::File::create(&stderr_path).expect("emulator log");
        let mut child = Command::new(env!("CARGO_BIN_EXE_runner-host"))
            .args([
                "emulator",
                "--store",
                store.to_str().unwrap(),
                "--listen",
                "127.0.0.1:0",
            ])
            .args(extra)
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("emulator starts");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("emulator prints its URL");
        assert!(
            line.starts_with("http://"),
            "emulator did not start: {line}"
        );
        Emulator {
            child,
            url: line.trim().to_string(),
            stderr_path,
        }
    }

    /// The emulator's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// How many legacy `POST /public` calls of `query` (e.g.
    /// `labelrowmetadata/GET`) reached the emulator.
    pub fn legacy_calls(&self, query: &str) -> usize {
        self.log()
            .lines()
            .filter(|l| l.contains("legacy call"))
            .filter(|l| l.contains(&format!("query={query}")))
            .count()
    }

    /// How many API requests reached the emulator whose path contains `fragment`.
    pub fn requests(&self, fragment: &str) -> usize {
        self.log()
            .lines()
            .filter(|l| l.contains("emulator: request"))
            .filter(|l| l.contains(fragment))
            .count()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

fn rand_suffix() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    format!(
        "{}-{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

/// A new Ed25519 key pair written as OpenSSH files: (private path, public path).
pub fn keypair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let seed: [u8; 32] = rand::random();
    let kp = ssh_key::private::Ed25519Keypair::from_seed(&seed);
    let private = ssh_key::PrivateKey::from(kp);
    let text = private
        .to_openssh(ssh_key::LineEnding::LF)
        .expect("serialise key");
    let public = private
        .public_key()
        .to_openssh()
        .expect("serialise public key");
    let (a, b) = (dir.join(name), dir.join(format!("{name}.pub")));
    std::fs::write(&a, text.as_bytes()).unwrap();
    std::fs::write(&b, format!("{public} test\n")).unwrap();
    (a, b)
}

/// Copies a store directory (to run the same project two ways).
pub fn copy_store(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let dest = to.join(e.file_name());
        if e.path().is_dir() {
            copy_store(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// An export with what legitimately differs between two runs removed:
/// timestamps and server-assigned label hashes; numbers compare as JSON
/// numbers (`1` and `1.0` are the same number; JavaScript writes the first).
pub fn comparable(rows: Vec<serde_json::Value>) -> Vec<serde_json::Value> {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Number(n) => {
                if let Some(f) = n.as_f64().and_then(serde_json::Number::from_f64) {
                    *n = f;
                }
            }
            serde_json::Value::Object(m) => {
                for k in [
                    "label_hash",
                    "created_at",
                    "last_edited_at",
                    "createdAt",
                    "lastEditedAt",
                ] {
                    m.remove(k);
                }
                m.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut rows = rows;
    rows.iter_mut().for_each(strip);
    rows
}

/// Registers a public key with a store (`local add-key`).
pub fn add_key(store: &Path, public: &Path) {
    let out = runner_host(&[
        "local",
        "add-key",
        "--store",
        store.to_str().unwrap(),
        "--public-key",
        public.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "add-key failed: {}", stderr(&out));
}

/// `runner-host local project` with this spec (written beside the store);
/// returns the new project's hash.
pub fn local_project(store: &Path, spec: &serde_json::Value) -> String {
    let file = store.with_extension(format!("spec-{}.json", uuid_like()));
    std::fs::write(&file, spec.to_string()).unwrap();
    let out = runner_host(&[
        "local",
        "project",
        "--store",
        store.to_str().unwrap(),
        "--spec",
        file.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "local project failed: {}",
        stderr(&out)
    );
    stdout(&out).trim().lines().last().unwrap().to_string()
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// An ontology file of the repository as JSON, to inline in a spec.
pub fn ontology_json(file: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(workspace().join(file)).unwrap()).unwrap()
}
