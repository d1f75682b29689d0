//! Agents that call a hosted model's API. The machine has no internet, so
//! a stand-in on loopback speaks OpenAI's chat-completions shapes and
//! checks what it receives (the key, the image, the schema); it answers
//! from the image's pixels, so a label that lands proves the image
//! arrived intact.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use base64::Engine;

use crate::support::{
    agent_component, count, demo_at, export, exported, read_report, run_agent_env, status, stderr,
    stdout,
};

const KEY: &str = "sk-test-7c1f9e";

/// One request as the stand-in received it.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    /// `authorization` (OpenAI) or `x-api-key` (Anthropic).
    authorization: String,
    body: serde_json::Value,
}

/// What the stand-in answers for a request: a status and a body.
fn answer(received: &Received, seen_before: bool) -> (u16, String) {
    if received.path == "/v1/messages" {
        return caption(received);
    }
    let user = &received.body["messages"][1]["content"];
    let title = user[0]["text"].as_str().unwrap_or_default().to_string();
    if title == "street-02.png" && !seen_before {
        return (429, r#"{"error": {"message": "rate limited"}}"#.into());
    }
    let content = if title == "park-01.png" {
        "Sure! The image shows a park.".to_string()
    } else {
        let url = user[1]["image_url"]["url"].as_str().unwrap_or_default();
        let png = base64::engine::general_purpose::STANDARD
            .decode(
                url.strip_prefix("data:image/png;base64,")
                    .unwrap_or_default(),
            )
            .unwrap_or_default();
        // The demo's blurry images are smooth gradients; the others have
        // sharp checker edges.
        let quality = match decode_png(&png) {
            Some((w, _, px)) => {
                let sharp = px
                    .chunks(3)
                    .zip(px.chunks(3).skip(1))
                    .enumerate()
                    .filter(|(i, _)| (i + 1) % w as usize != 0)
                    .any(|(_, (a, b))| (a[0] as i32 - b[0] as i32).abs() > 40);
                if sharp {
                    "Good"
                } else {
                    "Blurry"
                }
            }
            None => "no image",
        };
        serde_json::json!({"Quality": quality, "Scene": ["Outdoor"]}).to_string()
    };
    let body =
        serde_json::json!({"choices": [{"message": {"role": "assistant", "content": content}}]});
    (200, body.to_string())
}

/// An Anthropic-style answer: a caption naming the image's size and its
/// top-left pixel, read from the image part.
fn caption(received: &Received) -> (u16, String) {
    let part = &received.body["messages"][0]["content"][0];
    let ok = part["type"] == "image" && part["source"]["media_type"] == "image/png";
    let png = base64::engine::general_purpose::STANDARD
        .decode(part["source"]["data"].as_str().unwrap_or_default())
        .unwrap_or_default();
    let text = match decode_png(&png) {
        Some((w, h, px)) if ok => format!("A {w}x{h} image, top-left pixel {:?}.", &px[..3]),
        _ => "no image".to_string(),
    };
    let body = serde_json::json!({"type": "message", "role": "assistant", "content": [{"type": "text", "text": text}]});
    (200, body.to_string())
}

fn decode_png(bytes: &[u8]) -> Option<(u32, u32, Vec<u8>)> {
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .ok()?;
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).ok()?;
    buf.truncate(info.buffer_size());
    Some((info.width, info.height, buf))
}

