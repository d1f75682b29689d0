//! Data dependencies end to end: a real component (tests/guests/media) reads
//! the storage item, the asset (bytes and sandbox file), frame 0, every
//! frame, a 0.5 sample and picked frames of a real H.264 video made by
//! ffmpeg, and the host's answers are checked against ffprobe, ffmpeg's own
//! decode and each other; on the store and through the emulator.

use crate::support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::*;

const FRAMES: u32 = 200;

/// A 160x120, 25 fps, 200-frame H.264 clip with B-frames and a keyframe
/// every 50 frames (so picking frame 120 must seek and decode forward).
fn make_clip(dir: &Path) -> PathBuf {
    let clip = dir.join("clip.mp4");
    let out = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=160x120:rate=25",
        ])
        .args(["-frames:v", &FRAMES.to_string(), "-pix_fmt", "yuv420p"])
        .args(["-c:v", "libx264", "-g", "50", "-bf", "2"])
        .arg(&clip)
        .output()
        .expect("ffmpeg runs (scripts/setup.sh installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    clip
}

/// ffprobe's decoded frame count.
fn ffprobe_frames(file: &Path) -> u32 {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args(["-show_entries", "stream=nb_read_frames", "-of", "csv=p=0"])
        .arg(file)
        .output()
        .expect("ffprobe runs");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("a frame count")
}

/// FNV-1a, as the guest computes it.
fn fnv(rgb: &[u8]) -> String {
    let h = rgb.iter().fold(0xcbf29ce484222325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    });
    format!("{h:016x}")
}

