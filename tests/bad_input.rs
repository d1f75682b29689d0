//! Bad input: each gets one clear line naming the problem and the fix, a
//! non-zero exit, and nothing written. Misbehaving tasks fail alone.

use crate::support;

use std::path::Path;

use support::*;

/// The lines of stderr that are not log lines: the error itself.
fn error_lines(o: &std::process::Output) -> Vec<String> {
    stderr(o)
        .lines()
        .filter(|l| l.starts_with("error:"))
        .map(str::to_string)
        .collect()
}

/// Runs `component` over a fresh demo store and checks it fails to start
/// with one error line containing every `expected` piece, and that the
/// store is unchanged.
fn refused(component: &Path, expected: &[&str]) {
    let (_dir, store, hash) = demo_store();
    let (status_before, export_before) = (status(&store, &hash), export(&store, &hash));
    let out = run_agent(component, &store, &hash, &[]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let errors = error_lines(&out);
    assert_eq!(errors.len(), 1, "exactly one error line: {}", stderr(&out));
    for e in expected {
        assert!(errors[0].contains(e), "`{e}` missing from: {}", errors[0]);
    }
    assert_eq!(status(&store, &hash), status_before, "no task moved");
    assert_eq!(export(&store, &hash), export_before, "no label written");
}

#[test]
fn a_missing_component_file() {
    let dir = tempfile::tempdir().unwrap();
    refused(
        &dir.path().join("nope.wasm"),
        &["nope.wasm` not found", "cargo build --target wasm32-wasip2"],
    );
}

#[test]
fn random_bytes_are_not_a_component() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("random.wasm");
    std::fs::write(
        &path,
        (0..4096u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    refused(&path, &["is not a WebAssembly component", "wasm32-wasip2"]);
}

#[test]
fn a_core_module_is_not_a_component() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("core.wasm");
    // The smallest valid core module: magic and version 1.
    std::fs::write(&path, b"\0asm\x01\0\0\0").unwrap();
    refused(
        &path,
        &[
            "is a core WebAssembly module, not a component",
            "wasm32-wasip2",
        ],
    );
}

#[test]
fn a_component_of_another_world() {
    refused(
        &guest("guest-other-world"),
        &[
            "does not implement the encord:agent/agent@0.2.0 world",
            "encord-agent-sdk",
        ],
    );
}

#[test]
fn a_component_built_against_another_version_names_both_and_the_fix() {
    refused(
        &guest("guest-old-version"),
        &[
            "was built against encord:agent@0.1.0, and this runner-host serves encord:agent@0.2.0 (`runner-host --version`)",
            "rebuild the agent with this runner-host's SDK",
        ],
    );
}

#[test]
fn a_stage_that_is_not_an_agent_stage_lists_the_valid_ones_and_suggests_the_closest() {
    refused(
        &guest("guest-wrong-stage"),
        &[
            "stage `prelabel` (handler `prelabel`) is not an agent stage",
            "`pre-label` (",
            "`triage` (",
            "did you mean `pre-label`?",
        ],
    );
}

#[test]
fn a_declared_pathway_the_stage_lacks_is_refused_before_any_task() {
    refused(
        &guest("guest-undeclared-pathway"),
        &["stage `pre-label` has no pathway `to the moon`; its pathways are: to triage"],
    );
}

#[test]
fn an_unknown_project_hash() {
    let (_dir, store, hash) = demo_store();
    let other = "3f0e5f40-0000-4000-8000-000000000000";
    let out = run_agent(&guest("prelabel"), &store, other, &[]);
    assert_eq!(out.status.code(), Some(1));
    let errors = error_lines(&out);
    assert_eq!(errors.len(), 1, "{}", stderr(&out));
    assert!(
        errors[0].contains(&format!("no project `{other}`")) && errors[0].contains(&hash),
        "{}",
        errors[0]
    );
    assert_eq!(count(&status(&store, &hash), "pre-label"), 24);
}

#[test]
fn a_project_hash_that_is_not_a_uuid() {
    let (_dir, store, hash) = demo_store();
    let out = run_agent(&guest("prelabel"), &store, "my-project", &[]);
    assert_eq!(out.status.code(), Some(1));
    let errors = error_lines(&out);
    assert_eq!(errors.len(), 1, "{}", stderr(&out));
    assert!(
        errors[0].contains("project hash `my-project` is not a UUID"),
        "{}",
        errors[0]
    );
    assert_eq!(count(&status(&store, &hash), "pre-label"), 24);
}

#[test]
fn a_missing_store_is_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("no-store");
    let out = run_agent(
        &guest("prelabel"),
        &store,
        "3f0e5f40-0000-4000-8000-000000000000",
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let errors = error_lines(&out);
    assert!(
        errors.len() == 1 && errors[0].contains("local demo --store"),
        "{}",
        stderr(&out)
    );
    assert!(!store.exists(), "nothing written");
}

/// One component misbehaving on five tasks of the same batch: each of those
/// fails with its own reason; every other task is labelled and moved.
#[test]
fn misbehaving_tasks_fail_alone_and_the_rest_of_the_batch_lands() {
    let (_dir, store, hash) = demo_store();
    let before = export(&store, &hash);
    let out = run_agent(
        &guest("guest-misbehave"),
        &store,
        &hash,
        &["--num-retries", "2"],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "tasks failed, the run completed: {}",
        stderr(&out)
    );
    let text = stdout(&out);

    // A pathway the stage does not have: named, with the valid ones.
    assert!(
        text.contains("(street-02.png): stage `pre-label` has no pathway `to nowhere`; its pathways are: to triage"),
        "{text}"
    );
    // Labels that do not match the ontology: refused, nothing saved.
    assert!(
        text.contains("(street-03.png): the label row returned was not saved"),
        "{text}"
    );
    assert!(
        text.contains("`objNotInOntology` is not an object of the ontology"),
        "{text}"
    );
    // An agent error: retried, then reported.
    assert!(
        text.contains("(street-04.png): deliberate failure for street-04.png"),
        "{text}"
    );
    assert!(
        stderr(&out).contains("[attempt 1/3] agent failed: deliberate failure"),
        "{}",
        stderr(&out)
    );
    // A priority out of range.
    assert!(
        text.contains("(street-05.png): priority 1.5 is outside [0, 1]"),
        "{text}"
    );

    let s = status(&store, &hash);
    assert_eq!((count(&s, "pre-label"), count(&s, "triage")), (5, 19));

    // A dependency that fails: that task only.
    assert!(
        text.contains("(street-07.png): dependency failed: no sensor data for street-07.png"),
        "{text}"
    );

    let after = export(&store, &hash);
    for failed in [
        "street-02.png",
        "street-03.png",
        "street-04.png",
        "street-05.png",
        "street-07.png",
    ] {
        assert_eq!(
            exported(&after, failed),
            exported(&before, failed),
            "{failed}: nothing written"
        );
        assert_eq!(exported(&after, failed)["stage"], "pre-label");
    }
    let ok = exported(&after, "street-06.png");
    assert_eq!(ok["stage"], "triage");
    assert_eq!(ok["priority"], 0.0);
    assert_eq!(
        ok["label_row"]["classification_answers"]
            .as_object()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn a_failing_start_hook_aborts_before_any_task_with_its_message() {
    refused(
        &guest("guest-start-fails"),
        &["the agent's start hook failed: model weights missing: run `make weights` first"],
    );
}

/// One bad invocation of the catalogue: its arguments (`{store}`,
/// `{hash}`, `{agent}` and `{dir}` filled in), the exit code, and what its
/// one error line must say.
struct Bad {
    args: &'static str,
    code: i32,
    says: &'static [&'static str],
}

const fn bad(args: &'static str, code: i32, says: &'static [&'static str]) -> Bad {
    Bad { args, code, says }
}

/// The catalogue: bad command lines, components, stores, project specs and
/// local commands. Each exits with its code and exactly one `error:` line
/// naming the problem and the fix, and leaves the store as it was (its
/// projects, every task's stage and every label row). Every case is run and
/// every miss reported, so one failure hides none of the others.
#[test]
fn the_bad_input_catalogue() {
    const RUN: &str = "--component {agent} --project-hash {hash}";
    let cases: Vec<(String, Bad)> = [
        // Run options.
        bad("--concurrency 0", 1, &["--concurrency must be at least 1"]),
        bad("--task-batch-size 0", 1, &["--task-batch-size must be at least 1"]),
        bad("--max-tasks-per-stage 0", 1, &["--max-tasks-per-stage must be at least 1"]),
        bad("--reuse-instance 0", 2, &["'--reuse-instance <N>'", "0 is not in 1.."]),
        bad("--refresh-every soon", 2, &["invalid value 'soon' for '--refresh-every"]),
        bad("--memory-limit 0", 2, &["--memory-limit", "0 is not in 1..=65536"]),
        bad("--memory-limit 70000", 2, &["--memory-limit", "70000 is not in 1..=65536"]),
        bad("--task-timeout 0", 2, &["--task-timeout", "0 is not in 1.."]),
        bad("--fuel 0", 2, &["--fuel", "0 is not in 1.."]),
        bad("--env RUNNER_HOST_TEST_UNSET_VARIABLE", 1, &["--env RUNNER_HOST_TEST_UNSET_VARIABLE: the variable is not set"]),
        bad("--dir {dir}/nowhere:/data", 1, &["nowhere` is not a directory"]),
        bad("--dir nocolon", 1, &["--dir `nocolon` is not HOST_PATH:GUEST_PATH[:ro]"]),
        bad("--allow-net http://x/y", 1, &["--allow-net `http://x/y` is not HOST[:PORT]"]),
        bad("--stage no-such-stage", 1, &["--stage `no-such-stage` is not served by this agent; it serves: pre-label"]),
                // Credentials and the Encord address (HTTP runs).
        bad("--domain http://127.0.0.1:9 --ssh-key-file {dir}/missing_key", 1, &["the SSH key file", "does not exist", "Ed25519"]),
        bad("--domain http://127.0.0.1:9 --ssh-key-file {dir}/garbage_key", 1, &["is not an OpenSSH private key", "ssh-keygen -t ed25519"]),
        bad("--domain http://127.0.0.1:9 --ssh-key-file {dir}/rsa_key", 1, &["is a ssh-rsa key: Encord needs an Ed25519 key"]),
        bad("--domain http://127.0.0.1:9", 1, &["no Encord credentials: set ENCORD_SSH_KEY_FILE"]),
        bad("--domain notaurl --ssh-key-file {dir}/ed_key", 1, &["--domain `notaurl` is not a URL"]),
        bad("--domain http://127.0.0.1:9 --ssh-key-file {dir}/ed_key --http-retries 0", 1, &["cannot reach Encord at http://127.0.0.1:9", "check --domain"]),
        bad("--ssh-key-file {dir}/ed_key", 1, &["runs on the embedded store, and --ssh-key-file is for Encord: drop one of them"]),
    ]
    .into_iter()
    .map(|b| {
        let store = if b.args.starts_with("--domain") { "" } else { " --store {store}" };
        (format!("{RUN}{store} {}", b.args), b)
    })
    .chain(
        [
            bad("--component {agent} --project-hash 42 --store {store}", 1, &["project hash `42` is not a UUID"]),
            // Components.
            bad("--component {dir}/truncated.wasm --project-hash {hash} --store {store}", 1, &["truncated.wasm` is not a valid WebAssembly component"]),
            bad("--component {dir}/empty.wasm --project-hash {hash} --store {store}", 1, &["is not a WebAssembly component (no wasm header)"]),
            bad("--component {dir} --project-hash {hash} --store {store}", 1, &["cannot read component"]),
            bad("--component {dir}/bad-defaults.wasm --project-hash {hash} --store {store}", 1, &["its `encord-agent:runner-defaults` section is not runner defaults"]),
            bad("--component {dir}/wrong-defaults.wasm --project-hash {hash} --store {store}", 1, &["section is not runner defaults", "expected u64"]),
            // Stores.
            bad("--component {agent} --project-hash {hash} --store {dir}/not-a-store", 1, &["is not a runner-host store"]),
            bad("--component {agent} --project-hash {hash} --store {dir}/newer", 1, &["schema version 99, this runner-host reads version 1"]),
            bad("local status --store {store} --project-hash 00000000-0000-4000-8000-000000000000", 1, &["no project `00000000-0000-4000-8000-000000000000` in store", "projects there:"]),
            bad("local export --store {store} --project-hash 00000000-0000-4000-8000-000000000000", 1, &["no project `00000000-0000-4000-8000-000000000000`"]),
            bad("local add-key --store {store} --public-key {dir}/garbage_key", 1, &["is not an OpenSSH public key", "ssh-keygen -t ed25519"]),
            bad("local add-data --store {store} --project-hash {hash} --file {dir}/notes.txt", 1, &["`.txt` files are not supported: add images"]),
            bad("local add-data --store {store} --project-hash {hash} --file {dir}/nothere.png", 1, &["nothere.png`: no such file"]),
            bad("emulator --store {dir}/no-store --listen 127.0.0.1:0", 1, &["store", "does not exist: create one with `runner-host local demo"]),
            bad("emulator --store {store} --listen nonsense", 1, &["cannot listen on nonsense"]),
            // Project specs.
            bad("local project --store {store} --spec {dir}/spec-not-json.json", 1, &["project spec", "not a project spec"]),
            bad("local project --store {store} --spec {dir}/spec-unknown-field.json", 1, &["unknown field `stagez`"]),
            bad("local project --store {store} --spec {dir}/spec-stage-type.json", 1, &["stage `a` has type `ROBOT`; Encord's types are"]),
            bad("local project --store {store} --spec {dir}/spec-pathway.json", 1, &["pathway `go` of stage `a` leads to `nowhere`, which is not a stage of this spec"]),
            bad("local project --store {store} --spec {dir}/spec-data-stage.json", 1, &["data `x.png` starts in stage `nowhere`"]),
            bad("local project --store {store} --spec {dir}/spec-ontology-file.json", 1, &["its ontology", "missing-ontology.json"]),
            bad("local project --store {store} --spec {dir}/spec-ontology-bad.json", 1, &["its ontology is not one runner-host reads"]),
            bad("local project --store {store} --spec {dir}/spec-twin-data.json", 1, &["data `absent.png` is not in project"]),
            bad("local project --store {store} --spec {dir}/spec-duplicate.json", 1, &["two stages are titled `a`"]),
            bad("local project --store {store} --spec {dir}/spec-priority.json", 1, &["data `x.png` has priority 2, outside [0, 1]"]),
            bad("local project --store {store} --spec {dir}/spec-stage-uuid.json", 1, &["stage `a` has uuid `nope`, which is not a UUID"]),
            bad("local project --store {store} --spec {dir}/spec-no-agent.json", 1, &["names no stage and the workflow has no agent stage"]),
        ]
        .into_iter()
        .map(|b| (b.args.to_string(), b)),
    )
    .collect();
    assert!(
        cases.len() >= 40,
        "the catalogue holds {} cases",
        cases.len()
    );

    let (dir, store, hash) = demo_store();
    let files = dir.path().join("files");
    catalogue_files(&files, &hash);
    let projects = || {
        let conn = rusqlite::Connection::open(store.join("store.sqlite")).unwrap();
        conn.query_row("SELECT COUNT(*) FROM projects", [], |r| r.get::<_, i64>(0))
            .unwrap()
    };
    let before = (projects(), status(&store, &hash), export(&store, &hash));
    let agent = guest("prelabel");
    let mut misses = Vec::new();
    for (args, case) in &cases {
        let line = args
            .replace("{store}", store.to_str().unwrap())
            .replace("{hash}", &hash)
            .replace("{agent}", agent.to_str().unwrap())
            .replace("{dir}", files.to_str().unwrap());
        let argv: Vec<&str> = line.split_whitespace().collect();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_runner-host"))
            .args(&argv)
            .env_remove("ENCORD_SSH_KEY")
            .env_remove("ENCORD_SSH_KEY_FILE")
            .env_remove("RUNNER_HOST_TEST_UNSET_VARIABLE")
            .output()
            .expect("runner-host starts");
        let errors = error_lines(&out);
        let wrong = if out.status.code() != Some(case.code) {
            Some(format!("exit {:?}, not {}", out.status.code(), case.code))
        } else if errors.len() != 1 {
            Some(format!("{} error lines", errors.len()))
        } else {
            case.says
                .iter()
                .find(|s| !errors[0].contains(*s))
                .map(|s| format!("no `{s}`"))
        };
        if let Some(why) = wrong {
            misses.push(format!("`{}`: {why}\n{}", case.args, stderr(&out)));
        }
    }
    assert!(
        misses.is_empty(),
        "{} case(s) missed:\n{}",
        misses.len(),
        misses.join("\n")
    );
    assert!(
        (projects(), status(&store, &hash), export(&store, &hash)) == before,
        "the catalogue wrote to the store"
    );
}

/// The files the catalogue's cases name.
fn catalogue_files(dir: &Path, hash: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let write = |name: &str, bytes: &[u8]| std::fs::write(dir.join(name), bytes).unwrap();
    let component = std::fs::read(guest("prelabel")).unwrap();
    write("truncated.wasm", &component[..component.len() / 2]);
    write("empty.wasm", b"");
    // A custom section (id 0) appended: name, then payload.
    let with_section = |payload: &[u8]| {
        let name = b"encord-agent:runner-defaults";
        let mut body = vec![name.len() as u8];
        body.extend_from_slice(name);
        body.extend_from_slice(payload);
        let mut bytes = component.clone();
        bytes.push(0);
        bytes.push(body.len() as u8);
        bytes.extend(body);
        bytes
    };
    write("bad-defaults.wasm", &with_section(b"{not json"));
    write(
        "wrong-defaults.wasm",
        &with_section(br#"{"refresh_every": "soon"}"#),
    );
    write("garbage_key", b"garbage\n");
    write("notes.txt", b"not media\n");
    keypair(dir, "ed_key");
    let rsa = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "rsa", "-b", "1024", "-N", "", "-f"])
        .arg(dir.join("rsa_key"))
        .output()
        .expect("ssh-keygen runs");
    assert!(rsa.status.success(), "{}", stderr(&rsa));
    std::fs::create_dir_all(dir.join("not-a-store")).unwrap();
    write("not-a-store/store.sqlite", b"garbage");
    let newer = dir.join("newer");
    copy_store(&dir.join("..").join("store"), &newer);
    let conn = rusqlite::Connection::open(newer.join("store.sqlite")).unwrap();
    conn.execute(
        "UPDATE meta SET value = '99' WHERE key = 'schema_version'",
        [],
    )
    .unwrap();
    let ontology = ontology_json("examples/demo-ontology.json");
    let stages = serde_json::json!([{"title": "a", "type": "AGENT", "pathways": [{"name": "go", "to": "b"}]}, {"title": "b", "type": "DONE"}]);
    let spec = |name: &str, v: serde_json::Value| write(name, v.to_string().as_bytes());
    write("spec-not-json.json", b"{ this is not json");
    spec(
        "spec-unknown-field.json",
        serde_json::json!({"title": "t", "ontology": ontology, "stagez": []}),
    );
    spec(
        "spec-stage-type.json",
        serde_json::json!({"title": "t", "ontology": ontology, "stages": [{"title": "a", "type": "ROBOT"}]}),
    );
    spec(
        "spec-pathway.json",
        serde_json::json!({"title": "t", "ontology": ontology, "stages": [{"title": "a", "type": "AGENT", "pathways": [{"name": "go", "to": "nowhere"}]}]}),
    );
    spec(
        "spec-data-stage.json",
        serde_json::json!({"title": "t", "ontology": ontology, "stages": stages, "data": [{"title": "x.png", "stage": "nowhere"}]}),
    );
    spec(
        "spec-ontology-file.json",
        serde_json::json!({"title": "t", "ontology": "missing-ontology.json", "stages": stages}),
    );
    spec(
        "spec-ontology-bad.json",
        serde_json::json!({"title": "t", "ontology": {"objects": [{"name": 3}]}, "stages": stages}),
    );
    spec(
        "spec-twin-data.json",
        serde_json::json!({"title": "t", "ontology": ontology, "stages": stages, "twin_of": hash, "data": [{"title": "absent.png"}]}),
    );
    spec(
        "spec-duplicate.json",
        serde_json::json!({"title": "t", "ontology": ontology, "stages": [{"title": "a", "type": "DONE"}, {"title": "a", "type": "DONE"}]}),
    );
    spec(
        "spec-priority.json",
        serde_json::json!({"title": "t", "ontology": ontology, "stages": stages, "data": [{"title": "x.png", "priority": 2.0}]}),
    );
    spec(
        "spec-stage-uuid.json",
        serde_json::json!({"title": "t", "ontology": ontology, "stages": [{"title": "a", "uuid": "nope", "type": "DONE"}]}),
    );
    spec(
        "spec-no-agent.json",
        serde_json::json!({"title": "t", "ontology": ontology, "stages": [{"title": "a", "type": "DONE"}], "data": [{"title": "x.png"}]}),
    );
}

/// Bad requests to the emulator get Encord's status and a message naming
/// what was wrong (never a panic or a hang), and change nothing: unsigned,
/// an unknown project, an unknown stage, a page token it never issued, an
/// actions body that is not a list, a move along a pathway the stage lacks,
/// a priority outside [0, 1], a legacy call it does not know.
#[test]
fn the_emulator_refuses_bad_requests_with_encords_status_and_a_message() {
    use runner_host::encord::{ApiError, Credentials, EncordClient, RetryPolicy};
    let (dir, store, hash) = demo_store();
    let (key, public) = keypair(dir.path(), "id_ed25519");
    add_key(&store, &public);
    let before = (status(&store, &hash), export(&store, &hash));
    let emulator = Emulator::start(&store, &[]);
    let stage = {
        let conn = rusqlite::Connection::open(store.join("store.sqlite")).unwrap();
        conn.query_row(
            "SELECT stage_uuid FROM tasks WHERE project_hash = ?1 LIMIT 1",
            [&hash],
            |r| r.get::<_, String>(0),
        )
        .unwrap()
    };
    let task = {
        let conn = rusqlite::Connection::open(store.join("store.sqlite")).unwrap();
        conn.query_row(
            "SELECT task_uuid FROM tasks WHERE project_hash = ?1 LIMIT 1",
            [&hash],
            |r| r.get::<_, String>(0),
        )
        .unwrap()
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let unsigned = reqwest::get(format!("{}/v2/public/projects/{hash}", emulator.url))
            .await
            .unwrap();
        assert_eq!(unsigned.status().as_u16(), 401);
        assert!(unsigned.text().await.unwrap().contains("message"));

        let client = EncordClient::new(
            &emulator.url,
            Credentials::from_file(&key).unwrap(),
            RetryPolicy::default(),
        )
        .unwrap();
        let http = client.http();
        let nobody = "00000000-0000-4000-8000-000000000000";
        let get = |path: String, query: Vec<(&'static str, String)>| async move {
            http.v2(reqwest::Method::GET, &path, &query, None, false).await
        };
        let post = |path: String, body: serde_json::Value| async move {
            http.v2(reqwest::Method::POST, &path, &[], Some(&body), false)
                .await
        };
        let cases: Vec<(&str, Result<serde_json::Value, ApiError>, &str, &str)> = vec![
            (
                "unknown project",
                get(format!("projects/{nobody}"), vec![]).await,
                "not found (404)",
                nobody,
            ),
            (
                "unknown stage",
                get(format!("projects/{hash}/workflow/stages/{nobody}/tasks"), vec![]).await,
                "not found (404)",
                nobody,
            ),
            (
                "foreign page token",
                get(
                    format!("projects/{hash}/workflow/stages/{stage}/tasks"),
                    vec![("pageToken", "not-ours".to_string())],
                )
                .await,
                "rejected by Encord (400)",
                "page token `not-ours` is not one this store issued",
            ),
            (
                "actions not a list",
                post(
                    format!("projects/{hash}/workflow/stages/{stage}/actions"),
                    serde_json::json!({"action": "PATHWAY_ACTION"}),
                )
                .await,
                "rejected by Encord (400)",
                "list",
            ),
            (
                "unknown pathway",
                post(
                    format!("projects/{hash}/workflow/stages/{stage}/actions"),
                    serde_json::json!([{"action": "PATHWAY_ACTION", "taskUuid": task, "pathwayUuid": nobody}]),
                )
                .await,
                "rejected by Encord (400)",
                nobody,
            ),
            (
                "action without a task",
                post(
                    format!("projects/{hash}/workflow/stages/{stage}/actions"),
                    serde_json::json!([{"action": "PATHWAY_ACTION", "pathwayName": "to triage"}]),
                )
                .await,
                "rejected by Encord (400)",
                "action 0 has no `taskUuid`",
            ),
            (
                "priority out of range",
                post(
                    format!("projects/{hash}/priorities"),
                    serde_json::json!({"priorities": [[task, 7.0]]}),
                )
                .await,
                "(400)",
                "",
            ),
        ];
        let mut misses = Vec::new();
        for (name, got, status, says) in cases {
            match got {
                Ok(v) => misses.push(format!("{name}: accepted: {v}")),
                Err(e) => {
                    let text = e.to_string();
                    if !text.contains(status) || !text.contains(says) {
                        misses.push(format!("{name}: {text}"));
                    }
                }
            }
        }
        let legacy = http
            .legacy::<serde_json::Value>(
                &hash,
                "nonsense",
                "GET",
                serde_json::Value::Null,
                serde_json::json!({}),
                false,
            )
            .await;
        match legacy {
            Ok(v) => misses.push(format!("legacy nonsense: accepted: {v}")),
            Err(e) if !e.to_string().contains("nonsense") => {
                misses.push(format!("legacy nonsense: {e}"))
            }
            Err(_) => {}
        }
        assert!(misses.is_empty(), "{}\nemulator log:\n{}", misses.join("\n"), emulator.log());
    });
    drop(emulator);
    assert!(
        (status(&store, &hash), export(&store, &hash)) == before,
        "nothing changed"
    );
}