/// The stand-in: HTTP/1.1 with keep-alive, one thread per connection.
fn stand_in() -> (u16, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Arc<Mutex<Vec<Received>>> = Arc::default();
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let log = log.clone();
            std::thread::spawn(move || {
                let mut out = stream.try_clone().unwrap();
                let mut reader = BufReader::new(stream);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let path = line
                        .split_whitespace()
                        .nth(1)
                        .unwrap_or_default()
                        .to_string();
                    let (mut length, mut authorization) = (0usize, String::new());
                    loop {
                        let mut h = String::new();
                        reader.read_line(&mut h).unwrap();
                        let h = h.trim_end();
                        if h.is_empty() {
                            break;
                        }
                        let (name, value) = h.split_once(':').unwrap_or((h, ""));
                        match name.to_ascii_lowercase().as_str() {
                            "content-length" => length = value.trim().parse().unwrap_or(0),
                            "authorization" | "x-api-key" => {
                                authorization = value.trim().to_string()
                            }
                            _ => {}
                        }
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    let received = Received {
                        path,
                        authorization,
                        body: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
                    };
                    let (code, reply) = {
                        let mut seen = log.lock().unwrap();
                        let title = &received.body["messages"][1]["content"][0]["text"];
                        let before = seen
                            .iter()
                            .any(|r| &r.body["messages"][1]["content"][0]["text"] == title);
                        seen.push(received.clone());
                        answer(&received, before)
                    };
                    let reason = if code == 200 {
                        "OK"
                    } else {
                        "Too Many Requests"
                    };
                    let head = format!(
                        "HTTP/1.1 {code} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                        reply.len()
                    );
                    if out
                        .write_all(head.as_bytes())
                        .and_then(|_| out.write_all(reply.as_bytes()))
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (port, seen)
}

/// Runs an example agent over `store` with an API's key and endpoint granted
/// as `{prefix}_API_KEY` and `{prefix}_BASE_URL` (`--env`), `--allow-net
/// allow`, and `extra`.
fn run_with_api(
    example: &str,
    store: &std::path::Path,
    hash: &str,
    (prefix, base): (&str, &str),
    allow: &str,
    extra: &[&str],
) -> std::process::Output {
    let (key_var, base_var) = (format!("{prefix}_API_KEY"), format!("{prefix}_BASE_URL"));
    let mut args = vec![
        "--env",
        &key_var,
        "--env",
        &base_var,
        "--allow-net",
        allow,
        "--stage",
        "pre-label",
    ];
    args.extend_from_slice(extra);
    run_agent_env(
        &agent_component(example),
        store,
        hash,
        &args,
        &[(key_var.as_str(), KEY), (base_var.as_str(), base)],
    )
}

/// The answers of the classification `name` in an exported row: option
/// names for a radio or checklist, the text for a text question.
fn answers_of(row: &serde_json::Value, name: &str) -> Option<serde_json::Value> {
    let answers = row["label_row"]["classification_answers"].as_object()?;
    answers.values().find_map(|a| {
        let c = &a["classifications"][0];
        (c["name"] == name).then(|| match &c["answers"] {
            serde_json::Value::Array(options) => {
                options.iter().map(|o| o["name"].clone()).collect()
            }
            text => text.clone(),
        })
    })
}

fn quality(row: &serde_json::Value) -> Option<String> {
    answers_of(row, "Quality")?[0].as_str().map(str::to_string)
}

#[test]
fn a_python_agent_classifies_through_a_chat_completions_api() {
    let (port, seen) = stand_in();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let hash = demo_at(&store, &["--images-only"]);
    let report = dir.path().join("report.jsonl");
    let base = format!("http://127.0.0.1:{port}/v1");
    let allow = format!("127.0.0.1:{port}");
    let out = run_with_api(
        "examples/python/classify_with_llm.py",
        &store,
        &hash,
        ("OPENAI", &base),
        &allow,
        &[
            "--num-retries",
            "1",
            "--retry-delay-ms",
            "10",
            "--report",
            report.to_str().unwrap(),
        ],
    );
    // park-01's answer is not JSON, twice: that task fails; the others land.
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let records = read_report(&report);
    let park = records
        .iter()
        .find(|r| r["data_title"] == "park-01.png")
        .unwrap();
    assert_eq!(park["result"], "failed", "{park}");
    assert!(
        park["error"]
            .as_str()
            .unwrap()
            .contains("the model's answer is not JSON"),
        "{park}"
    );
    // street-02's first answer was a 429: the retry landed it.
    let street = records
        .iter()
        .find(|r| r["data_title"] == "street-02.png")
        .unwrap();
    assert_eq!(
        (street["result"].as_str(), street["attempts"].as_u64()),
        (Some("moved"), Some(2)),
        "{street}"
    );
    assert_eq!(count(&status(&store, &hash), "triage"), 21);
    // The answers the stand-in read off the pixels are the labels.
    let rows = export(&store, &hash);
    for (title, want) in [
        ("street-01.png", "Good"),
        ("street-02.png", "Good"),
        ("street-blurry-01.png", "Blurry"),
        ("portrait-blurry-01.png", "Blurry"),
        ("portrait-03.png", "Good"),
    ] {
        assert_eq!(
            quality(exported(&rows, title)).as_deref(),
            Some(want),
            "{title}"
        );
    }
    // What the API received: the granted key, a PNG of the image's size,
    // the ontology's schema.
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen.len(),
        22 + 1 + 1,
        "one request per image, plus two retries"
    );
    for r in seen.iter() {
        assert_eq!(r.path, "/v1/chat/completions");
        assert_eq!(r.authorization, format!("Bearer {KEY}"));
        let url = r.body["messages"][1]["content"][1]["image_url"]["url"]
            .as_str()
            .unwrap();
        let png = base64::engine::general_purpose::STANDARD
            .decode(url.strip_prefix("data:image/png;base64,").unwrap())
            .unwrap();
        let (w, h, _) = decode_png(&png).expect("a PNG");
        assert_eq!((w, h), (64, 48));
        let schema = &r.body["response_format"]["json_schema"];
        assert_eq!(schema["strict"], true);
        assert_eq!(
            schema["schema"]["required"],
            serde_json::json!(["Quality", "Scene"])
        );
        assert_eq!(
            schema["schema"]["properties"]["Quality"]["enum"],
            serde_json::json!(["Good", "Blurry"])
        );
    }
    // The key never reaches the logs or the report.
    let text = format!(
        "{}{}{}",
        stdout(&out),
        stderr(&out),
        std::fs::read_to_string(&report).unwrap()
    );
    assert!(!text.contains(KEY), "the API key leaked");
}

#[test]
fn a_python_agents_request_to_an_ungranted_host_is_denied() {
    let (port, seen) = stand_in();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let hash = demo_at(&store, &["--images-only"]);
    let base = format!("http://127.0.0.1:{port}/v1");
    let out = run_with_api(
        "examples/python/classify_with_llm.py",
        &store,
        &hash,
        ("OPENAI", &base),
        "127.0.0.1:9",
        &["--num-retries", "0", "--max-tasks-per-stage", "2"],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "HTTP request to `127.0.0.1:{port}` denied: the host is not granted (runner-host --allow-net HOST[:PORT])"
        )),
        "{text}"
    );
    assert!(
        seen.lock().unwrap().is_empty(),
        "nothing reached the stand-in"
    );
    assert_eq!(count(&status(&store, &hash), "pre-label"), 22);
}

