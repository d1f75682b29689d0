//! The official Python SDK accepts the emulator: an unmodified encord-agents
//! Runner (encord 0.1.211, encord-agents 0.2.10, installed into a venv under
//! target/ by this test) labels, prioritises and routes every task of the
//! demo project — images, an image group and a video — and reads storage
//! items, child items and signed media, all over real HTTP on loopback.

#[path = "support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::process::Command;

use support::*;

const PINS: [&str; 2] = ["encord==0.1.211", "encord-agents==0.2.10"];

/// A venv with the pinned SDK, made once and reused while the pins match.
fn python() -> PathBuf {
    let venv = workspace().join("target").join("python-sdk-venv");
    let marker = venv.join("pins.txt");
    let py = venv.join("bin").join("python");
    if std::fs::read_to_string(&marker).ok().as_deref() == Some(&PINS.join("\n")) && py.exists() {
        return py;
    }
    let _ = std::fs::remove_dir_all(&venv);
    let out = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "python3 -m venv failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(&py)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(PINS)
        .output()
        .expect("pip runs");
    assert!(
        out.status.success(),
        "pip install failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&marker, PINS.join("\n")).unwrap();
    py
}

#[test]
fn an_encord_agents_runner_works_against_the_emulator() {
    let py = python();
    let (dir, store, hash) = demo_store();
    let (key, public) = keypair(dir.path(), "id_ed25519");
    add_key(&store, &public);
    let emulator = Emulator::start(&store, &[]);

    let out = Command::new(&py)
        .arg(workspace().join("tests/python/prelabel_agent.py"))
        .env("ENCORD_DOMAIN", &emulator.url)
        .env("ENCORD_SSH_KEY_FILE", &key)
        .env("PROJECT_HASH", &hash)
        .env_remove("ENCORD_SSH_KEY")
        .output()
        .expect("the agent runs");
    assert!(
        out.status.success(),
        "the encord-agents Runner failed:\n{}\n{}\nemulator log:\n{}",
        stdout(&out),
        stderr(&out),
        emulator.log()
    );
    drop(emulator);

    // Every task went pre-label → triage → Complete through the SDK; one was
    // then reopened (back to pre-label) and moved straight to triage.
    let s = status(&store, &hash);
    let counts = (
        count(&s, "pre-label"),
        count(&s, "triage"),
        count(&s, "Complete"),
    );
    assert_eq!(counts, (0, 1, 23));
    assert_eq!(summary_moved(&out), 1);
    assert_eq!(
        exported(&export(&store, &hash), "park-01.png")["stage"],
        "triage"
    );

    // Each label row holds the SDK's Vehicle box on frame 0, and its priority.
    let rows = export(&store, &hash);
    for title in ["street-01.png", "group-01", "walk-01.y4m"] {
        let e = exported(&rows, title);
        assert_eq!(e["priority"], 0.25, "{title}");
        let row = &e["label_row"];
        let objects: Vec<&serde_json::Value> = row["data_units"]
            .as_object()
            .unwrap()
            .values()
            .filter_map(|u| match row["data_type"].as_str() {
                Some("video") => u["labels"]["0"]["objects"].as_array(),
                Some("img_group") if u["data_sequence"] == "0" => u["labels"]["objects"].as_array(),
                Some("image") => u["labels"]["objects"].as_array(),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(objects.len(), 1, "{title}: {row}");
        assert_eq!(objects[0]["featureHash"], "objVehicle");
        assert_eq!(objects[0]["boundingBox"]["w"], 0.5);
    }

    // The triage stage read every item's media through signed URLs and wrote
    // its client metadata back; the SDK read it again.
    let summary: serde_json::Value =
        serde_json::from_str(stdout(&out).lines().last().unwrap()).expect("summary line");
    assert_eq!(summary["downloads"].as_object().unwrap().len(), 24);
    let png = std::fs::metadata(store.join("media").join(&hash).join("street-01.png"))
        .unwrap()
        .len();
    assert_eq!(summary["downloads"]["street-01.png"], png);
    assert_eq!(summary["metadata"]["group-01"]["frames"], 3);
    assert_eq!(
        summary["metadata"]["walk-01.y4m"]["bytes"],
        summary["downloads"]["walk-01.y4m"]
    );
}

fn summary_moved(out: &std::process::Output) -> u64 {
    let last = stdout(out).lines().last().unwrap_or_default().to_string();
    let v: serde_json::Value = serde_json::from_str(&last).expect("summary line");
    v["moved"].as_u64().expect("moved count")
}