/// Frame 0 as ffmpeg alone decodes it to RGB.
fn ffmpeg_frame0(file: &Path) -> Vec<u8> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(file)
        .args(["-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .expect("ffmpeg runs");
    out.stdout
}

/// Frame 0 as the host's decoder gives it, outside any guest.
fn host_frame0(file: &Path) -> Vec<u8> {
    let frames = ::runner_host::media::Frames::Video(file.to_path_buf());
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(frames.first()).expect("frame 0").rgb
}

/// What the guest logged for one data title: kind → lines after the kind.
struct Seen {
    lines: Vec<(String, String)>,
}

impl Seen {
    fn of(stderr: &str, title: &str) -> Seen {
        let task = stderr
            .lines()
            .find(|l| l.contains(&format!("agent: item {title} ")))
            .and_then(|l| l.split("task=\"").nth(1))
            .and_then(|t| t.split('"').next())
            .unwrap_or_else(|| panic!("the guest saw no `{title}`:\n{stderr}"))
            .to_string();
        let lines = stderr
            .lines()
            .filter(|l| l.contains(&format!("task=\"{task}\"")))
            .filter_map(|l| {
                let msg = l.split("agent: ").nth(1)?;
                let msg = msg.split(" task=\"").next()?;
                let (kind, rest) = msg.split_once(' ').unwrap_or((msg, ""));
                Some((kind.to_string(), rest.to_string()))
            })
            .collect();
        Seen { lines }
    }

    fn one(&self, kind: &str) -> &str {
        &self
            .lines
            .iter()
            .find(|(k, _)| k == kind)
            .unwrap_or_else(|| panic!("no `{kind}` line"))
            .1
    }

    fn all(&self, kind: &str) -> Vec<&str> {
        self.lines
            .iter()
            .filter(|(k, _)| k == kind)
            .map(|(_, r)| r.as_str())
            .collect()
    }

    /// `index hash` lines of one kind, in order.
    fn frames(&self, kind: &str) -> Vec<(u32, String)> {
        self.all(kind)
            .iter()
            .map(|r| {
                let (i, h) = r.split_once(' ').expect("index and hash");
                (i.parse().expect("an index"), h.to_string())
            })
            .collect()
    }
}

/// Checks everything the guest saw of the clip.
fn check_clip(seen: &Seen, clip: &Path) {
    assert_eq!(seen.one("item"), format!("clip.mp4 video {FRAMES}"));
    let iter = seen.frames("iter");
    assert_eq!(
        iter.len() as u32,
        ffprobe_frames(clip),
        "iterator vs ffprobe"
    );
    let indices: Vec<u32> = iter.iter().map(|(i, _)| *i).collect();
    assert_eq!(
        indices,
        (0..FRAMES).collect::<Vec<_>>(),
        "sequential indices"
    );
    let by_index: BTreeMap<u32, &str> = iter.iter().map(|(i, h)| (*i, h.as_str())).collect();

    // Frame 0: single-frame extractor == iterator == the host's decode,
    // which is ffmpeg's own RGB but for rounding (the clip's 4:2:0 planes
    // are converted in the host; see media::yuv).
    let first = seen.frames("first");
    assert_eq!(first, vec![(0, by_index[&0].to_string())]);
    let host = host_frame0(clip);
    assert_eq!(by_index[&0], fnv(&host));
    let ffmpeg = ffmpeg_frame0(clip);
    assert_eq!(host.len(), ffmpeg.len());
    let off = host.iter().zip(&ffmpeg).map(|(a, b)| a.abs_diff(*b));
    assert!(off.max() <= Some(4), "frame 0 is not ffmpeg's RGB");

    // Rate 0.5: half the frames, each identical to the iterator's.
    let rate = seen.frames("rate");
    assert_eq!(rate.len() as u32, FRAMES / 2);
    for (k, (i, h)) in rate.iter().enumerate() {
        assert_eq!(*i, 2 * k as u32);
        assert_eq!(
            h, by_index[i],
            "sampled frame {i} differs from the iterator's"
        );
    }

    // Picked frames (sorted, repeats dropped), found by seeking.
    let pick = seen.frames("pick");
    assert_eq!(
        pick.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
        vec![3, 120, 121, 199]
    );
    for (i, h) in &pick {
        assert_eq!(
            h, by_index[i],
            "picked frame {i} differs from the iterator's"
        );
    }

    for bad in seen.all("bad-rate") {
        assert!(bad.contains("is outside (0, 1]"), "{bad}");
    }
    assert_eq!(seen.all("bad-rate").len(), 2);
    assert!(seen.one("past-end:").contains("past the end of the video"));

    // The asset: a file of its own under /asset, the same bytes, read-only.
    let size = std::fs::metadata(clip).unwrap().len();
    let path = seen.one("asset-path");
    assert!(
        path.starts_with("/asset/") && path.ends_with(&format!(".mp4 {size}")),
        "{path}"
    );
    assert_eq!(seen.one("asset-bytes"), format!("{size} true"));
    assert_ne!(seen.one("asset-write:"), "allowed");
}

/// The client metadata stored for the item named `name`.
fn client_metadata(store: &Path, name: &str) -> serde_json::Value {
    let conn = rusqlite::Connection::open(store.join("store.sqlite")).unwrap();
    let text: String = conn
        .query_row(
            "SELECT client_metadata FROM storage_items WHERE name = ?1",
            [name],
            |r| r.get(0),
        )
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn add_clip(store: &Path, hash: &str, clip: &Path) {
    let out = runner_host(&[
        "local",
        "add-data",
        "--store",
        store.to_str().unwrap(),
        "--project-hash",
        hash,
        "--file",
        clip.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn frames_assets_and_items_on_the_store() {
    let (dir, store, hash) = demo_store();
    let clip = make_clip(dir.path());
    add_clip(&store, &hash, &clip);
    let report = dir.path().join("report.jsonl");
    let out = run_agent(
        &guest("guest-media"),
        &store,
        &hash,
        &["--num-retries", "0", "--report", report.to_str().unwrap()],
    );
    let err = stderr(&out);
    check_clip(&Seen::of(&err, "clip.mp4"), &clip);

    // The demo's short YUV4MPEG2 video: every frame, as ffprobe counts them.
    let walk = Seen::of(&err, "walk-01.y4m");
    let walk_file = std::fs::read_dir(store.join("media").join(&hash))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "y4m"))
        .unwrap();
    assert_eq!(walk.frames("iter").len() as u32, ffprobe_frames(&walk_file));
    // An image: one frame, the same from every path.
    let img = Seen::of(&err, "street-01.png");
    assert_eq!(img.frames("iter").len(), 1);
    assert_eq!(img.frames("iter"), img.frames("first"));

    // Client metadata is written after the handler succeeded.
    assert_eq!(
        client_metadata(&store, "clip.mp4"),
        serde_json::json!({"probed": true, "frames": FRAMES})
    );
    // The image group has no single asset file: that task, and only it, fails.
    assert_eq!(out.status.code(), Some(3), "{err}");
    let records = read_report(&report);
    let failed: Vec<&serde_json::Value> =
        records.iter().filter(|r| r["result"] == "failed").collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["data_title"], "group-01");
    assert!(failed[0]["error"]
        .as_str()
        .unwrap()
        .contains("image group and has no single file"));
    let stayed: Vec<&serde_json::Value> =
        records.iter().filter(|r| r["result"] == "stayed").collect();
    assert_eq!(stayed.len(), 24, "every other task ran to the end");
    assert!(stayed.iter().all(|r| r["client_metadata_saved"] == true));
}

#[test]
fn over_http_media_is_downloaded_once_and_decoded_the_same() {
    let (dir, store, hash) = demo_store();
    let clip = make_clip(dir.path());
    add_clip(&store, &hash, &clip);
    let (key, public) = keypair(dir.path(), "id_ed25519");
    add_key(&store, &public);
    let emulator = Emulator::start(&store, &[]);
    let cache = dir.path().join("cache");
    let wasm = guest("guest-media");
    let run = |extra: &[&str]| {
        let mut args = vec!["--num-retries", "0", "--cache-dir", cache.to_str().unwrap()];
        args.extend_from_slice(extra);
        run_over_http(&wasm, &emulator, &key, &hash, &args)
    };
    let first = run(&[]);
    check_clip(&Seen::of(&stderr(&first), "clip.mp4"), &clip);
    let downloads = emulator.requests("/media/");
    // 22 images, 3 group children, 2 videos: each fetched once.
    assert_eq!(downloads, 27, "{}", emulator.log());
    assert_eq!(
        client_metadata(&store, "clip.mp4"),
        serde_json::json!({"probed": true, "frames": FRAMES})
    );
    // A second run finds every file in the cache. With instance reuse
    // asked for, too: a task reading its asset as a file still gets an
    // instance with its own asset mounted.
    let second = run(&["--reuse-instance", "4"]);
    let failed: Vec<String> = stdout(&second)
        .lines()
        .filter(|l| l.starts_with("failed:"))
        .map(String::from)
        .collect();
    assert!(
        failed.iter().all(|l| l.contains("(group-01)")),
        "only the image group fails: {failed:?}"
    );
    check_clip(&Seen::of(&stderr(&second), "clip.mp4"), &clip);
    assert_eq!(
        emulator.requests("/media/"),
        downloads,
        "media downloaded again"
    );

    // A cache bounded to nothing keeps only what the batches in flight use
    // (this one and the next, loading meanwhile), never the whole project.
    let small = dir.path().join("small-cache");
    let third = run_over_http(
        &wasm,
        &emulator,
        &key,
        &hash,
        &[
            "--num-retries",
            "0",
            "--task-batch-size",
            "5",
            "--cache-dir",
            small.to_str().unwrap(),
            "--media-cache-mib",
            "0",
        ],
    );
    check_clip(&Seen::of(&stderr(&third), "clip.mp4"), &clip);
    assert_eq!(emulator.requests("/media/"), 2 * downloads);
    let kept = std::fs::read_dir(small.join("media")).unwrap().count();
    assert!((1..=12).contains(&kept), "{kept} files kept of {downloads}");
}

fn vehicle_boxes(row: &serde_json::Value) -> Vec<serde_json::Value> {
    row["label_row"]["data_units"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|u| {
            u["labels"]["objects"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|o| o["name"] == "Vehicle")
        .map(|o| o["boundingBox"].clone())
        .collect()
}

#[test]
fn video_events_classifies_the_demo_videos_brightness_change() {
    let (dir, store, hash) = demo_store();
    let served = dir.path().join("served");
    copy_store(&store, &served);
    let out = run_agent(&guest("video-events"), &store, &hash, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // Over HTTP the same labels, with the storage items found through the
    // label rows' metadata (read once), and one bulk item read per batch.
    let (key, public) = keypair(dir.path(), "id_ed25519");
    add_key(&served, &public);
    let emulator = Emulator::start(&served, &[]);
    let out = run_over_http(
        &guest("video-events"),
        &emulator,
        &key,
        &hash,
        &["--no-cache"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        emulator.legacy_calls("labelrowmetadata/GET"),
        1,
        "{}",
        emulator.log()
    );
    assert_eq!(emulator.requests("/storage/items/get-bulk"), 1);
    drop(emulator);
    assert_eq!(
        comparable(export(&served, &hash)),
        comparable(export(&store, &hash))
    );

    assert_eq!(count(&status(&store, &hash), "triage"), 24);
    let rows = export(&store, &hash);
    let walk = exported(&rows, "walk-01.y4m");
    let answers = walk["label_row"]["classification_answers"]
        .as_object()
        .unwrap();
    assert_eq!(answers.len(), 1, "{walk}");
    let event = answers.values().next().unwrap();
    assert_eq!(event["featureHash"], "clsEvent");
    // Videos keep a classification's frames as ranges.
    assert_eq!(
        event["range"],
        serde_json::json!([[5, 6]]),
        "the cut is between frames 5 and 6"
    );
    assert_eq!(walk["priority"], 0.9);
    // Still images have no brightness change.
    assert!(
        exported(&rows, "street-01.png")["label_row"]["classification_answers"]
            .as_object()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn twin_review_copies_the_ground_truth_on_the_store_and_over_http() {
    let (dir, direct, hash) = demo_store();
    let served = dir.path().join("served");
    copy_store(&direct, &served);
    let twin = ground_truth_hash(&direct);
    let wasm = guest("twin-review");

    // Without the variable the agent cannot name its twin: a clear error,
    // nothing written.
    let before = snapshot(&direct);
    let out = run_agent(&wasm, &direct, &hash, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("GROUND_TRUTH_PROJECT"),
        "{}",
        stderr(&out)
    );
    assert_eq!(snapshot(&direct), before);

    let args = [
        "--component",
        wasm.to_str().unwrap(),
        "--project-hash",
        &hash,
        "--env",
        "GROUND_TRUTH_PROJECT",
    ];
    let mut on_store = args.to_vec();
    on_store.extend(["--store", direct.to_str().unwrap()]);
    let out = runner_host_env(&on_store, &[("GROUND_TRUTH_PROJECT", &twin)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = export(&direct, &hash);
    for n in 1..=4 {
        let row = exported(&rows, &format!("street-0{n}.png"));
        let boxes = vehicle_boxes(row);
        assert_eq!(boxes.len(), 1, "{row}");
        assert_eq!(boxes[0]["x"], 0.2);
        assert_eq!(boxes[0]["w"], 0.55);
        assert_eq!(row["priority"], 0.9);
    }
    assert!(vehicle_boxes(exported(&rows, "street-05.png")).is_empty());
    assert_eq!(exported(&rows, "street-05.png")["priority"], 0.5);
    // No twin for the video or the image group.
    assert_eq!(exported(&rows, "walk-01.y4m")["priority"], 0.1);
    assert_eq!(exported(&rows, "group-01")["priority"], 0.1);
    assert!(
        stderr(&out).contains("twin task COMPLETED"),
        "{}",
        stderr(&out)
    );

    // The same through the emulator: twin rows and tasks over HTTP.
    let (key, public) = keypair(dir.path(), "id_ed25519");
    add_key(&served, &public);
    let emulator = Emulator::start(&served, &[]);
    let mut over_http = args.to_vec();
    over_http.extend([
        "--domain",
        &emulator.url,
        "--ssh-key-file",
        key.to_str().unwrap(),
    ]);
    let out = runner_host_env(&over_http, &[("GROUND_TRUTH_PROJECT", &twin)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // One batch: the project's label-row metadata once, the twin's once
    // (its rows are fetched from that same metadata).
    assert_eq!(
        emulator.legacy_calls("labelrowmetadata/GET"),
        2,
        "{}",
        emulator.log()
    );
    assert!(
        stderr(&out).contains("twin task COMPLETED"),
        "{}",
        stderr(&out)
    );
    drop(emulator);
    assert_eq!(status(&served, &hash), status(&direct, &hash));
    assert_eq!(
        comparable(export(&served, &hash)),
        comparable(export(&direct, &hash))
    );
}

/// The `Verdict` a twin row carries, if any.
fn verdict(row: &serde_json::Value) -> Option<String> {
    let answers = row["label_row"]["classification_answers"].as_object()?;
    answers
        .values()
        .find(|a| a["featureHash"] == "clsVerdict")
        .map(|a| {
            a["classifications"][0]["answers"][0]["name"]
                .as_str()
                .unwrap()
                .to_string()
        })
}

/// What the twin-writing guest leaves in the twin project: a verdict on
/// every image with a twin but the three blurry ones (whose save was
/// refused), the ground truth's Vehicle boxes kept.
fn assert_twin_verdicts(store: &Path, twin: &str) {
    let rows = export(store, twin);
    assert_eq!(rows.len(), 22, "the twin has the 22 images");
    for r in &rows {
        let title = r["label_row"]["data_title"].as_str().unwrap();
        let expected = if title.contains("blurry") {
            None
        } else if title.starts_with("street") {
            Some("Approved".to_string())
        } else {
            Some("Rejected".to_string())
        };
        assert_eq!(verdict(r), expected, "{title}: {r}");
    }
    for n in 1..=4 {
        let boxes = vehicle_boxes(exported(&rows, &format!("street-0{n}.png")));
        assert_eq!(boxes.len(), 1, "the ground truth's box is kept");
    }
}

/// Saving a twin's label row (encord-agents' `twin.label_row.save()`)
/// writes it to the twin project, checked against the twin's own ontology
/// (its `Verdict` is not in this project's); a row the twin's ontology
/// refuses fails its task, which does not move; a dry run writes nothing
/// and reports every twin save; over HTTP the end state is the same; a
/// twin save the server refuses fails its task, which stays in its stage.
#[test]
fn twin_saves_land_in_the_twin_checked_against_its_ontology_before_any_move() {
    let (dir, direct, hash) = demo_store();
    let served = dir.path().join("served");
    copy_store(&direct, &served);
    let refused = dir.path().join("refused");
    copy_store(&direct, &refused);
    let twin = ground_truth_hash(&direct);
    let wasm = guest("guest-twin-write");
    let env = [("GROUND_TRUTH_PROJECT", twin.as_str())];
    let report = dir.path().join("report.jsonl");
    let grant = ["--env", "GROUND_TRUTH_PROJECT", "--report"];

    // A dry run: nothing written, every twin save reported.
    let state = |store: &Path| {
        (
            status(store, &hash),
            export(store, &hash),
            export(store, &twin),
        )
    };
    let before = state(&direct);
    let mut dry = grant.to_vec();
    dry.extend([report.to_str().unwrap(), "--dry-run"]);
    let out = run_agent_env(&wasm, &direct, &hash, &dry, &env);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let saved = read_report(&report)
        .iter()
        .filter(|r| r["twin_labels_saved"] == serde_json::json!([twin]))
        .count();
    assert_eq!(saved, 19, "19 images have a twin and no blur");
    assert!(state(&direct) == before, "a dry run writes nothing");

    let mut real = grant.to_vec();
    real.push(report.to_str().unwrap());
    let out = run_agent_env(&wasm, &direct, &hash, &real, &env);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let summary = stdout(&out);
    let line = failure_line(&summary, "street-blurry-01.png");
    assert!(
        line.contains("the label row saved to twin project `Demo ground truth` was refused")
            && line.contains("`clsQuality` is not a classification of the ontology"),
        "{line}"
    );
    let st = status(&direct, &hash);
    assert_eq!((count(&st, "pre-label"), count(&st, "triage")), (3, 21));
    assert_twin_verdicts(&direct, &twin);
    for r in read_report(&report) {
        let title = r["data_title"].as_str().unwrap();
        let has_twin = !title.starts_with("walk") && !title.starts_with("group");
        let expected = if has_twin && !title.contains("blurry") {
            serde_json::json!([twin])
        } else {
            serde_json::json!([])
        };
        assert_eq!(r["twin_labels_saved"], expected, "{r}");
    }

    // Over HTTP: the same end state, in both projects.
    let (key, public) = keypair(dir.path(), "id_ed25519");
    for store in [&served, &refused] {
        add_key(store, &public);
    }
    let emulator = Emulator::start(&served, &[]);
    let over_http = |emulator: &Emulator| {
        let mut args = vec![
            "--component",
            wasm.to_str().unwrap(),
            "--project-hash",
            &hash,
        ];
        args.extend([
            "--domain",
            &emulator.url,
            "--ssh-key-file",
            key.to_str().unwrap(),
        ]);
        args.extend(["--env", "GROUND_TRUTH_PROJECT"]);
        runner_host_env(&args, &env)
    };
    let out = over_http(&emulator);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    drop(emulator);
    assert_eq!(status(&served, &hash), status(&direct, &hash));
    assert_twin_verdicts(&served, &twin);
    assert_eq!(
        comparable(export(&served, &twin)),
        comparable(export(&direct, &twin))
    );

    // Every label save refused: no verdict lands, and no task with a twin
    // moves; the video and the image group, with none, do.
    let emulator = Emulator::start(
        &refused,
        &[
            "--fault-rate",
            "1",
            "--faults",
            "400",
            "--fault-endpoint",
            "labelrow/POST",
        ],
    );
    let out = over_http(&emulator);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let line = failure_line(&stdout(&out), "street-01.png");
    assert!(
        line.contains(&format!(
            "saving its label row in twin project `{twin}` failed"
        )),
        "{line}"
    );
    drop(emulator);
    let st = status(&refused, &hash);
    assert_eq!((count(&st, "pre-label"), count(&st, "triage")), (22, 2));
    assert!(export(&refused, &twin).iter().all(|r| verdict(r).is_none()));
}
