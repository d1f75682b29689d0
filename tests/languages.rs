//! Agents in Python, JavaScript and C: each example, built with
//! `scripts/build-agent.sh`, ends in the same state as its Rust twin on the
//! demo store — the same tasks moved along the same pathways, the same
//! priorities and, byte for byte but for timestamps, the same label rows.

use crate::support;

use std::path::Path;

use support::*;

/// One demo store, copied for each language so that data hashes and task
/// uuids are the same in every run.
struct Demo {
    _dir: tempfile::TempDir,
    store: std::path::PathBuf,
    hash: String,
}

impl Demo {
    fn new() -> Demo {
        let (dir, store, hash) = demo_store();
        Demo {
            _dir: dir,
            store,
            hash,
        }
    }

    /// Runs `prelabel` then `triage` on a copy of the store and returns the
    /// export (without timestamps) and the final stage counts.
    fn prelabel_then_triage(
        &self,
        prelabel: &Path,
        triage: &Path,
    ) -> (Vec<serde_json::Value>, Vec<(String, u64)>) {
        let copy = tempfile::tempdir().unwrap();
        let store = copy.path().join("store");
        copy_store(&self.store, &store);
        for (component, summary) in [
            (prelabel, "to triage: 24"),
            (triage, "done: 14, needs annotation: 3, to review: 7"),
        ] {
            let out = run_agent(component, &store, &self.hash, &[]);
            assert_eq!(
                out.status.code(),
                Some(0),
                "{}: {}",
                component.display(),
                stderr(&out)
            );
            assert!(
                stdout(&out).contains(summary),
                "{}: {}",
                component.display(),
                stdout(&out)
            );
        }
        (
            comparable(export(&store, &self.hash)),
            status(&store, &self.hash),
        )
    }

    fn rust(&self) -> (Vec<serde_json::Value>, Vec<(String, u64)>) {
        self.prelabel_then_triage(&guest("prelabel"), &guest("triage"))
    }
}

/// The same tasks in the same stages with the same priorities and label
/// rows (but for timestamps), and not vacuously so.
fn assert_same_end_state(
    language: &str,
    got: &(Vec<serde_json::Value>, Vec<(String, u64)>),
    rust: &(Vec<serde_json::Value>, Vec<(String, u64)>),
) {
    assert_eq!(got.1, rust.1, "{language}: stage counts");
    assert_eq!(got.0.len(), 24);
    for (g, r) in got.0.iter().zip(&rust.0) {
        assert_eq!(g, r, "{language}: {}", r["label_row"]["data_title"]);
    }
    let street = exported(&got.0, "street-01.png");
    assert_eq!(street["priority"], 0.0, "priority 0.0 is set, not ignored");
    assert_eq!(street["stage"], "Complete");
    assert_eq!(
        street["label_row"]["object_answers"]
            .as_object()
            .unwrap()
            .len(),
        1,
        "the Vehicle box"
    );
    let portrait = exported(&got.0, "portrait-01.png");
    assert_eq!(
        portrait["priority"].as_f64().map(|p| (p * 10.0).round()),
        Some(8.0)
    );
}

#[test]
fn python_examples_end_where_the_rust_examples_end() {
    let demo = Demo::new();
    let python = demo.prelabel_then_triage(
        &agent_component("examples/python/prelabel.py"),
        &agent_component("examples/python/triage.py"),
    );
    assert_same_end_state("Python", &python, &demo.rust());
}

#[test]
fn javascript_examples_end_where_the_rust_examples_end() {
    let demo = Demo::new();
    let js = demo.prelabel_then_triage(
        &agent_component("examples/js/prelabel.js"),
        &agent_component("examples/js/triage.js"),
    );
    assert_same_end_state("JavaScript", &js, &demo.rust());
}

#[test]
fn the_c_triage_example_ends_where_the_rust_one_ends() {
    let demo = Demo::new();
    let c = demo.prelabel_then_triage(&guest("prelabel"), &agent_component("examples/c/triage.c"));
    assert_same_end_state("C", &c, &demo.rust());
}

