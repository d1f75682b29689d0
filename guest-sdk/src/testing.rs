//! Run a stage handler natively, without wasm, on given JSON inputs, through
//! the same extraction and checks the host applies.
//!
//! ```
//! use encord_agent_sdk::prelude::*;
//! use encord_agent_sdk::testing::TestRun;
//! use encord_agent_sdk::Route;
//!
//! #[stage("pre-label", pathways = ["to review", "skip"])]
//! fn pre_label(row: LabelRow) -> &'static str {
//!     if row.objects().is_empty() { "to review" } else { "skip" }
//! }
//!
//! const ROW: &str = r#"{"data_hash": "d1", "data_title": "a.png", "data_type": "image",
//!     "object_answers": {}, "classification_answers": {}, "object_actions": {},
//!     "data_units": {"d1": {"data_hash": "d1", "data_type": "image/png", "data_sequence": 0,
//!                           "labels": {"objects": [], "classifications": []}}}}"#;
//!
//! let out = TestRun::new()
//!     .label_row_json(ROW)
//!     .stage("pre-label", &["to review", "skip"])
//!     .run::<pre_label>()
//!     .unwrap();
//! assert_eq!(out.outcome.route, Route::Pathway("to review".into()));
//! ```

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use encord_labels::outcome::{self, PathwayRef, RowSave};

use crate::context::{Context, Source};
use crate::data::{Frame, FrameSource, ItemInfo, Selection, TwinInfo, TwinStage};
use crate::extract::{Needs, Pathway, ProjectInfo, Stage, Task, TaskDetails};
use crate::log::{set_sink, Level};
use crate::runtime::{call, StageDef, StageHandler};
use crate::{AgentError, Outcome, Route};

/// Inputs for one native run of a handler.
#[derive(Debug, Clone)]
pub struct TestRun {
    task: Task,
    label_row: Option<String>,
    ontology: String,
    project: ProjectInfo,
    stage: Option<Stage>,
    item: Option<ItemInfo>,
    asset: Option<Vec<u8>>,
    frames: Vec<Frame>,
    twins: Vec<(String, TwinInfo)>,
    /// Twin projects' ontologies, where not this project's.
    twin_ontologies: Vec<(String, String)>,
    /// Who and when, by task uuid (the task's own and twin tasks').
    task_details: Vec<(String, TaskDetails)>,
    /// The stage each twin's task sits in, by twin project hash.
    twin_stages: Vec<(String, TwinStage)>,
}

/// What a native run produced.
#[derive(Debug, Clone)]
pub struct TestOutcome {
    pub outcome: Outcome,
    /// The lines the handler logged.
    pub logs: Vec<(Level, String)>,
    /// The client metadata the handler set on the storage item.
    pub client_metadata: Option<serde_json::Value>,
    /// The label rows the handler saved to twin projects: (project hash,
    /// row), checked against the twin's ontology as the host checks them.
    pub twin_saves: Vec<(String, crate::labels::LabelRow)>,
    /// The twin tasks the handler moved: (project hash, pathway uuid),
    /// checked against the twin stage's pathways as the host checks them.
    pub twin_moves: Vec<(String, String)>,
}

/// The label row of a 64x48 image titled `title` (data hash
/// `d0000000-0000-4000-8000-000000000001`), not yet labelled, with these
/// objects (`objects_json`: object entries, comma-separated; `""` for none):
/// the usual input of an agent's unit test.
pub fn image_label_row(title: &str, objects_json: &str) -> String {
    format!(
        r#"{{"label_hash": null, "branch_name": "main", "created_at": null, "last_edited_at": null,
           "data_hash": "d0000000-0000-4000-8000-000000000001", "dataset_hash": "x", "dataset_title": "x",
           "data_title": "{title}", "data_type": "image", "label_status": "NOT_LABELLED",
           "object_answers": {{}}, "classification_answers": {{}}, "object_actions": {{}},
           "data_units": {{"d0000000-0000-4000-8000-000000000001": {{"data_hash": "d0000000-0000-4000-8000-000000000001",
             "data_title": "{title}", "data_type": "image/png", "data_sequence": 0, "width": 64, "height": 48,
             "labels": {{"objects": [{objects_json}], "classifications": []}}}}}}}}"#
    )
}

impl Default for TestRun {
    fn default() -> Self {
        TestRun::new()
    }
}

