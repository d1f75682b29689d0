//! Extractors: the types a stage handler can take as parameters.

use std::sync::Arc;

use encord_labels::{LabelRow, Ontology};

use crate::{AgentError, Context};

/// What a stage needs loaded before its handler runs, derived from its
/// parameters' types.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    /// The task's label row, with its labels.
    pub label_row: bool,
    /// The label row's metadata only (e.g. to set a priority).
    pub label_row_metadata: bool,
    /// The storage item behind the data.
    pub storage_item: bool,
    /// The data's bytes.
    pub asset: bool,
    /// Decoded frames.
    pub frames: bool,
    /// Twin projects: (project hash, include the twin's task).
    pub twins: Vec<(String, bool)>,
}

impl Needs {
    /// Adds a twin project (once; asking for its task wins).
    pub fn add_twin(&mut self, project_hash: String, include_task: bool) {
        match self.twins.iter_mut().find(|(h, _)| *h == project_hash) {
            Some((_, t)) => *t |= include_task,
            None => self.twins.push((project_hash, include_task)),
        }
    }
}

/// A type a stage handler can take as a parameter.
///
/// Implement it for your own types to build dependencies out of others; the
/// needs of the extractors you use must be forwarded in [`FromContext::needs`]
/// so the host loads them:
///
/// ```
/// use encord_agent_sdk::prelude::*;
///
/// struct BoxCount(usize);
/// impl FromContext for BoxCount {
///     fn needs(needs: &mut Needs) { LabelRow::needs(needs) }
///     fn from_context(cx: &mut Context) -> Result<Self, AgentError> {
///         Ok(BoxCount(LabelRow::from_context(cx)?.objects_named("Box").len()))
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a stage handler parameter",
    label = "not an extractor",
    note = "parameters must implement `encord_agent_sdk::FromContext`: use Task, TaskDetails, LabelRow, Project, Ontology, Stage, Pathways, StorageItem, Asset, AssetPath, Frame, VideoFrames, VideoSampler or Twin<P>, or implement FromContext for your own type"
)]
pub trait FromContext: Sized {
    /// Adds what this extractor needs loaded.
    fn needs(_needs: &mut Needs) {}
    /// Builds the value for the current task.
    fn from_context(cx: &mut Context) -> Result<Self, AgentError>;
    /// Builds the value for a parameter of type `Option<Self>`: `Ok(None)`
    /// where this task has no such value (a twin project without this
    /// data), an error where one could not be had (a broken label row, a
    /// failed host call), which fails the task with its reason, as axum's
    /// `OptionalFromRequestParts` does. By default a value is never absent,
    /// so `Option<Self>` fails where `Self` would.
    fn from_context_optional(cx: &mut Context) -> Result<Option<Self>, AgentError> {
        Self::from_context(cx).map(Some)
    }
}

/// The workflow task being handled.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Task {
    pub uuid: String,
    pub data_hash: String,
    pub data_title: String,
    pub label_branch_name: String,
    /// NEW, ASSIGNED, RELEASED, SKIPPED, REOPENED or COMPLETED.
    pub status: String,
}

impl FromContext for Task {
    fn from_context(cx: &mut Context) -> Result<Self, AgentError> {
        Ok(cx.task().clone())
    }
}

/// Who and when of the task being handled, as Encord's task listing gives
/// them (encord's `AgentTask.assignee`, `last_actioned_by`, `created_at`,
/// `updated_at`). Also [`crate::Twin::task_details`] for a twin's task.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskDetails {
    /// The user (email) the task is assigned to.
    pub assignee: Option<String>,
    /// The user (email) who last acted on the task.
    pub last_actioned_by: Option<String>,
    /// When the task was created (`2024-05-01T10:00:00.000000+00:00`).
    pub created_at: String,
    /// When the task last changed, in the same form.
    pub updated_at: String,
}

impl FromContext for TaskDetails {
    fn from_context(cx: &mut Context) -> Result<Self, AgentError> {
        let uuid = cx.task().uuid.clone();
        cx.source().task_details(&uuid).map_err(AgentError::msg)
    }
}