/// Runs a failing test agent over a demo store with no retries: three tasks
/// fail, the other 21 move on. Returns the failure line of each title.
fn failures(component: &Path) -> impl Fn(&str) -> String {
    let (dir, store, hash) = demo_store();
    let out = run_agent(component, &store, &hash, &["--num-retries", "0"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "some tasks failed: {}",
        stderr(&out)
    );
    let text = stdout(&out);
    for line in text.lines().filter(|l| l.starts_with("failed:")) {
        assert!(
            !line.contains(dir.path().to_str().unwrap())
                && !line.contains("/work/")
                && !line.contains("/tmp/"),
            "no host paths: {line}"
        );
    }
    let s = status(&store, &hash);
    assert_eq!((count(&s, "pre-label"), count(&s, "triage")), (3, 21));
    move |title: &str| failure_line(&text, title)
}

#[test]
fn python_failures_fail_their_task_and_name_the_line() {
    let reason = failures(&agent_component("tests/guests/python/failing.py"));
    assert!(
        reason("street-01.png")
            .ends_with("ValueError: no model for street-01.png (at failing.py:14 in failing)"),
        "{}",
        reason("street-01.png")
    );
    let undeclared = reason("street-02.png");
    assert!(undeclared.contains("asset"), "names the need: {undeclared}");
    assert!(
        undeclared.contains("(at failing.py:16 in failing)"),
        "{undeclared}"
    );
    let dragon = reason("street-03.png");
    assert!(
        dragon.contains("OntologyError: no ontology item titled `Dragon` of type Object"),
        "{dragon}"
    );
}

#[test]
fn javascript_failures_fail_their_task_and_name_the_line() {
    let reason = failures(&agent_component("tests/guests/js/failing.js"));
    assert!(
        reason("street-01.png")
            .contains("RangeError: no model for street-01.png (at failing failing.js:10:"),
        "{}",
        reason("street-01.png")
    );
    let undeclared = reason("street-02.png");
    assert!(undeclared.contains("asset"), "names the need: {undeclared}");
    let dragon = reason("street-03.png");
    assert!(
        dragon.contains("LabelError: no object `Dragon` in the ontology"),
        "{dragon}"
    );
}

#[test]
fn the_python_sdk_ships_the_hosts_wit_world() {
    for file in ["agent.wit", "deps/wasi-nn/wasi-nn.wit"] {
        let ours = std::fs::read_to_string(workspace().join("wit").join(file)).unwrap();
        let shipped = std::fs::read_to_string(
            workspace()
                .join("guest-sdk/python/encord_agent_sdk/wit")
                .join(file),
        )
        .unwrap_or_default();
        assert!(
            ours == shipped,
            "guest-sdk/python/encord_agent_sdk/wit/{file} differs from wit/{file}: copy it over"
        );
    }
}

/// Per task, in the order they ran: the count a reuse guest reported.
fn instance_counts(component: &Path, extra: &[&str]) -> Vec<u32> {
    let (out, records) = run_one_at_a_time(component, extra);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    records
        .iter()
        .map(|r| (r["priority"].as_f64().unwrap() * 100.0).round() as u32)
        .collect()
}

#[test]
fn a_python_agent_is_initialised_once_per_instance_and_can_be_reused() {
    let agent = agent_component("tests/guests/python/reuse.py");
    assert_eq!(
        instance_counts(&agent, &["--reuse-instance", "1"]),
        vec![1; 24]
    );
    let counts = instance_counts(&agent, &["--reuse-instance", "10"]);
    let expected: Vec<u32> = (0..24).map(|i| i % 10 + 1).collect();
    assert_eq!(counts, expected);
}

/// A Python agent keeps its instance for 100 tasks unless told otherwise,
/// as encord-agents keeps one process: the component states the default,
/// `inspect` shows it, the run logs it, and the command line wins.
#[test]
fn a_python_agent_keeps_its_instance_for_100_tasks_by_default() {
    let agent = agent_component("tests/guests/python/reuse.py");
    let counts = instance_counts(&agent, &[]);
    assert_eq!(
        counts,
        (1..=24).collect::<Vec<u32>>(),
        "one instance ran all 24"
    );
    let out = runner_host(&["inspect", "--json", "--component", agent.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let manifest: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        manifest["runner_defaults"]["reuse_instance"], 100,
        "{manifest}"
    );
}

/// The same in JavaScript: `init(callback)` runs once per new instance,
/// before its first task (the agent module exports nothing itself); a
/// JavaScript agent states no reuse default, so each task gets a fresh one.
#[test]
fn a_javascript_agent_is_initialised_once_per_instance_and_can_be_reused() {
    let agent = agent_component("tests/guests/js/reuse.js");
    assert_eq!(instance_counts(&agent, &[]), vec![1; 24]);
    let counts = instance_counts(&agent, &["--reuse-instance", "10"]);
    let expected: Vec<u32> = (0..24).map(|i| i % 10 + 1).collect();
    assert_eq!(counts, expected);
}

/// encord-agents' twin write-back (`twin.label_row.save()`, as its twin
/// label transfer notebook does it) in Python, and the same in JavaScript,
/// end where the Rust guest doing the same ends: the same verdicts in the
/// twin project, read and checked against the twin's own ontology, and the
/// same tasks moved (the three whose save the twin refused stay).
#[test]
fn twin_saves_in_python_and_javascript_end_where_the_rust_ones_end() {
    let demo = Demo::new();
    let twin = ground_truth_hash(&demo.store);
    let copies = tempfile::tempdir().unwrap();
    // The agents name their twin where the notebook has `<project_hash_b>`.
    let agent = |source: &str| {
        let template = std::fs::read_to_string(workspace().join(source)).unwrap();
        let file = copies.path().join(Path::new(source).file_name().unwrap());
        std::fs::write(&file, template.replace("<project_hash_b>", &twin)).unwrap();
        agent_component(file.to_str().unwrap())
    };
    let mut ends = Vec::new();
    for (language, component) in [
        ("Rust", guest("guest-twin-write")),
        ("Python", agent("tests/guests/python/twin_write.py")),
        ("JavaScript", agent("tests/guests/js/twin_write.js")),
    ] {
        let store = copies.path().join(language);
        copy_store(&demo.store, &store);
        let out = run_agent_env(
            &component,
            &store,
            &demo.hash,
            &["--env", "GROUND_TRUTH_PROJECT"],
            &[("GROUND_TRUTH_PROJECT", &twin)],
        );
        assert_eq!(out.status.code(), Some(3), "{language}: {}", stderr(&out));
        let st = status(&store, &demo.hash);
        assert_eq!(
            (count(&st, "pre-label"), count(&st, "triage")),
            (3, 21),
            "{language}"
        );
        ends.push((language, st, comparable(export(&store, &twin))));
    }
    let (_, rust_status, rust_twin) = &ends[0];
    let verdicts = rust_twin
        .iter()
        .filter(|r| {
            r["label_row"]["classification_answers"]
                .to_string()
                .contains("clsVerdict")
        })
        .count();
    assert_eq!(verdicts, 19, "19 verdicts in the twin");
    for (language, st, rows) in &ends[1..] {
        assert_eq!(st, rust_status, "{language}: stage counts");
        for (got, rust) in rows.iter().zip(rust_twin) {
            assert_eq!(got, rust, "{language}: {}", rust["label_row"]["data_title"]);
        }
    }
}

/// The annotator-routing store: project A routes on who last acted on each
/// task; its twin B holds some of the same data, in an agent stage with a
/// `done` pathway (`e1`), in one without (`h1`), and in an annotation stage
/// (`n1`). Returns (A, B).
fn routing_projects(store: &Path) -> (String, String) {
    let a = local_project(
        store,
        &serde_json::json!({
            "title": "Routed", "ontology": ontology_json("examples/demo-ontology.json"),
            "stages": [
                {"title": "route", "type": "AGENT", "pathways": [{"name": "Expert", "to": "Done"}, {"name": "Novice", "to": "Review"}]},
                {"title": "Review", "type": "REVIEW"},
                {"title": "Done", "type": "DONE"}
            ],
            "data": [
                {"title": "e1.png", "last_actioned_by": "expert-1@example.com", "assignee": "expert-1@example.com"},
                {"title": "e2.png", "last_actioned_by": "the-expert@example.com"},
                {"title": "n1.png", "last_actioned_by": "novice@example.com"},
                {"title": "x1.png"},
                {"title": "h1.png", "last_actioned_by": "expert-2@example.com"}
            ]
        }),
    );
    let b = local_project(
        store,
        &serde_json::json!({
            "title": "Twinned", "ontology": ontology_json("examples/ground-truth-ontology.json"), "twin_of": a,
            "stages": [
                {"title": "wait", "type": "AGENT", "pathways": [{"name": "done", "to": "Complete"}]},
                {"title": "hold", "type": "AGENT", "pathways": [{"name": "later", "to": "Complete"}]},
                {"title": "Annotate", "type": "ANNOTATION"},
                {"title": "Complete", "type": "DONE"}
            ],
            "data": [
                {"title": "e1.png", "stage": "wait"},
                {"title": "h1.png", "stage": "hold"},
                {"title": "n1.png", "stage": "Annotate"}
            ]
        }),
    );
    (a, b)
}

/// A task's `assignee`/`last_actioned_by`/created and updated times reach
/// the agent in Rust, Python (encord's `AgentTask` fields) and JavaScript,
/// on the store and over HTTP; a twin's task in an agent stage proceeds
/// along its pathway after the saves, one in another stage is an
/// `AnnotationTask` left alone, and a pathway the twin's stage lacks fails
/// the task, which stays. Every language ends in the same state.
#[test]
fn task_details_and_twin_task_moves_in_every_language() {
    let work = tempfile::tempdir().unwrap();
    let template = work.path().join("template");
    let (a, b) = routing_projects(&template);
    let agent = |source: &str| {
        let text = std::fs::read_to_string(workspace().join(source)).unwrap();
        let file = work.path().join(Path::new(source).file_name().unwrap());
        std::fs::write(&file, text.replace("<project_hash_b>", &b)).unwrap();
        agent_component(file.to_str().unwrap())
    };
    let env = [("TWIN_PROJECT", b.as_str())];
    let mut ends = Vec::new();
    for (language, component) in [
        ("Rust", guest("guest-route-by-annotator")),
        ("Python", agent("tests/guests/python/route_by_annotator.py")),
        ("JavaScript", agent("tests/guests/js/route_by_annotator.js")),
    ] {
        let store = work.path().join(language);
        copy_store(&template, &store);
        let report = work.path().join(format!("{language}.jsonl"));
        let out = run_agent_env(
            &component,
            &store,
            &a,
            &[
                "--env",
                "TWIN_PROJECT",
                "--report",
                report.to_str().unwrap(),
            ],
            &env,
        );
        assert_eq!(out.status.code(), Some(3), "{language}: {}", stderr(&out));
        let line = failure_line(&stdout(&out), "h1.png");
        assert!(
            line.contains("stage `hold` of twin project `Twinned` has no pathway `done`; its pathways are: later"),
            "{language}: {line}"
        );
        let stage_of = |rows: &[serde_json::Value], title: &str| {
            exported(rows, title)["stage"].as_str().unwrap().to_string()
        };
        let ours = export(&store, &a);
        let theirs = export(&store, &b);
        let end: Vec<String> = ["e1.png", "e2.png", "n1.png", "x1.png", "h1.png"]
            .iter()
            .map(|t| stage_of(&ours, t))
            .chain(
                ["e1.png", "h1.png", "n1.png"]
                    .iter()
                    .map(|t| stage_of(&theirs, t)),
            )
            .collect();
        assert_eq!(
            end,
            ["Done", "Done", "Review", "Review", "route", "Complete", "hold", "Annotate"],
            "{language}"
        );
        let moved: Vec<String> = read_report(&report)
            .iter()
            .filter(|r| r["twin_tasks_moved"] == serde_json::json!([b]))
            .map(|r| r["data_title"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(moved, ["e1.png"], "{language}");
        ends.push(end);
    }

    // Over HTTP, the emulator serves who and when as Encord's listing does.
    let store = work.path().join("served");
    copy_store(&template, &store);
    let (key, public) = keypair(work.path(), "id_ed25519");
    add_key(&store, &public);
    let emulator = Emulator::start(&store, &[]);
    let component = guest("guest-route-by-annotator");
    let out = runner_host_env(
        &[
            "--component",
            component.to_str().unwrap(),
            "--project-hash",
            &a,
            "--domain",
            &emulator.url,
            "--ssh-key-file",
            key.to_str().unwrap(),
            "--env",
            "TWIN_PROJECT",
        ],
        &env,
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    drop(emulator);
    let st = status(&store, &a);
    assert_eq!(
        (
            count(&st, "Done"),
            count(&st, "Review"),
            count(&st, "route")
        ),
        (2, 2, 1)
    );
    assert_eq!(count(&status(&store, &b), "Complete"), 1);
}

/// Builds a Python agent with the SDK's build tool: (succeeded, stderr).
fn python_build(source: &Path, out: &Path) -> (bool, String) {
    let built = std::process::Command::new(workspace().join("scripts/build-agent.sh"))
        .arg(source)
        .arg("-o")
        .arg(out)
        .output()
        .expect("scripts/build-agent.sh runs");
    (built.status.success(), stderr(&built))
}

/// A failed Python build shows the agent's own traceback (paths on this
/// machine, no toolchain backtrace) and a hint for encord-agents' imports;
/// a module-level `runner(...)` with an option runner-host does not take,
/// or a value it cannot read, fails the build naming the line.
#[test]
fn python_build_errors_teach() {
    let work = tempfile::tempdir().unwrap();
    let cases = [
        (
            "from encord_agents.tasks import Runner\nrunner = Runner()\n",
            "hint: runner-host agents import `encord_agent_sdk` instead of `encord_agents`",
        ),
        (
            "from encord.objects import LabelRowV2\n",
            "hint: there is no Encord client inside the sandbox",
        ),
        (
            "from encord_agent_sdk import Runner, dep_client\n",
            "hint: there is no Encord client inside the sandbox: declare what the handler reads as dependencies",
        ),
        (
            "from encord_agent_sdk import Runner\nrunner = Runner()\nrunner(refresh_every=60, workers=4)\n",
            "error: agent.py:3: `workers` is not a runner option runner-host knows",
        ),
        (
            "from encord_agent_sdk import Runner\nrunner = Runner()\nN = 5\nrunner.run(task_batch_size=N)\n",
            "error: agent.py:4: `task_batch_size` must be a literal number or None",
        ),
        (
            "from encord_agent_sdk import Runner\nrunner = Runner()\n\ndef f():\n    return 1 / 0\n\nf()\n",
            "ZeroDivisionError: division by zero",
        ),
    ];
    for (i, (source, expected)) in cases.into_iter().enumerate() {
        let dir = work.path().join(format!("case{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("agent.py");
        std::fs::write(&file, source).unwrap();
        let (ok, err) = python_build(&file, &dir.join("agent.wasm"));
        assert!(!ok, "{source}: the build failed");
        assert!(err.contains(expected), "{source}: {err}");
        assert!(!err.contains("Stack backtrace"), "{source}: {err}");
        assert!(!err.contains("componentize_py"), "{source}: {err}");
        assert!(!err.contains("encord_agent_app"), "{source}: {err}");
        assert!(
            !err.contains("/1/"),
            "{source}: the agent's real path is shown: {err}"
        );
        assert!(
            !dir.join("agent.wasm").exists(),
            "{source}: nothing half-written"
        );
        if expected.starts_with("ZeroDivisionError") {
            let frame = format!("File \"{}\", line 7, in <module>", file.display());
            assert!(err.contains(&frame), "the agent's own frames: {err}");
        }
    }
}

/// Module-level code reading the environment and `runner.project` (as
/// encord-agents' examples do) builds, with a note, and runs when each
/// instance starts: without the variable granted the run stops, naming
/// `--env`; with it every task runs, `lr.client_metadata` is there when the
/// stage asked for it, the module's `runner(task_batch_size=7)` is the
/// run's default, and an Encord SDK call runner-host lacks (`task.move`)
/// fails its task naming itself.
#[test]
fn python_module_level_code_runs_when_an_instance_starts() {
    let work = tempfile::tempdir().unwrap();
    let source = workspace().join("tests/guests/python/module_level.py");
    let component = work.path().join("module_level.wasm");
    let (ok, err) = python_build(&source, &component);
    assert!(ok, "{err}");
    assert!(
        err.contains("encord-agent-build: note: module_level.py:14 reads the environment (`os.environ`) at module level, so the module's top level runs when each instance starts"),
        "{err}"
    );
    assert!(
        err.contains("sets runner-host's defaults: --task-batch-size 7"),
        "{err}"
    );

    let (_dir, store, hash) = demo_store();
    let out = run_agent(&component, &store, &hash, &[]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("environment variable 'ROUTE_TO' is not set inside the sandbox: grant it with `--env ROUTE_TO`"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        count(&status(&store, &hash), "pre-label"),
        24,
        "nothing ran"
    );

    let out = run_agent_env(
        &component,
        &store,
        &hash,
        &["--env", "ROUTE_TO"],
        &[("ROUTE_TO", "to triage")],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out)
            .contains("the agent sets defaults (its runner(...) call): --task-batch-size 7"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("batch 4: "),
        "batches of 7: {}",
        stderr(&out)
    );
    let line = failure_line(&stdout(&out), "street-blurry-01.png");
    assert!(
        line.contains("`AgentTask.move` is an Encord SDK call that runner-host does not offer inside the sandbox"),
        "{line}"
    );
    let st = status(&store, &hash);
    assert_eq!((count(&st, "pre-label"), count(&st, "triage")), (3, 21));
}

/// `encord_agent_sdk.testing.TestRun` runs a Python stage natively (no
/// component): the decision, the saved row with its new classification, a
/// pathway the stage does not declare refused, and what only the host has
/// raising `HostOnly`.
#[test]
fn a_python_stage_runs_natively_with_test_run() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("agent.py"),
        r#"
from encord_agent_sdk import AgentTask, Classification, LabelRowV2, Runner, StorageItem

runner = Runner()

@runner.stage("pre-label", pathways=["to triage"])
def pre_label(task: AgentTask, lr: LabelRowV2) -> str:
    caption = lr.ontology_structure.get_child_by_title("Caption", type_=Classification).create_instance()
    caption.set_for_frames(frames=0)
    caption.set_answer(answer=f"seen: {task.data_title}")
    lr.add_classification_instance(caption)
    lr.save()
    lr.set_priority(0.25)
    return "to triage"

@runner.stage("wrong", pathways=["to triage"])
def wrong(task: AgentTask) -> str:
    return "nowhere"

@runner.stage("item")
def item(task: AgentTask, it: StorageItem) -> None:
    return None
"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("test_agent.py"),
        r#"
import os, pathlib, unittest
from encord_agent_sdk.testing import HostOnly, TestRun
from agent import runner

ROOT = pathlib.Path(os.environ["WORKSPACE"])
ONTOLOGY = (ROOT / "examples/demo-ontology.json").read_text()
ROW = (ROOT / "labels/tests/vectors/image_label.json").read_text()

class PreLabel(unittest.TestCase):
    def test_captions_and_routes(self):
        out = TestRun(runner, ontology=ONTOLOGY, label_row=ROW, data_title="street-01.png").run("pre-label")
        self.assertEqual(out.pathway, "to triage")
        self.assertEqual(out.priority, 0.25)
        answers = [c.get_answer() for c in out.label_row.get_classification_instances()]
        self.assertIn("seen: street-01.png", answers)

    def test_an_undeclared_pathway_is_refused(self):
        with self.assertRaisesRegex(AssertionError, "returned pathway `nowhere`, not one it declares"):
            TestRun(runner, ontology=ONTOLOGY, label_row=ROW).run("wrong")

    def test_what_only_the_host_has_raises(self):
        with self.assertRaisesRegex(HostOnly, "comes from runner-host"):
            TestRun(runner, ontology=ONTOLOGY, label_row=ROW).run("item")

    def test_a_rotated_crop_is_rotated_in_pixels(self):
        # The box Image.b64_encoding(crop=...) sends the host; as Shape::bounds.
        from encord_agent_sdk.data import _crop_box
        from encord_agent_sdk.labels import RotatableBoundingBoxCoordinates as R
        box = _crop_box(R(height=0.2, width=0.2, top_left_x=0.3, top_left_y=0.2, theta=90), 200, 100)
        for got, want in zip(box, (0.35, 0.1, 0.1, 0.4)):
            self.assertAlmostEqual(got, want)

    def test_an_unknown_stage_is_named(self):
        with self.assertRaisesRegex(ValueError, "no stage `absent`"):
            TestRun(runner, ontology=ONTOLOGY).run("absent")

if __name__ == "__main__":
    unittest.main()
"#,
    )
    .unwrap();
    let root = workspace();
    let out = std::process::Command::new("python3")
        .args(["-m", "unittest", "-v", "test_agent"])
        .current_dir(dir.path())
        .env("PYTHONPATH", root.join("guest-sdk/python"))
        .env("WORKSPACE", &root)
        .output()
        .expect("python3 runs");
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("Ran 5 tests") && text.contains("OK"),
        "{text}"
    );
}