impl TestRun {
    /// A task with placeholder identities and an empty ontology.
    pub fn new() -> TestRun {
        TestRun {
            task: Task {
                uuid: "00000000-0000-4000-8000-000000000001".into(),
                data_hash: "00000000-0000-4000-8000-000000000002".into(),
                data_title: "test.png".into(),
                label_branch_name: "main".into(),
                status: "NEW".into(),
            },
            label_row: None,
            ontology: r#"{"objects": [], "classifications": []}"#.into(),
            project: ProjectInfo::default(),
            stage: None,
            item: None,
            asset: None,
            frames: Vec::new(),
            twins: Vec::new(),
            twin_ontologies: Vec::new(),
            task_details: Vec::new(),
            twin_stages: Vec::new(),
        }
    }

    /// The storage item: its name, Encord item type and client metadata.
    pub fn storage_item(
        mut self,
        name: &str,
        item_type: &str,
        client_metadata: serde_json::Value,
    ) -> TestRun {
        self.item = Some(ItemInfo {
            uuid: "00000000-0000-4000-8000-000000000003".into(),
            name: name.into(),
            item_type: item_type.into(),
            client_metadata: client_metadata.to_string(),
            frame_count: None,
            mime_type: None,
            file_size: None,
            width: None,
            height: None,
            fps: None,
            duration: None,
            children: Vec::new(),
        });
        self
    }

    /// The data's bytes.
    pub fn asset(mut self, bytes: &[u8]) -> TestRun {
        self.asset = Some(bytes.to_vec());
        self
    }

    /// The data's frames, in order (their `index` is set to their position).
    pub fn frames(mut self, frames: Vec<Frame>) -> TestRun {
        self.frames = frames
            .into_iter()
            .enumerate()
            .map(|(i, f)| Frame {
                index: i as u32,
                ..f
            })
            .collect();
        self
    }

    /// The label row of the same data in twin project `project_hash`.
    pub fn twin(mut self, project_hash: &str, label_row_json: &str, task: Option<Task>) -> TestRun {
        self.twins.push((
            project_hash.to_string(),
            TwinInfo {
                label_row: label_row_json.to_string(),
                task,
                stage_uuid: None,
            },
        ));
        self
    }

    /// The ontology of twin project `project_hash` (by default the twin
    /// shares this project's).
    pub fn twin_ontology_json(mut self, project_hash: &str, json: &str) -> TestRun {
        self.twin_ontologies
            .push((project_hash.to_string(), json.to_string()));
        self
    }

    /// Who and when of the task with this uuid (the task's own, or a twin
    /// task's).
    pub fn task_details(mut self, task_uuid: &str, details: TaskDetails) -> TestRun {
        self.task_details.push((task_uuid.to_string(), details));
        self
    }

    /// The stage the task of twin project `project_hash` sits in.
    pub fn twin_stage(mut self, project_hash: &str, stage: TwinStage) -> TestRun {
        self.twin_stages.push((project_hash.to_string(), stage));
        self
    }

    pub fn task(mut self, task: Task) -> TestRun {
        self.task = task;
        self
    }

    /// The task's label row (Encord label-row JSON); its data hash and title
    /// become the task's.
    pub fn label_row_json(mut self, json: &str) -> TestRun {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(json) {
            if let Some(h) = v.get("data_hash").and_then(|h| h.as_str()) {
                self.task.data_hash = h.to_string();
            }
            if let Some(t) = v.get("data_title").and_then(|h| h.as_str()) {
                self.task.data_title = t.to_string();
            }
        }
        self.label_row = Some(json.to_string());
        self
    }

    /// The ontology structure JSON.
    pub fn ontology_json(mut self, json: &str) -> TestRun {
        self.ontology = json.to_string();
        self
    }

    pub fn project(mut self, project_hash: &str, title: &str) -> TestRun {
        self.project.project_hash = project_hash.into();
        self.project.title = title.into();
        self
    }

    /// The stage being run and its pathways' names. When given, a returned
    /// pathway is checked against them, as the host does.
    pub fn stage(mut self, title: &str, pathways: &[&str]) -> TestRun {
        self.stage = Some(Stage {
            uuid: format!("stage-{title}"),
            title: title.into(),
            pathways: pathways
                .iter()
                .enumerate()
                .map(|(i, p)| Pathway {
                    uuid: format!("pathway-{i}"),
                    name: p.to_string(),
                    destination_uuid: String::new(),
                })
                .collect(),
        });
        self
    }

    /// Runs the handler `H` (the name of a `#[stage]` function).
    pub fn run<H: StageHandler>(self) -> Result<TestOutcome, AgentError> {
        self.run_def(&H::DEF)
    }

