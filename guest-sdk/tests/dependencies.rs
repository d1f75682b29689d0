//! Custom dependencies built from other extractors: their needs reach the
//! stage's manifest, and a dependency two parameters share (the diamond)
//! is resolved once per task.

use std::sync::atomic::{AtomicUsize, Ordering};

use encord_agent_sdk::prelude::*;
use encord_agent_sdk::testing::TestRun;
use encord_agent_sdk::{Route, StageHandler};

static CROPS_BUILT: AtomicUsize = AtomicUsize::new(0);

/// The first frame cropped to every bounding box of the label row.
#[derive(Clone)]
struct Crops(Vec<Frame>);

impl FromContext for Crops {
    fn needs(needs: &mut Needs) {
        Frame::needs(needs);
        LabelRow::needs(needs);
    }
    fn from_context(cx: &mut Context) -> Result<Self, AgentError> {
        cx.cached(|cx| -> Result<Crops, AgentError> {
            CROPS_BUILT.fetch_add(1, Ordering::SeqCst);
            let frame = Frame::from_context(cx)?;
            let row = LabelRow::from_context(cx)?;
            let crops = row
                .objects()
                .iter()
                .flat_map(|o| o.frames.iter())
                .filter_map(|(_, shape)| match shape {
                    Shape::BoundingBox(b) => Some(frame.crop(b.x, b.y, b.w, b.h)),
                    _ => None,
                })
                .collect();
            Ok(Crops(crops))
        })
    }
}

/// How many boxes there are: depends on Crops.
struct CropCount(usize);
impl FromContext for CropCount {
    fn needs(needs: &mut Needs) {
        Crops::needs(needs)
    }
    fn from_context(cx: &mut Context) -> Result<Self, AgentError> {
        Ok(CropCount(Crops::from_context(cx)?.0.len()))
    }
}

/// How bright the boxes are: depends on Crops too.
struct CropBrightness(f64);
impl FromContext for CropBrightness {
    fn needs(needs: &mut Needs) {
        Crops::needs(needs)
    }
    fn from_context(cx: &mut Context) -> Result<Self, AgentError> {
        let crops = Crops::from_context(cx)?;
        let n = crops.0.len().max(1) as f64;
        Ok(CropBrightness(
            crops.0.iter().map(Frame::mean_brightness).sum::<f64>() / n,
        ))
    }
}

struct Reference;
impl TwinProject for Reference {
    const PROJECT_HASH: &'static str = "00000000-0000-4000-8000-00000000bbbb";
}

/// Uses a twin through a custom dependency.
struct HasReference(bool);
impl FromContext for HasReference {
    fn needs(needs: &mut Needs) {
        <Option<Twin<Reference>>>::needs(needs)
    }
    fn from_context(cx: &mut Context) -> Result<Self, AgentError> {
        Ok(HasReference(
            <Option<Twin<Reference>>>::from_context(cx)?.is_some(),
        ))
    }
}

#[stage("pre-label")]
fn bright_boxes(count: CropCount, brightness: CropBrightness) -> Outcome {
    if count.0 > 0 && brightness.0 > 100.0 {
        Outcome::pathway("bright")
    } else {
        Outcome::pathway("dark")
    }
}

#[stage("triage")]
fn with_reference(reference: HasReference) -> Outcome {
    Outcome::pathway(if reference.0 { "known" } else { "new" })
}

const ONTOLOGY: &str = include_str!("../../examples/demo-ontology.json");
const ROW: &str = r#"{"label_hash": null, "branch_name": "main", "created_at": null, "last_edited_at": null,
    "data_hash": "d0000000-0000-4000-8000-000000000001", "dataset_hash": "x", "dataset_title": "x",
    "data_title": "a.png", "data_type": "image", "label_status": "NOT_LABELLED",
    "object_answers": {}, "classification_answers": {}, "object_actions": {},
    "data_units": {"d0000000-0000-4000-8000-000000000001": {"data_hash": "d0000000-0000-4000-8000-000000000001",
      "data_title": "a.png", "data_type": "image/png", "data_sequence": 0, "width": 4, "height": 4,
      "labels": {"objects": [], "classifications": []}}}}"#;

#[test]
fn needs_of_nested_dependencies_reach_the_manifest() {
    let n = <bright_boxes as StageHandler>::DEF.needs();
    assert!(n.frames && n.label_row, "{n:?}");
    assert!(!n.asset && n.twins.is_empty());
    let n = <with_reference as StageHandler>::DEF.needs();
    assert_eq!(
        n.twins,
        vec![("00000000-0000-4000-8000-00000000bbbb".to_string(), false)]
    );
}

#[test]
fn a_shared_dependency_is_resolved_once_per_task() {
    let ontology = std::sync::Arc::new(Ontology::parse(ONTOLOGY).unwrap());
    let mut row = LabelRow::parse(ROW, ontology).unwrap();
    let b = |x| {
        Shape::BoundingBox(BoundingBox {
            x,
            y: 0.0,
            w: 0.5,
            h: 0.5,
        })
    };
    row.add_object("Vehicle", 0, b(0.0)).unwrap();
    row.add_object("Vehicle", 0, b(0.5)).unwrap();
    let white = Frame {
        index: 0,
        width: 4,
        height: 4,
        rgb: vec![250; 48],
    };
    CROPS_BUILT.store(0, Ordering::SeqCst);
    let out = TestRun::new()
        .ontology_json(ONTOLOGY)
        .label_row_json(&row.to_json())
        .frames(vec![white])
        .run::<bright_boxes>()
        .unwrap();
    assert_eq!(out.outcome.route, Route::Pathway("bright".into()));
    assert_eq!(
        CROPS_BUILT.load(Ordering::SeqCst),
        1,
        "Crops built once for two parameters"
    );

    // A second task builds it again: the cache is per task.
    TestRun::new()
        .ontology_json(ONTOLOGY)
        .label_row_json(&row.to_json())
        .frames(vec![Frame {
            index: 0,
            width: 4,
            height: 4,
            rgb: vec![0; 48],
        }])
        .run::<bright_boxes>()
        .unwrap();
    assert_eq!(CROPS_BUILT.load(Ordering::SeqCst), 2);
}