/// The project's identity.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProjectInfo {
    pub project_hash: String,
    pub title: String,
    pub description: String,
    pub ontology_hash: String,
}

/// The project, with its ontology.
#[derive(Debug, Clone)]
pub struct Project {
    pub project_hash: String,
    pub title: String,
    pub description: String,
    pub ontology_hash: String,
    pub ontology: Arc<Ontology>,
}

impl FromContext for Project {
    fn from_context(cx: &mut Context) -> Result<Self, AgentError> {
        let info = cx.source().project();
        let ontology = <Arc<Ontology>>::from_context(cx)?;
        Ok(Project {
            project_hash: info.project_hash,
            title: info.title,
            description: info.description,
            ontology_hash: info.ontology_hash,
            ontology,
        })
    }
}

impl FromContext for Arc<Ontology> {
    fn from_context(cx: &mut Context) -> Result<Self, AgentError> {
        cx.cached(|cx| -> Result<Arc<Ontology>, AgentError> {
            // An instance kept for more tasks (`--reuse-instance`) parses
            // the ontology once, not once per task; a different JSON (another
            // project) is parsed again.
            static LAST: std::sync::Mutex<Option<(String, Arc<Ontology>)>> =
                std::sync::Mutex::new(None);
            let json = cx.source().ontology();
            let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((seen, parsed)) = last.as_ref() {
                if *seen == json {
                    return Ok(parsed.clone());
                }
            }
            let parsed = Arc::new(Ontology::parse(&json)?);
            *last = Some((json, parsed.clone()));
            Ok(parsed)
        })
    }
}

impl FromContext for Ontology {
    fn from_context(cx: &mut Context) -> Result<Self, AgentError> {
        Ok(<Arc<Ontology>>::from_context(cx)?.as_ref().clone())
    }
}

impl FromContext for LabelRow {
    fn needs(needs: &mut Needs) {
        needs.label_row = true;
    }
    fn from_context(cx: &mut Context) -> Result<Self, AgentError> {
        let ontology = <Arc<Ontology>>::from_context(cx)?;
        cx.cached(|cx| -> Result<LabelRow, AgentError> {
            let json = cx.source().label_row().map_err(AgentError::msg)?;
            Ok(LabelRow::parse(&json, ontology)?)
        })
    }
}

/// A pathway out of an agent stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pathway {
    pub uuid: String,
    pub name: String,
    pub destination_uuid: String,
}

/// The agent stage being run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    pub uuid: String,
    pub title: String,
    pub pathways: Vec<Pathway>,
}

impl FromContext for Stage {
    fn from_context(cx: &mut Context) -> Result<Self, AgentError> {
        cx.source()
            .stage()
            .ok_or_else(|| AgentError::msg("no stage is running"))
    }
    fn from_context_optional(cx: &mut Context) -> Result<Option<Self>, AgentError> {
        Ok(cx.source().stage())
    }
}

/// The pathways out of the stage being run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pathways(pub Vec<Pathway>);

impl Pathways {
    /// The pathway with this name, if the stage has one.
    pub fn named(&self, name: &str) -> Option<&Pathway> {
        self.0.iter().find(|p| p.name == name)
    }

    /// The pathways' names.
    pub fn names(&self) -> Vec<&str> {
        self.0.iter().map(|p| p.name.as_str()).collect()
    }
}

impl FromContext for Pathways {
    fn from_context(cx: &mut Context) -> Result<Self, AgentError> {
        Ok(Pathways(Stage::from_context(cx)?.pathways))
    }
}

/// `Option<T>`: `None` where this task has no `T` (see
/// [`FromContext::from_context_optional`]); an error still fails the task.
impl<T: FromContext> FromContext for Option<T> {
    fn needs(needs: &mut Needs) {
        T::needs(needs)
    }
    fn from_context(cx: &mut Context) -> Result<Self, AgentError> {
        T::from_context_optional(cx)
    }
}
