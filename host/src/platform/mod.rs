//! The one interface the runner talks to ([`Platform`]), and the values it
//! carries: projects and workflows, tasks, label rows, storage items, twin
//! records. Implemented by the embedded store ([`crate::local`]) and by
//! the Encord HTTP client ([`crate::encord`]).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// A project with its ontology and workflow, as `GET /v2/public/projects/{P}`
/// and the ontology call return them.
#[derive(Debug, Clone)]
pub struct Project {
    pub project_hash: String,
    pub title: String,
    pub description: String,
    pub ontology_hash: String,
    /// The ontology structure JSON (`objects`, `classifications`).
    pub ontology_json: String,
    pub workflow: Workflow,
}

/// Encord's workflow shape (`workflow` of the project DTO).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Workflow {
    pub stages: Vec<WorkflowStage>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowStage {
    pub stage_type: String,
    pub uuid: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pathways: Option<Vec<Pathway>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pathway {
    pub uuid: String,
    /// Its name (Encord's `title` on the wire).
    #[serde(rename = "title")]
    pub name: String,
    pub destination_uuid: String,
}

impl Workflow {
    /// The stages of type AGENT.
    pub fn agent_stages(&self) -> impl Iterator<Item = &WorkflowStage> {
        self.stages.iter().filter(|s| s.stage_type == "AGENT")
    }

    pub fn stage(&self, uuid: &str) -> Option<&WorkflowStage> {
        self.stages.iter().find(|s| s.uuid == uuid)
    }
}

impl WorkflowStage {
    pub fn pathways(&self) -> &[Pathway] {
        self.pathways.as_deref().unwrap_or(&[])
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub uuid: String,
    pub data_hash: String,
    pub data_title: String,
    pub label_branch_name: String,
    pub status: String,
    /// The user (email) the task is assigned to.
    #[serde(default)]
    pub assignee: Option<String>,
    /// The user (email) who last acted on the task.
    #[serde(default)]
    pub last_actioned_by: Option<String>,
    /// When the task was created and last changed, as Encord writes them
    /// (`2024-05-01T10:00:00.000000+00:00`).
    #[serde(default)]
    pub created_at: String,
    #[serde(default)]
    pub updated_at: String,
}

/// One page of a stage's tasks, with the keyset token of the next page.
#[derive(Debug, Clone)]
pub struct TaskPage {
    pub tasks: Vec<Task>,
    pub next_page_token: Option<String>,
}

/// A label row as loaded for a batch.
#[derive(Debug, Clone)]
pub struct LabelRowRecord {
    pub data_hash: String,
    pub label_hash: Option<String>,
    pub priority: Option<f32>,
    /// The label row JSON, when labels were asked for.
    pub json: Option<String>,
    /// The storage item behind the data (`backing_item_uuid`), when known.
    pub item_uuid: Option<String>,
}

/// Which label rows to load and how: a stage's label-row options
/// (encord-agents' `LabelRowMetadataIncludeArgs` and
/// `LabelRowInitialiseLabelsArgs`), plus whether labels are wanted at all.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelRowQuery {
    /// Full rows (labels), or metadata only.
    #[serde(skip)]
    pub with_labels: bool,
    pub include_workflow_graph_node: bool,
    pub include_client_metadata: bool,
    pub include_images_data: bool,
    pub include_all_label_branches: bool,
    pub branch_name: Option<String>,
    pub include_children: bool,
    pub include_object_feature_hashes: Option<Vec<String>>,
    pub include_classification_feature_hashes: Option<Vec<String>>,
    pub include_reviews: bool,
    pub include_signed_url: bool,
}

impl Default for LabelRowQuery {
    /// encord-agents' defaults, with labels.
    fn default() -> Self {
        LabelRowQuery {
            with_labels: true,
            include_workflow_graph_node: true,
            include_client_metadata: false,
            include_images_data: false,
            include_all_label_branches: false,
            branch_name: None,
            include_children: false,
            include_object_feature_hashes: None,
            include_classification_feature_hashes: None,
            include_reviews: false,
            include_signed_url: false,
        }
    }
}

/// A label row to save: the whole row replaces what was stored.
#[derive(Debug, Clone)]
pub struct LabelSave {
    pub data_hash: String,
    pub json: String,
}

/// The storage item behind a data unit, with where its bytes are.
#[derive(Debug, Clone, PartialEq)]
pub struct DataItem {
    pub uuid: String,
    pub name: String,
    /// Encord's item type as the API spells it (`image`, `video`,
    /// `imageGroup`, ...).
    pub item_type: String,
    pub mime_type: Option<String>,
    pub file_size: Option<u64>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub fps: Option<f64>,
    pub duration: Option<f64>,
    pub frame_count: Option<u32>,
    /// A JSON object.
    pub client_metadata: String,
    /// Where the bytes are; none for a group.
    pub media: Option<Media>,
    /// Image groups and sequences: the children in frame order.
    pub children: Vec<DataItem>,
}

/// Where an item's bytes are.
#[derive(Debug, Clone, PartialEq)]
pub enum Media {
    /// A local file (the embedded store).
    File(std::path::PathBuf),
    /// A signed URL, fetched with [`Platform::download`].
    Url(String),
}

impl DataItem {
    /// Groups have children and no bytes of their own.
    pub fn is_group(&self) -> bool {
        matches!(
            self.item_type.as_str(),
            "imageGroup" | "group" | "dicomSeries"
        )
    }
}

/// The same data in another project.
#[derive(Debug, Clone, PartialEq)]
pub struct TwinRecord {
    pub label_row: String,
    /// The twin's task and the stage it sits in, when asked for and found.
    pub task: Option<TwinTask>,
}

/// A twin project's task of the same data, and the stage it sits in.
#[derive(Debug, Clone, PartialEq)]
pub struct TwinTask {
    pub task: Task,
    pub stage_uuid: String,
}

/// Move one task along one pathway.
#[derive(Debug, Clone, PartialEq)]
pub struct MoveAction {
    pub task_uuid: String,
    pub pathway_uuid: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    #[error("no project `{project_hash}` in {place}{hint}")]
    UnknownProject {
        project_hash: String,
        place: String,
        hint: String,
    },
    /// A move was refused because the task is no longer in the stage it was
    /// asked from (someone else moved it): "already advanced", the one
    /// refusal that is not a failure.
    #[error("task `{task_uuid}` is not in stage `{stage}`")]
    NotInStage { task_uuid: String, stage: String },
    /// Something the request named does not exist (a label row, a data unit,
    /// a storage item).
    #[error("{0}")]
    NotFound(String),
    /// The request was refused as invalid (Encord's 400) for any other
    /// reason: an unknown pathway, a malformed request, missing permissions.
    #[error("rejected: {0}")]
    Rejected(String),
    #[error("{0}")]
    Store(String),
    /// Encord (or the emulator) failed or answered unexpectedly.
    #[error("{0}")]
    Remote(String),
}

/// Everything the runner needs from Encord or a stand-in for it.
#[async_trait]
pub trait Platform: Send + Sync {
    /// The project, its ontology and workflow.
    async fn project(&self, project_hash: &str) -> Result<Project, PlatformError>;
    /// One page of the tasks sitting in an agent stage, oldest first.
    async fn list_tasks(
        &self,
        project_hash: &str,
        stage_uuid: &str,
        page_token: Option<&str>,
    ) -> Result<TaskPage, PlatformError>;
    /// The label rows of these data units, in the same order, as `query`
    /// asks (full rows, or metadata only).
    async fn label_rows(
        &self,
        project_hash: &str,
        data_hashes: &[String],
        query: &LabelRowQuery,
    ) -> Result<Vec<LabelRowRecord>, PlatformError>;
    /// Saves whole label rows.
    async fn save_labels(
        &self,
        project_hash: &str,
        saves: &[LabelSave],
    ) -> Result<(), PlatformError>;
    /// Sets task priorities, keyed by data hash.
    async fn set_priorities(
        &self,
        project_hash: &str,
        priorities: &[(String, f32)],
    ) -> Result<(), PlatformError>;
    /// The storage items behind these data units, in the same order (with
    /// signed URLs and, for groups, children); `None` for data without one.
    /// `known_items` holds the item uuids already read with the label rows
    /// (same order), so they are not looked up again; empty when not read.
    async fn data_items(
        &self,
        project_hash: &str,
        data_hashes: &[String],
        known_items: &[Option<String>],
    ) -> Result<Vec<Option<DataItem>>, PlatformError>;
    /// Replaces the client metadata of storage items: (item uuid, JSON object).
    async fn set_client_metadata(&self, updates: &[(String, String)]) -> Result<(), PlatformError>;
    /// Fetches a signed media URL into `dest`, streaming; returns the bytes written.
    async fn download(&self, url: &str, dest: &std::path::Path) -> Result<u64, PlatformError> {
        let _ = dest;
        Err(PlatformError::Remote(format!(
            "this platform cannot download `{}`",
            url.split('?').next().unwrap_or(url)
        )))
    }
    /// The label rows of these data units in another project, in the same
    /// order; `None` where that project has no such data. With
    /// `include_task`, also each one's workflow task and stage.
    async fn twins(
        &self,
        project_hash: &str,
        data_hashes: &[String],
        include_task: bool,
    ) -> Result<Vec<Option<TwinRecord>>, PlatformError>;
    /// Moves tasks along pathways: all or none. When any task has left the
    /// stage the platform answers `NotInStage` if it can tell (the embedded
    /// store can; Encord only says 400), else `Rejected` like any other
    /// refusal; [`Platform::task_in_stage`] then tells the two apart.
    async fn move_tasks(
        &self,
        project_hash: &str,
        stage_uuid: &str,
        actions: &[MoveAction],
    ) -> Result<(), PlatformError>;
    /// Whether `task` still sits in `stage_uuid`: the re-check after a move
    /// was refused, which separates "already advanced" (it left) from a
    /// refusal that must fail the task (it is still there).
    async fn task_in_stage(
        &self,
        project_hash: &str,
        stage_uuid: &str,
        task: &Task,
    ) -> Result<bool, PlatformError>;
    /// Those of `tasks` still in `stage_uuid`, as the platform has them now
    /// (a queue worker's re-check before it runs a batch it was handed).
    async fn tasks_in_stage(
        &self,
        project_hash: &str,
        stage_uuid: &str,
        tasks: &[Task],
    ) -> Result<Vec<Task>, PlatformError> {
        let mut there = Vec::with_capacity(tasks.len());
        for t in tasks {
            if self.task_in_stage(project_hash, stage_uuid, t).await? {
                there.push(t.clone());
            }
        }
        Ok(there)
    }
}
