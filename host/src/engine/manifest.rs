//! What an agent states about itself (its manifest: the stages it serves
//! and what each needs) and what its handler returns, as the host's own
//! types. The WIT-generated ones are converted in [`super::bindings`].

use crate::platform::LabelRowQuery;

/// One stage an agent serves.
#[derive(Debug, Clone, PartialEq)]
pub struct StageSpec {
    /// The stage's title or uuid in the project's workflow.
    pub stage: String,
    /// The handler's name (for logs, `inspect` and reports).
    pub handler: String,
    /// What the host loads for each task, in the order declared.
    pub needs: Vec<Need>,
    /// How its label rows are listed and initialised (encord-agents'
    /// include and initialise arguments; `with_labels` from the needs).
    pub label_rows: LabelRowQuery,
    /// Pathways (names or uuids) the handler may return; empty: not declared.
    pub pathways: Vec<String>,
    /// Other projects whose label row of the same data the handler reads.
    pub twins: Vec<TwinSpec>,
}

impl StageSpec {
    /// Whether the stage declared `need`.
    pub fn needs(&self, need: Need) -> bool {
        self.needs.contains(&need)
    }

    /// The storage item is loaded (storage-item, asset or frames declared).
    pub fn loads_item(&self) -> bool {
        self.loads_media() || self.needs(Need::StorageItem)
    }

    /// The media is fetched to local disk (asset or frames declared).
    pub fn loads_media(&self) -> bool {
        self.needs(Need::Asset) || self.needs(Need::Frames)
    }
}

/// Something the host loads before a stage's handler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    LabelRow,
    LabelRowMetadata,
    StorageItem,
    Asset,
    Frames,
}

impl Need {
    /// The need's name in WIT and in `inspect`.
    pub fn name(self) -> &'static str {
        match self {
            Need::LabelRow => "label-row",
            Need::LabelRowMetadata => "label-row-metadata",
            Need::StorageItem => "storage-item",
            Need::Asset => "asset",
            Need::Frames => "frames",
        }
    }
}

/// A twin project a stage reads (and may write).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TwinSpec {
    pub project_hash: String,
    /// Also find the twin's workflow task.
    pub include_task: bool,
}

/// What a handler decided for one task, as it returned it (unchecked).
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub route: Route,
    /// A label row to save (Encord label-row JSON).
    pub label_row: Option<String>,
    /// A priority to set on the task.
    pub priority: Option<f32>,
}

/// Where a task goes after its handler ran.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    Stay,
    /// A pathway name, or a pathway uuid.
    Pathway(String),
}
