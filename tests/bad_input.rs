//! Bad input: each gets one clear line naming the problem and the fix, a
//! non-zero exit, and nothing written. Misbehaving tasks fail alone.

#[path = "support/mod.rs"]
mod support;

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
