//! From nothing to a running agent outside this repository, per language:
//! `runner-host new` → its native test passes → `runner-host build` → run
//! on a fresh demo store → the scaffolded stage's tasks moved. The binary
//! is a copy outside `target/`, on a PATH without `target/`, run from a
//! temporary folder: what it needs it carries. The toolchains and the SDKs
//! it unpacks go to a user cache kept under `target/scaffold-cache` (as the
//! guests' toolchains are kept under `target/`), so a run installs them once.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::*;

struct Installed {
    dir: tempfile::TempDir,
    path: String,
}

/// The binary "installed": copied into a bin folder of its own, on a PATH
/// of the system's folders and that one (nothing under the workspace).
fn install() -> Installed {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_runner-host"), bin.join("runner-host")).unwrap();
    let root = workspace();
    let mut path = vec![bin.to_string_lossy().into_owned()];
    for p in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        if !p.starts_with(&root) {
            path.push(p.to_string_lossy().into_owned());
        }
    }
    Installed {
        dir,
        path: path.join(":"),
    }
}

impl Installed {
    fn run(&self, cwd: &Path, args: &[&str]) -> Output {
        let root = workspace();
        Command::new("runner-host")
            .args(args)
            .current_dir(cwd)
            .env("PATH", &self.path)
            .env("XDG_CACHE_HOME", root.join("target/scaffold-cache"))
            .env("CARGO_TARGET_DIR", root.join("target/scaffold-rust"))
            .env_remove("PYTHONPATH")
            .env_remove("RUSTFLAGS")
            .output()
            .expect("the installed runner-host starts")
    }

    fn ok(&self, cwd: &Path, args: &[&str]) -> String {
        let out = self.run(cwd, args);
        let text = format!("{}{}", stdout(&out), stderr(&out));
        assert!(
            out.status.success(),
            "runner-host {}:\n{text}",
            args.join(" ")
        );
        stdout(&out)
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn new_to_moved(lang: &str, source: &str) {
    let tool = install();
    let home = tool.dir.path().join("work");
    std::fs::create_dir(&home).unwrap();
    let made = tool.ok(&home, &["new", "my-agent", "--lang", lang]);
    let project = PathBuf::from(made.trim());
    assert_eq!(project, home.join("my-agent").canonicalize().unwrap());
    for f in [source, "README.md", ".gitignore", "fixtures/ontology.json"] {
        assert!(project.join(f).is_file(), "{lang}: no {f}");
    }
    // Nothing in it points into this repository.
    let root = workspace().to_string_lossy().into_owned();
    for f in files_under(&project) {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        let outside = text.replace(&format!("{root}/target/scaffold-cache"), "CACHE");
        assert!(
            !outside.contains(&root),
            "{} names the repository",
            f.display()
        );
    }

    let tested = tool.run(&project, &["test"]);
    let text = format!("{}{}", stdout(&tested), stderr(&tested));
    assert!(tested.status.success(), "{lang}: runner-host test:\n{text}");

    let built = tool.ok(&project, &["build"]);
    assert_eq!(PathBuf::from(built.trim()), project.join("agent.wasm"));

    let store = project.join("store");
    let store_s = store.to_string_lossy().into_owned();
    let hash = tool.ok(&project, &["local", "demo", "--store", &store_s]);
    let hash = hash.trim().lines().last().unwrap().to_string();
    tool.ok(
        &project,
        &[
            "--component",
            "agent.wasm",
            "--store",
            &store_s,
            "--project-hash",
            &hash,
            "--stage",
            "pre-label",
        ],
    );
    let status = status(&store, &hash);
    assert_eq!(count(&status, "pre-label"), 0, "{lang}: {status:?}");
    assert_eq!(count(&status, "triage"), 24, "{lang}: {status:?}");
    let rows = export(&store, &hash);
    let row = exported(&rows, "street-01.png");
    assert!(
        row.to_string().contains("seen by my-agent: street-01.png"),
        "{lang}: the stage's caption is not in the row"
    );
}

#[test]
fn a_new_rust_agent_tests_builds_and_moves_its_tasks() {
    new_to_moved("rust", "src/lib.rs");
}

#[test]
fn a_new_python_agent_tests_builds_and_moves_its_tasks() {
    new_to_moved("python", "agent.py");
}

#[test]
fn a_new_javascript_agent_tests_builds_and_moves_its_tasks() {
    new_to_moved("js", "agent.js");
}

#[test]
fn a_failing_native_test_fails_runner_host_test() {
    let tool = install();
    let home = tool.dir.path().join("work");
    std::fs::create_dir(&home).unwrap();
    let made = tool.ok(&home, &["new", "broken", "--lang", "python"]);
    let project = PathBuf::from(made.trim());
    let agent = std::fs::read_to_string(project.join("agent.py")).unwrap();
    std::fs::write(
        project.join("agent.py"),
        agent.replace("return \"to triage\"", "return \"elsewhere\""),
    )
    .unwrap();
    let out = tool.run(&project, &["test"]);
    assert!(!out.status.success(), "a failing test passed");
    assert!(
        stderr(&out).contains("not one it declares"),
        "{}",
        stderr(&out)
    );
    let again = tool.run(&home, &["new", "broken", "--lang", "js"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
    let nowhere = tool.run(&home, &["build", "."]);
    assert!(
        stderr(&nowhere).contains("is not an agent project"),
        "{}",
        stderr(&nowhere)
    );
}
