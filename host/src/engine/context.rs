//! What the runner gives one call into the guest ([`CallContext`]) and
//! what it gets back besides the handler's outcome ([`Effects`]).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::platform::{DataItem, Pathway, Task, TwinRecord};

/// What every call of one run shares: the project.
#[derive(Debug)]
pub struct ProjectContext {
    pub project_hash: String,
    pub title: String,
    pub description: String,
    pub ontology_hash: String,
    pub ontology_json: String,
}

/// The stage a task belongs to.
#[derive(Debug, Clone)]
pub struct StageContext {
    pub uuid: String,
    pub title: String,
    pub pathways: Vec<Pathway>,
}

/// The data behind one task, as its stage declared it.
#[derive(Debug, Clone)]
pub struct TaskData {
    pub item: DataItem,
    /// The data's bytes on local disk (when `asset` or `frames` was declared).
    pub file: Option<PathBuf>,
    /// A group's children on local disk, in frame order.
    pub children: Vec<PathBuf>,
    pub asset: bool,
    pub frames: bool,
}

/// A read-only directory holding only one task's asset file, mounted in the
/// sandbox at [`super::ASSET_DIR`].
#[derive(Debug, Clone)]
pub struct AssetDir {
    pub dir: PathBuf,
    /// The file's name in it.
    pub file_name: String,
}

/// A twin project a stage declared: what is saved to it is checked against
/// its own ontology; its task moves are checked against its workflow.
#[derive(Debug)]
pub struct TwinProject {
    pub title: String,
    pub ontology_json: String,
    pub ontology: Arc<encord_labels::Ontology>,
    pub workflow: crate::platform::Workflow,
}

/// What one call may read through the imports.
#[derive(Debug, Clone)]
pub struct CallContext {
    pub project: Arc<ProjectContext>,
    pub stage: Option<Arc<StageContext>>,
    /// The task's label row JSON, when its stage declared the need.
    pub label_row: Option<Arc<str>>,
    /// The task as listed (none for the manifest and start calls).
    pub task: Option<Arc<Task>>,
    /// The storage item and media, when the stage declared them.
    pub data: Option<Arc<TaskData>>,
    /// The task's asset as a file, when its stage declared `asset`.
    pub asset_dir: Option<AssetDir>,
    /// Twin label rows by project hash, for the twins the stage declared.
    pub twins: Arc<HashMap<String, Option<TwinRecord>>>,
    /// Every twin project the agent's stages declared, by project hash.
    pub twin_projects: Arc<HashMap<String, Arc<TwinProject>>>,
}

impl CallContext {
    /// A call with no task (the manifest, the start hook).
    pub fn new(project: Arc<ProjectContext>) -> CallContext {
        CallContext {
            project,
            stage: None,
            label_row: None,
            task: None,
            data: None,
            asset_dir: None,
            twins: Arc::default(),
            twin_projects: Arc::default(),
        }
    }
}

/// What a call decided besides its outcome, written with it if the task
/// succeeds; and what the call used.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Effects {
    /// New client metadata (a JSON object) for the task's storage item.
    pub client_metadata: Option<String>,
    /// Label rows to save in twin projects, one per project, already
    /// checked against that project's ontology.
    pub twin_saves: Vec<TwinSave>,
    /// Twin tasks to move, one per twin project, already checked against the
    /// twin stage's pathways.
    pub twin_moves: Vec<TwinMove>,
    /// Not a write: what the call's instance used, set when the call ends
    /// (returned, trapped or timed out), whatever the task's fate.
    pub usage: Usage,
}

/// A label row to save in a twin project.
#[derive(Debug, Clone, PartialEq)]
pub struct TwinSave {
    pub project_hash: String,
    pub label_row: String,
}

/// A twin task to move along a pathway of the agent stage it sits in.
#[derive(Debug, Clone, PartialEq)]
pub struct TwinMove {
    pub project_hash: String,
    pub stage_uuid: String,
    pub task_uuid: String,
    pub pathway_uuid: String,
}

/// What a call's instance used: reported per task, so that an operator can
/// size `--memory-limit` and `--fuel` from data.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    /// The most linear memory the instance held at once (all its memories).
    /// A kept instance (`--reuse-instance`) reports its peak so far.
    pub memory_peak_bytes: u64,
    /// Fuel the call burned, when `--fuel` is set.
    pub fuel_used: Option<u64>,
}