#[test]
fn a_javascript_agent_captions_through_a_messages_api() {
    let (port, seen) = stand_in();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let hash = demo_at(&store, &["--images-only"]);
    let base = format!("http://127.0.0.1:{port}");
    let allow = format!("127.0.0.1:{port}");
    let out = run_with_api(
        "examples/js/caption_with_llm.js",
        &store,
        &hash,
        ("ANTHROPIC", &base),
        &allow,
        &[],
    );
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(count(&status(&store, &hash), "triage"), 22);
    // The caption the stand-in read off each image is its Caption; the
    // demo's street-01 (seed 0) starts with a checker square of (0, 0, 40).
    let rows = export(&store, &hash);
    let caption = |title: &str| -> String {
        answers_of(exported(&rows, title), "Caption")
            .and_then(|c| c.as_str().map(str::to_string))
            .unwrap_or_else(|| panic!("{title} has no caption"))
    };
    assert_eq!(
        caption("street-01.png"),
        "A 64x48 image, top-left pixel [0, 0, 40]."
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 22);
    assert!(seen
        .iter()
        .all(|r| r.path == "/v1/messages" && r.authorization == KEY));
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!text.contains(KEY), "the API key leaked");
}

/// The Python SDK's `OntologyDataModel` natively (it is plain Python): the
/// demo ontology's classifications and objects as schemas, and answers
/// back, refused where they do not fit.
#[test]
fn the_python_ontology_data_model_round_trips_classifications_and_objects() {
    let script = r#"
import json, sys
from encord_agent_sdk import OntologyDataModel
from encord_agent_sdk.labels import Classification, LabelError, Object, OntologyStructure

o = OntologyStructure(json.load(open(sys.argv[1])))
c = OntologyDataModel([o.get_child_by_title(t, type_=Classification) for t in ("Quality", "Scene", "Caption")])
s = c.model_json_schema
assert s["required"] == ["Quality", "Scene", "Caption"] and s["additionalProperties"] is False, s
assert s["properties"]["Scene"]["items"]["enum"] == ["Indoor", "Outdoor", "Night"], s
assert json.loads(c.model_json_schema_str) == s
got = c('{"Quality": "Blurry", "Scene": ["Night", "Outdoor"], "Caption": "a dark street"}')
quality, scene, caption = (i.get_answer() for i in got)
assert quality.label == "Blurry", quality
assert sorted(a.label for a in scene) == ["Night", "Outdoor"], scene
assert caption == "a dark street", caption

m = OntologyDataModel([o.get_child_by_title("Person", type_=Object), o.get_child_by_title("Vehicle", type_=Object)])
person = m.model_json_schema["anyOf"][0]
assert person["properties"]["object"]["const"] == "Person" and person["required"] == ["object", "Pose"], person
ins = m('{"object": "Person", "Pose": "Sitting"}')
assert ins.ontology_item.title == "Person"
for bad, says in [
    ('{"object": "Dog"}', "not one of Person, Vehicle"),
    ('{"object": "Person"}', "lacks `Pose`"),
    ('{"Quality": "Good"}', "not one of"),
]:
    try:
        m(bad)
    except LabelError as e:
        assert says in str(e), (bad, str(e))
    else:
        raise AssertionError(f"{bad} was accepted")
for bad, says in [('{"Quality": "Meh", "Scene": [], "Caption": ""}', "not one of Good, Blurry"), ("nope", "not JSON")]:
    try:
        c(bad)
    except LabelError as e:
        assert says in str(e), (bad, str(e))
    else:
        raise AssertionError(f"{bad} was accepted")
print("ok")
"#;
    python_says_ok(script, "examples/demo-ontology.json");
}