#[test]
fn an_absent_twin_is_none_and_a_present_one_is_read() {
    let out = TestRun::new().run::<with_reference>().unwrap();
    assert_eq!(out.outcome.route, Route::Pathway("new".into()));
    let out = TestRun::new()
        .ontology_json(ONTOLOGY)
        .twin("00000000-0000-4000-8000-00000000bbbb", ROW, None)
        .run::<with_reference>()
        .unwrap();
    assert_eq!(out.outcome.route, Route::Pathway("known".into()));
}

#[stage("pre-label")]
fn tag_item(item: StorageItem) -> Result<Outcome, AgentError> {
    let mut meta = item.client_metadata.clone();
    meta["frames"] = item.frame_count.into();
    meta["seen"] = true.into();
    item.update_client_metadata(meta)?;
    Ok(Outcome::stay())
}

#[test]
fn a_storage_items_metadata_update_is_reported() {
    let black = Frame {
        index: 0,
        width: 1,
        height: 1,
        rgb: vec![0; 3],
    };
    let out = TestRun::new()
        .storage_item("clip.mp4", "video", serde_json::json!({"camera": 2}))
        .frames(vec![black.clone(), black])
        .run::<tag_item>()
        .unwrap();
    assert_eq!(
        out.client_metadata,
        Some(serde_json::json!({"camera": 2, "frames": 2, "seen": true}))
    );
    assert!(<tag_item as StageHandler>::DEF.needs().storage_item);
}

struct Tracked;
impl TwinProject for Tracked {
    const PROJECT_HASH: &'static str = "00000000-0000-4000-8000-00000000cccc";
    const INCLUDE_TASK: bool = true;
}

#[stage("route")]
fn by_annotator(
    details: encord_agent_sdk::TaskDetails,
    twin: Twin<Tracked>,
) -> Result<&'static str, AgentError> {
    twin.proceed("done")?;
    let theirs = twin.task_details()?.unwrap_or_default();
    Ok(
        match (
            details.last_actioned_by.as_deref(),
            theirs.assignee.as_deref(),
        ) {
            (Some("expert@example.com"), Some(_)) => "Expert",
            _ => "Novice",
        },
    )
}

/// A native run serves who and when for the task and its twin's task, and
/// checks a twin move against the twin stage's pathways as the host does.
#[test]
fn task_details_and_twin_moves_in_a_native_run() {
    let twin_task = Task {
        uuid: "twin-task".into(),
        ..Task::default()
    };
    let stage = |pathway: &str| encord_agent_sdk::TwinStage {
        uuid: "s".into(),
        title: "wait".into(),
        stage_type: "AGENT".into(),
        pathways: vec![encord_agent_sdk::Pathway {
            uuid: "p-done".into(),
            name: pathway.into(),
            destination_uuid: "d".into(),
        }],
    };
    let run = |pathway: &str| {
        TestRun::new()
            .ontology_json(ONTOLOGY)
            .task(Task {
                uuid: "own".into(),
                ..Task::default()
            })
            .task_details(
                "own",
                encord_agent_sdk::TaskDetails {
                    last_actioned_by: Some("expert@example.com".into()),
                    ..Default::default()
                },
            )
            .task_details(
                "twin-task",
                encord_agent_sdk::TaskDetails {
                    assignee: Some("someone@example.com".into()),
                    ..Default::default()
                },
            )
            .twin(Tracked::PROJECT_HASH, ROW, Some(twin_task.clone()))
            .twin_stage(Tracked::PROJECT_HASH, stage(pathway))
            .run::<by_annotator>()
    };
    let out = run("done").unwrap();
    assert_eq!(out.outcome.route, Route::Pathway("Expert".into()));
    assert_eq!(
        out.twin_moves,
        [(Tracked::PROJECT_HASH.to_string(), "p-done".to_string())]
    );
    let refused = run("later").unwrap_err().to_string();
    assert!(
        refused.contains("stage `wait` of twin project `00000000-0000-4000-8000-00000000cccc` has no pathway `done`"),
        "{refused}"
    );
}

#[stage("pre-label")]
fn maybe_row(row: Option<LabelRow>) -> &'static str {
    if row.is_some() {
        "labelled"
    } else {
        "absent"
    }
}

/// `Option<T>` is for absence, not for errors (axum 0.8's
/// `OptionalFromRequestParts`): a label row that cannot be read fails the
/// task with the reason instead of reading as `None`.
#[test]
fn an_optional_dependency_that_fails_fails_the_task_with_its_reason() {
    let out = TestRun::new()
        .ontology_json(ONTOLOGY)
        .label_row_json(ROW)
        .stage("pre-label", &["labelled", "absent"])
        .run::<maybe_row>()
        .unwrap();
    assert_eq!(out.outcome.route, Route::Pathway("labelled".into()));
    let Err(err) = TestRun::new()
        .ontology_json(ONTOLOGY)
        .label_row_json(r#"{"data_hash": 7}"#)
        .stage("pre-label", &["labelled", "absent"])
        .run::<maybe_row>()
    else {
        panic!("a broken label row fails the task, even as an Option");
    };
    assert!(
        err.to_string().contains("is not valid Encord JSON"),
        "{err}"
    );
}