    /// Runs one stage definition.
    pub fn run_def(self, def: &StageDef) -> Result<TestOutcome, AgentError> {
        let logs = Rc::new(RefCell::new(Vec::new()));
        let sink = logs.clone();
        set_sink(Some(Box::new(move |level, msg| {
            sink.borrow_mut().push((level, msg.to_string()))
        })));
        let metadata = Rc::new(RefCell::new(None));
        let twin_saves = Rc::new(RefCell::new(Vec::new()));
        let twin_moves = Rc::new(RefCell::new(Vec::new()));
        let source = TestSource {
            needs: def.needs(),
            run: self.clone(),
            metadata: metadata.clone(),
            twin_saves: twin_saves.clone(),
            twin_moves: twin_moves.clone(),
        };
        let mut cx = Context::new(self.task.clone(), Box::new(source));
        let result = call(def, &mut cx);
        set_sink(None);
        let outcome = result?;
        self.check(&outcome)?;
        let logs = logs.borrow().clone();
        let client_metadata = metadata.borrow().clone();
        let twin_saves = twin_saves.borrow().clone();
        let twin_moves = twin_moves.borrow().clone();
        Ok(TestOutcome {
            outcome,
            logs,
            client_metadata,
            twin_saves,
            twin_moves,
        })
    }

    /// The checks the host makes on an outcome before acting on it: the
    /// host's own code (`encord_labels::outcome`), not a copy.
    fn check(&self, outcome: &Outcome) -> Result<(), AgentError> {
        if let Some(p) = outcome.priority {
            outcome::check_priority(p).map_err(AgentError::msg)?;
        }
        if let Some(row) = &outcome.label_row {
            let ontology = crate::labels::Ontology::parse(&self.ontology)?;
            outcome::check_label_row(
                &row.to_json(),
                Arc::new(ontology),
                &self.task.data_hash,
                RowSave::Returned,
            )
            .map_err(AgentError::msg)?;
        }
        if let (Route::Pathway(p), Some(stage)) = (&outcome.route, &self.stage) {
            outcome::resolve_pathway(format_args!("stage `{}`", stage.title), &stage.pathways, p)
                .map_err(AgentError::msg)?;
        }
        Ok(())
    }
}

impl PathwayRef for Pathway {
    fn uuid(&self) -> &str {
        &self.uuid
    }
    fn name(&self) -> &str {
        &self.name
    }
}

struct TestSource {
    needs: Needs,
    run: TestRun,
    metadata: Rc<RefCell<Option<serde_json::Value>>>,
    twin_saves: Rc<RefCell<Vec<(String, crate::labels::LabelRow)>>>,
    twin_moves: Rc<RefCell<Vec<(String, String)>>>,
}

impl TestSource {
    fn need(&self, declared: bool, name: &str) -> Result<(), String> {
        if declared {
            Ok(())
        } else {
            Err(format!("this stage did not declare the {name} need"))
        }
    }
}

struct VecFrames(std::collections::VecDeque<Frame>);

impl FrameSource for VecFrames {
    fn next_frame(&mut self) -> Result<Option<Frame>, String> {
        Ok(self.0.pop_front())
    }
}