/// Nested questions in the Python SDK's `OntologyDataModel`, against the
/// spec's ontology vector: "Quality"'s option "Bad" asks "Why", so the
/// answer is an object per option, and the nested answer lands on the same
/// classification instance.
#[test]
fn the_python_ontology_data_model_answers_nested_questions() {
    let script = r#"
import json, sys
from encord_agent_sdk import OntologyDataModel
from encord_agent_sdk.labels import Classification, LabelError, Object, OntologyStructure

o = OntologyStructure(json.load(open(sys.argv[1])))
quality = o.get_child_by_title("Quality", type_=Classification)
m = OntologyDataModel([quality])
s = m.model_json_schema["properties"]["Quality"]["anyOf"]
assert s[0]["properties"]["choice"]["enum"] == ["Good"] and s[0]["required"] == ["choice"], s
assert s[1]["required"] == ["choice", "Why"] and s[1]["properties"]["Why"]["type"] == "string", s
(got,) = m('{"Quality": {"choice": "Bad", "Why": "motion blur"}}')
why = quality.get_child_by_title("Why")
assert got.get_answer().label == "Bad", got.get_answer()
assert got.get_answer(attribute=why) == "motion blur", got.get_answer(attribute=why)
(good,) = m('{"Quality": {"choice": "Good"}}')
assert good.get_answer().label == "Good" and good.get_answer(attribute=why) is None
for bad, says in [
    ('{"Quality": "Bad"}', "is not an object with `choice`"),
    ('{"Quality": {"choice": "Bad"}}', "lacks `Why` of `Quality`: `Bad`"),
    ('{"Quality": {"choice": "Good", "Why": "sharp"}}', "has Why, not in the schema of `Quality`: `Good`"),
    ('{"Quality": {"choice": "Bad", "Why": 3}}', "`Why`: 3 is not a string"),
]:
    try:
        m(bad)
    except LabelError as e:
        assert says in str(e), (bad, str(e))
    else:
        raise AssertionError(f"{bad} was accepted")
print("ok")
"#;
    python_says_ok(script, "labels/tests/vectors/ontology.json");
}

