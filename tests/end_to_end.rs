//! The demo, end to end: real example components, the real binary, a real
//! store. What the agents decided must be what the store holds.

use crate::support;

use support::*;

#[test]
fn demo_agents_label_and_route_every_task() {
    let (_dir, store, hash) = demo_store();
    let before = status(&store, &hash);
    assert_eq!(
        count(&before, "pre-label"),
        24,
        "22 images, 1 image group and 1 video start in pre-label"
    );

    let out = run_agent(&guest("prelabel"), &store, &hash, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "prelabel run failed: {}",
        stderr(&out)
    );
    let s = status(&store, &hash);
    assert_eq!((count(&s, "pre-label"), count(&s, "triage")), (0, 24));
    assert!(
        stdout(&out).contains("to triage: 24"),
        "summary: {}",
        stdout(&out)
    );

    let rows = export(&store, &hash);
    let street = &exported(&rows, "street-01.png")["label_row"];
    let objects = street["data_units"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()["labels"]["objects"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(objects.len(), 1);
    assert_eq!(objects[0]["name"], "Vehicle");
    assert_eq!(objects[0]["featureHash"], "objVehicle");
    assert!(
        street["label_hash"].is_string(),
        "saving initialised the row"
    );
    let quality: Vec<&serde_json::Value> = street["classification_answers"]
        .as_object()
        .unwrap()
        .values()
        .collect();
    assert_eq!(
        quality[0]["classifications"][0]["answers"][0]["name"],
        "Good"
    );

    let portrait = &exported(&rows, "portrait-02.png")["label_row"];
    let answers = portrait["object_answers"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap();
    assert_eq!(
        answers["classifications"][0]["answers"][0]["name"],
        "Standing"
    );

    let video = &exported(&rows, "walk-01.y4m")["label_row"];
    let frames = video["data_units"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()["labels"]
        .as_object()
        .unwrap()
        .clone();
    assert_eq!(frames.len(), 5, "the person is tracked over frames 0-4");

    let out = run_agent(&guest("triage"), &store, &hash, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "triage run failed: {}",
        stderr(&out)
    );
    let s = status(&store, &hash);
    // 3 blurry images need annotation; 6 portraits and the video (a person)
    // go to review; the other 13 images and the image group are done.
    assert_eq!(count(&s, "triage"), 0);
    assert_eq!(count(&s, "Annotate"), 3);
    assert_eq!(count(&s, "Review"), 7);
    assert_eq!(count(&s, "Complete"), 14);

    let rows = export(&store, &hash);
    assert_eq!(exported(&rows, "street-blurry-01.png")["priority"], 1.0);
    assert_eq!(
        exported(&rows, "portrait-01.png")["priority"]
            .as_f64()
            .map(|p| (p * 10.0).round()),
        Some(8.0)
    );
    assert_eq!(exported(&rows, "park-01.png")["stage"], "Complete");
    assert_eq!(
        exported(&rows, "park-01.png")["priority"],
        0.0,
        "a priority of 0.0 is set, not ignored"
    );
}

#[test]
fn max_tasks_per_stage_is_exact_across_small_batches() {
    let (_dir, store, hash) = demo_store();
    let out = run_agent(
        &guest("prelabel"),
        &store,
        &hash,
        &["--max-tasks-per-stage", "5", "--task-batch-size", "3"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let s = status(&store, &hash);
    assert_eq!((count(&s, "pre-label"), count(&s, "triage")), (19, 5));
}

#[test]
fn small_batches_and_one_at_a_time_still_drain_the_stage() {
    let (_dir, store, hash) = demo_store();
    let out = run_agent(
        &guest("prelabel"),
        &store,
        &hash,
        &["--task-batch-size", "4", "--concurrency", "1"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let s = status(&store, &hash);
    assert_eq!((count(&s, "pre-label"), count(&s, "triage")), (0, 24));
}

/// `runner-host run …` and `runner-host …` do the same run: on two copies
/// of one store they end in the same stages with the same label rows.
#[test]
fn the_run_subcommand_is_the_same_as_the_default() {
    let (dir, store, hash) = demo_store();
    let copy = dir.path().join("copy");
    copy_store(&store, &copy);
    let wasm = guest("prelabel");
    let mut ends = Vec::new();
    for (form, store) in [(Some("run"), &store), (None, &copy)] {
        let mut args: Vec<&str> = form.into_iter().collect();
        args.extend([
            "--component",
            wasm.to_str().unwrap(),
            "--project-hash",
            &hash,
            "--store",
            store.to_str().unwrap(),
            "--stage",
            "pre-label",
        ]);
        let out = runner_host(&args);
        assert_eq!(out.status.code(), Some(0), "{form:?}: {}", stderr(&out));
        ends.push((status(store, &hash), comparable(export(store, &hash))));
    }
    assert_eq!(count(&ends[0].0, "triage"), 24);
    assert_eq!(ends[0], ends[1]);
}

/// `--perfmap` leaves the map `perf` reads to name the agent's functions:
/// its handler and the SDK's code, by name, at their compiled addresses.
#[test]
fn perfmap_names_the_agents_functions_for_perf() {
    let (dir, store, hash) = demo_store();
    let wasm = guest("prelabel");
    let child = agent_command(&wasm, &store, &hash)
        .arg("--perfmap")
        .arg("--cache-dir")
        .arg(dir.path().join("cache"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let map = std::path::PathBuf::from(format!("/tmp/perf-{}.map", child.id()));
    let out = child.wait_with_output().unwrap();
    let text = std::fs::read_to_string(&map).unwrap_or_default();
    let _ = std::fs::remove_file(&map);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(count(&status(&store, &hash), "triage"), 24);
    // Each line: start address, size, name (perf's map format).
    let handler = text
        .lines()
        .find(|l| l.contains("encord:agent/handler") && l.contains("#run"))
        .unwrap_or_else(|| {
            panic!(
                "no handler in {} ({} lines)",
                map.display(),
                text.lines().count()
            )
        });
    let hex = |f: &str| u64::from_str_radix(f.trim_start_matches("0x"), 16).is_ok();
    let fields: Vec<&str> = handler.splitn(3, ' ').collect();
    assert!(hex(fields[0]) && hex(fields[1]), "{handler}");
    assert!(
        text.contains("encord_agent_sdk"),
        "the SDK's functions are named"
    );
}

#[test]
fn inspect_lists_stages_needs_and_pathways() {
    let wasm = guest("triage");
    let out = runner_host(&["inspect", "--component", wasm.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let stage = &v["stages"][0];
    assert_eq!(stage["stage"], "triage");
    assert_eq!(stage["handler"], "triage");
    assert_eq!(stage["needs"], serde_json::json!(["label-row"]));
    assert_eq!(
        stage["pathways"],
        serde_json::json!(["needs annotation", "to review", "done"])
    );
    assert_eq!(
        stage["label_row_options"]["include_workflow_graph_node"],
        true
    );

    let out = runner_host(&["inspect", "--component", wasm.to_str().unwrap()]);
    let text = stdout(&out);
    assert!(
        text.contains("stage `triage` (handler `triage`)") && text.contains("needs: label-row"),
        "{text}"
    );
}

/// A stage's label-row options are honoured end to end, on the embedded
/// store and over HTTP through the emulator: only the objects of the asked
/// feature hashes, no classifications when an empty list is asked, reviews
/// when asked, and signed links to the media. After the prelabel example
/// (Vehicles on street scenes, People on portraits and the video, a
/// Quality on every row, and a review put on street-01's Vehicle), the
/// checking agent (tests/guests/python/row_options.py) fails any task whose
/// row is not shaped so, and routes by what it saw.
#[test]
fn label_row_options_shape_the_rows_on_the_store_and_over_http() {
    let (dir, store, hash) = demo_store();
    let out = run_agent(&guest("prelabel"), &store, &hash, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    {
        let conn = rusqlite::Connection::open(store.join("store.sqlite")).unwrap();
        let n = conn
            .execute(
                "UPDATE label_rows SET row_json = json_set(row_json,
                    '$.data_units.' || data_hash || '.labels.objects[0].reviews', json('[{\"reviewer\": \"r@example.com\", \"approved\": true}]'))
                 WHERE project_hash = ?1 AND data_hash = (SELECT data_hash FROM data_units WHERE title = 'street-01.png')",
                [&hash],
            )
            .unwrap();
        assert_eq!(n, 1);
    }
    let served = dir.path().join("served");
    copy_store(&store, &served);
    let agent = agent_component("tests/guests/python/row_options.py");

    let out = run_agent(&agent, &store, &hash, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "on the store: {}{}",
        stdout(&out),
        stderr(&out)
    );

    let (key, public) = keypair(dir.path(), "id_ed25519");
    add_key(&served, &public);
    let emulator = Emulator::start(&served, &[]);
    let out = run_over_http(&agent, &emulator, &key, &hash, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "over HTTP: {}{}",
        stdout(&out),
        stderr(&out)
    );
    drop(emulator);

    for s in [&store, &served] {
        let st = status(s, &hash);
        // The 10 street scenes have a Vehicle; the 12 other images, the
        // group and the video (People only) are left for annotation.
        assert_eq!(
            (count(&st, "Complete"), count(&st, "Annotate")),
            (10, 14),
            "{st:?}"
        );
    }
    // The options shape what is served, not what is stored.
    let rows = export(&store, &hash);
    let portrait = &exported(&rows, "portrait-01.png")["label_row"];
    assert!(portrait.to_string().contains("objPerson"), "{portrait}");
}

/// A stage that names a label branch reads and saves that branch, on the
/// store and over HTTP: `main` keeps its labels; the branch gets the
/// agent's; a later stage listing every branch is served `main`.
#[test]
fn a_named_label_branch_is_read_and_written_apart_from_main() {
    let (dir, store, hash) = demo_store();
    let served = dir.path().join("served");
    copy_store(&store, &served);
    let main_before = export(&store, &hash);
    let agent = agent_component("tests/guests/python/branches.py");

    let out = run_agent(&agent, &store, &hash, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "on the store: {}{}",
        stdout(&out),
        stderr(&out)
    );
    let (key, public) = keypair(dir.path(), "id_ed25519");
    add_key(&served, &public);
    let emulator = Emulator::start(&served, &[]);
    let out = run_over_http(&agent, &emulator, &key, &hash, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "over HTTP: {}{}",
        stdout(&out),
        stderr(&out)
    );
    // The emulator lists a row per branch when asked for all of them.
    let listed = tokio::runtime::Runtime::new().unwrap().block_on(async {
        use runner_host::encord::{Credentials, EncordClient, RetryPolicy};
        let client = EncordClient::new(
            &emulator.url,
            Credentials::from_file(&key).unwrap(),
            RetryPolicy::default(),
        )
        .unwrap();
        let payload = serde_json::json!({"data_hashes": null, "include_all_label_branches": true});
        client
            .http()
            .legacy::<Vec<serde_json::Value>>(
                &hash,
                "labelrowmetadata",
                "GET",
                serde_json::Value::Null,
                payload,
                true,
            )
            .await
            .unwrap()
    });
    let branches: Vec<&str> = listed
        .iter()
        .map(|m| m["branch_name"].as_str().unwrap())
        .collect();
    assert_eq!(branches.iter().filter(|b| **b == "main").count(), 24);
    assert_eq!(
        branches.iter().filter(|b| **b == "agent-branch").count(),
        24
    );
    drop(emulator);

    for s in [&store, &served] {
        assert_eq!(count(&status(s, &hash), "Complete"), 24);
        let main: Vec<_> = export(s, &hash)
            .iter()
            .map(|r| r["label_row"]["classification_answers"].clone())
            .collect();
        let before: Vec<_> = main_before
            .iter()
            .map(|r| r["label_row"]["classification_answers"].clone())
            .collect();
        assert_eq!(main, before, "main's labels are untouched");
        let conn = rusqlite::Connection::open(s.join("store.sqlite")).unwrap();
        let with_quality: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM label_branches WHERE project_hash = ?1 AND branch_name = 'agent-branch'
                   AND row_json LIKE '%clsQuality%' AND label_hash IS NOT NULL",
                [&hash],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(with_quality, 24, "{}", s.display());
    }
}