impl Source for TestSource {
    fn task_details(&self, task_uuid: &str) -> Result<TaskDetails, String> {
        let known = task_uuid == self.run.task.uuid
            || self
                .run
                .twins
                .iter()
                .any(|(_, t)| t.task.as_ref().is_some_and(|t| t.uuid == task_uuid));
        if !known {
            return Err(format!(
                "task `{task_uuid}` is neither the task being processed nor a twin task found for it"
            ));
        }
        Ok(self
            .run
            .task_details
            .iter()
            .find(|(u, _)| u == task_uuid)
            .map(|(_, d)| d.clone())
            .unwrap_or_default())
    }
    fn twin_stage(&self, project_hash: &str) -> Result<Option<TwinStage>, String> {
        let has_task = self.twin(project_hash)?.is_some_and(|t| t.task.is_some());
        Ok(self
            .run
            .twin_stages
            .iter()
            .find(|(h, _)| has_task && h == project_hash)
            .map(|(_, s)| s.clone()))
    }
    fn twin_proceed(&self, project_hash: &str, pathway: &str) -> Result<(), String> {
        let stage = self.twin_stage(project_hash)?.ok_or_else(|| {
            format!("twin project `{project_hash}` has no task for this data (or no stage given with TestRun::twin_stage): nothing to move")
        })?;
        if stage.stage_type != "AGENT" {
            return Err(format!(
                "the twin task sits in `{}`, a {} stage of twin project `{project_hash}`: only a task in an agent stage can proceed along a pathway",
                stage.title, stage.stage_type
            ));
        }
        let found = outcome::resolve_pathway(
            format_args!("stage `{}` of twin project `{project_hash}`", stage.title),
            &stage.pathways,
            pathway,
        )?;
        let mut moves = self.twin_moves.borrow_mut();
        moves.retain(|(h, _)| h != project_hash);
        moves.push((project_hash.to_string(), found.uuid.clone()));
        Ok(())
    }
    fn item(&self) -> Result<ItemInfo, String> {
        let n = &self.needs;
        self.need(n.storage_item || n.asset || n.frames, "storage-item")?;
        let mut item = self
            .run
            .item
            .clone()
            .ok_or("TestRun has no storage item: call .storage_item(...)")?;
        if !self.run.frames.is_empty() {
            item.frame_count = Some(self.run.frames.len() as u32);
        }
        Ok(item)
    }
    fn set_client_metadata(&self, json: &str) -> Result<(), String> {
        self.item()?;
        let v = serde_json::from_str(json).map_err(|e| e.to_string())?;
        *self.metadata.borrow_mut() = Some(v);
        Ok(())
    }
    fn asset_bytes(&self, frame: Option<u32>) -> Result<Vec<u8>, String> {
        self.need(self.needs.asset, "asset")?;
        if frame.unwrap_or(0) > 0 {
            return Err("TestRun has one asset only".into());
        }
        self.run
            .asset
            .clone()
            .ok_or_else(|| "TestRun has no asset: call .asset(...)".into())
    }
    fn asset_path(&self) -> Result<String, String> {
        self.need(self.needs.asset, "asset")?;
        Err("TestRun has no sandbox file system: test AssetPath handlers in a component".into())
    }
    fn first_frame(&self) -> Result<Frame, String> {
        self.need(self.needs.frames, "frames")?;
        self.run
            .frames
            .first()
            .cloned()
            .ok_or_else(|| "TestRun has no frames: call .frames(...)".into())
    }
    fn frames(&self, which: Selection) -> Result<Box<dyn FrameSource>, String> {
        self.need(self.needs.frames, "frames")?;
        let all = &self.run.frames;
        let picked: Vec<Frame> = match which {
            Selection::All => all.clone(),
            Selection::Rate(r) => {
                if !(r.is_finite() && r > 0.0 && r <= 1.0) {
                    return Err(format!("sample rate {r} is outside (0, 1]"));
                }
                let mut out = Vec::new();
                let mut k = 0u64;
                while let Some(f) = all.get((k as f64 / r).floor() as usize) {
                    out.push(f.clone());
                    k += 1;
                }
                out
            }
            Selection::Indices(mut i) => {
                i.sort_unstable();
                i.dedup();
                i.iter()
                    .map(|&n| {
                        all.get(n as usize).cloned().ok_or_else(|| {
                            format!("frame {n} is past the end ({} frames)", all.len())
                        })
                    })
                    .collect::<Result<_, _>>()?
            }
        };
        Ok(Box::new(VecFrames(picked.into())))
    }
    fn twin(&self, project_hash: &str) -> Result<Option<TwinInfo>, String> {
        if !self.needs.twins.iter().any(|(h, _)| h == project_hash) {
            return Err(format!("twin project `{project_hash}` was not declared"));
        }
        Ok(self
            .run
            .twins
            .iter()
            .find(|(h, _)| h == project_hash)
            .map(|(_, t)| t.clone()))
    }
    fn twin_ontology(&self, project_hash: &str) -> Result<String, String> {
        self.twin(project_hash)?;
        Ok(self
            .run
            .twin_ontologies
            .iter()
            .find(|(h, _)| h == project_hash)
            .map_or_else(|| self.run.ontology.clone(), |(_, o)| o.clone()))
    }
    fn save_twin(&self, project_hash: &str, label_row_json: &str) -> Result<(), String> {
        if self.twin(project_hash)?.is_none() {
            return Err(format!(
                "twin project `{project_hash}` has no label row for data `{}`: nothing to save to",
                self.run.task.data_hash
            ));
        }
        let ontology = crate::labels::Ontology::parse(&self.twin_ontology(project_hash)?)
            .map_err(|e| e.to_string())?;
        let row = outcome::check_label_row(
            label_row_json,
            Arc::new(ontology),
            &self.run.task.data_hash,
            RowSave::Twin(project_hash),
        )?;
        let mut saves = self.twin_saves.borrow_mut();
        saves.retain(|(p, _)| p != project_hash);
        saves.push((project_hash.to_string(), row));
        Ok(())
    }
    fn label_row(&self) -> Result<String, String> {
        if !self.needs.label_row {
            return Err("this stage did not declare the label-row need".into());
        }
        self.run
            .label_row
            .clone()
            .ok_or_else(|| "TestRun has no label row: call .label_row_json(...)".into())
    }
    fn ontology(&self) -> String {
        self.run.ontology.clone()
    }
    fn project(&self) -> ProjectInfo {
        self.run.project.clone()
    }
    fn stage(&self) -> Option<Stage> {
        self.run.stage.clone()
    }
}