/// The JavaScript SDK natively, under Node with its stand-ins for the host
/// (`encord-agent/native/register.mjs`): `tests/native-js/*.test.mjs`
/// (nested questions and object types in `OntologyDataModel`), from a
/// folder where `encord-agent` is an installed package, as in an agent's
/// own project.
#[test]
fn the_javascript_sdk_runs_natively_under_node() {
    let root = crate::support::workspace();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("node_modules")).unwrap();
    std::os::unix::fs::symlink(
        root.join("guest-sdk/js"),
        dir.path().join("node_modules/encord-agent"),
    )
    .unwrap();
    let mut tests = vec![];
    for entry in std::fs::read_dir(root.join("tests/native-js")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_owned();
        std::fs::copy(&path, dir.path().join(&name)).unwrap();
        tests.push(name);
    }
    assert!(!tests.is_empty());
    let out = std::process::Command::new("node")
        .args(["--import", "encord-agent/native/register.mjs", "--test"])
        .args(&tests)
        .current_dir(dir.path())
        .env("WORKSPACE", &root)
        .output()
        .expect("node runs");
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("# fail 0") && !text.contains("# pass 0"),
        "{text}"
    );
}

/// A JavaScript agent crops to an object's shape (a rotated box, a polygon,
/// a box) for a model API; the host encodes each crop the size of the box
/// holding the shape.
#[test]
fn a_javascript_agent_crops_to_an_objects_shape() {
    let rows = pre_label_rows("tests/guests/js/crops.js");
    let caption = answers_of(exported(&rows, "street-01.png"), "Caption").unwrap();
    assert!(
        caption.as_str().unwrap().starts_with("crops ok "),
        "{caption}"
    );
}

/// The JavaScript SDK's `OntologyDataModel` inside a component: the schema
/// the demo ontology gives, an answer applied, and answers that do not fit
/// refused with nothing of them written.
#[test]
fn a_javascript_agents_ontology_data_model_applies_only_answers_that_fit() {
    let rows = pre_label_rows("tests/guests/js/ontology_model.js");
    let good = exported(&rows, "street-01.png");
    assert_eq!(
        answers_of(good, "Quality"),
        Some(serde_json::json!(["Good"]))
    );
    assert_eq!(
        answers_of(good, "Scene"),
        Some(serde_json::json!(["Outdoor", "Night"]))
    );
    let half = exported(&rows, "street-02.png");
    assert_eq!(
        answers_of(half, "Quality"),
        None,
        "the fitting half was not written"
    );
    assert_eq!(answers_of(half, "Scene"), None);
    assert_eq!(
        answers_of(half, "Caption"),
        Some(serde_json::json!(
            "`Scene`: [\"Underwater\"] is not a list of Indoor, Outdoor, Night"
        ))
    );
    let caption = answers_of(exported(&rows, "street-03.png"), "Caption").unwrap();
    assert!(
        caption
            .as_str()
            .unwrap()
            .starts_with("the model's answer is not JSON"),
        "{caption}"
    );
}

/// Runs a Python `script` natively with the SDK on its path and the
/// workspace file `arg` as its argument; it must print `ok`.
fn python_says_ok(script: &str, arg: &str) {
    let root = crate::support::workspace();
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(root.join(arg))
        .env("PYTHONPATH", root.join("guest-sdk/python"))
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(stdout(&out).trim(), "ok");
}

/// The label rows after the agent built from `source` ran the pre-label
/// stage of a fresh images-only demo project (and succeeded).
fn pre_label_rows(source: &str) -> Vec<serde_json::Value> {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let hash = demo_at(&store, &["--images-only"]);
    let out = run_agent_env(
        &agent_component(source),
        &store,
        &hash,
        &["--stage", "pre-label"],
        &[],
    );
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    export(&store, &hash)
}
