//! `runner-host local project --spec FILE`: a project of your own in the
//! local store — its ontology, its workflow, its data, and who last acted
//! on each task — to try an agent on before pointing it at Encord.
//!
//! ```json
//! {
//!   "title": "Birds",
//!   "ontology": "ontology.json",
//!   "stages": [
//!     {"title": "router", "type": "AGENT", "pathways": [{"name": "Pass", "to": "Complete"}]},
//!     {"title": "Complete", "type": "DONE"}
//!   ],
//!   "data": [{"title": "1.jpg", "last_actioned_by": "expert@example.com"}]
//! }
//! ```
//!
//! `ontology` is Encord's ontology JSON, inline or a file beside the spec.
//! Each data item is a generated image whose task starts in `stage` (by
//! default the first agent stage). `twin_of` makes the project a twin of
//! another in the store: its data is that project's, matched by title.

use std::path::Path;

use rusqlite::params;
use serde::Deserialize;

use super::demo::{new_uuid, sql, DataWriter};
use super::{LocalStore, StoreError};
use crate::platform::{Pathway, Workflow, WorkflowStage};

/// The stage types Encord's workflows have.
const STAGE_TYPES: &[&str] = &[
    "AGENT",
    "ANNOTATION",
    "REVIEW",
    "CONSENSUS_ANNOTATION",
    "CONSENSUS_REVIEW",
    "DONE",
];

/// The task statuses Encord's task listing has.
const STATUSES: &[&str] = &[
    "NEW",
    "ASSIGNED",
    "RELEASED",
    "SKIPPED",
    "REOPENED",
    "COMPLETED",
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectSpec {
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// Encord's ontology JSON (`objects`, `classifications`), or the path of
    /// a file holding it, relative to the spec.
    pub ontology: serde_json::Value,
    pub stages: Vec<StageSpec>,
    #[serde(default)]
    pub data: Vec<DataSpec>,
    /// The hash of a project in the same store whose data this one shares.
    #[serde(default)]
    pub twin_of: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageSpec {
    pub title: String,
    /// The stage's uuid (default: a new one).
    #[serde(default)]
    pub uuid: Option<String>,
    #[serde(rename = "type")]
    pub stage_type: String,
    #[serde(default)]
    pub pathways: Vec<PathwaySpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathwaySpec {
    pub name: String,
    /// The title of the stage it leads to.
    pub to: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    pub title: String,
    /// The stage its task starts in (default: the first agent stage).
    #[serde(default)]
    pub stage: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub assignee: Option<String>,
    #[serde(default)]
    pub last_actioned_by: Option<String>,
    #[serde(default)]
    pub priority: Option<f32>,
}

fn bad(spec: &Path, why: impl std::fmt::Display) -> StoreError {
    StoreError::Spec {
        path: spec.display().to_string(),
        message: why.to_string(),
    }
}

impl ProjectSpec {
    /// Reads and checks a spec file.
    pub fn read(path: &Path) -> Result<(ProjectSpec, String), StoreError> {
        let text = std::fs::read_to_string(path).map_err(|e| bad(path, e))?;
        let spec: ProjectSpec = serde_json::from_str(&text)
            .map_err(|e| bad(path, format!("not a project spec: {e}")))?;
        let ontology =
            match &spec.ontology {
                serde_json::Value::String(file) => {
                    let file = path.parent().unwrap_or(Path::new(".")).join(file);
                    std::fs::read_to_string(&file)
                        .map_err(|e| bad(path, format!("its ontology `{}`: {e}", file.display())))?
                }
                serde_json::Value::Object(_) => spec.ontology.to_string(),
                _ => return Err(bad(
                    path,
                    "`ontology` must be Encord's ontology JSON or the name of a file holding it",
                )),
            };
        encord_labels::Ontology::parse(&ontology).map_err(|e| {
            bad(
                path,
                format!("its ontology is not one runner-host reads: {e}"),
            )
        })?;
        spec.check().map_err(|e| bad(path, e))?;
        Ok((spec, ontology))
    }

    fn check(&self) -> Result<(), String> {
        if self.stages.is_empty() {
            return Err("`stages` is empty: a workflow needs at least one stage".into());
        }
        let mut titles = std::collections::HashSet::new();
        for s in &self.stages {
            if !titles.insert(s.title.as_str()) {
                return Err(format!("two stages are titled `{}`", s.title));
            }
            if let Some(u) = &s.uuid {
                if uuid::Uuid::parse_str(u).is_err() {
                    return Err(format!(
                        "stage `{}` has uuid `{u}`, which is not a UUID",
                        s.title
                    ));
                }
            }
            if !STAGE_TYPES.contains(&s.stage_type.as_str()) {
                return Err(format!(
                    "stage `{}` has type `{}`; Encord's types are {}",
                    s.title,
                    s.stage_type,
                    STAGE_TYPES.join(", ")
                ));
            }
            if s.stage_type != "AGENT" && !s.pathways.is_empty() {
                return Err(format!(
                    "stage `{}` is not an agent stage: only agent stages have pathways",
                    s.title
                ));
            }
        }
        for s in &self.stages {
            for p in &s.pathways {
                if !titles.contains(p.to.as_str()) {
                    return Err(format!(
                        "pathway `{}` of stage `{}` leads to `{}`, which is not a stage of this spec",
                        p.name, s.title, p.to
                    ));
                }
            }
        }
        let default_stage = self.stages.iter().any(|s| s.stage_type == "AGENT");
        let mut seen = std::collections::HashSet::new();
        for d in &self.data {
            if !seen.insert(d.title.as_str()) {
                return Err(format!("two data items are titled `{}`", d.title));
            }
            match &d.stage {
                Some(s) if !titles.contains(s.as_str()) => {
                    return Err(format!(
                        "data `{}` starts in stage `{s}`, which is not a stage of this spec",
                        d.title
                    ))
                }
                None if !default_stage => {
                    return Err(format!(
                        "data `{}` names no stage and the workflow has no agent stage to start in",
                        d.title
                    ))
                }
                _ => {}
            }
            if let Some(st) = &d.status {
                if !STATUSES.contains(&st.as_str()) {
                    return Err(format!(
                        "data `{}` has status `{st}`; Encord's are {}",
                        d.title,
                        STATUSES.join(", ")
                    ));
                }
            }
            if let Some(p) = d.priority {
                if !(0.0..=1.0).contains(&p) {
                    return Err(format!(
                        "data `{}` has priority {p}, outside [0, 1]",
                        d.title
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Creates the project a spec describes in the store at `dir` (creating
/// the store if needed); returns its project hash.
pub fn create_project(dir: &Path, spec_path: &Path) -> Result<String, StoreError> {
    let (spec, ontology) = ProjectSpec::read(spec_path)?;
    let store = LocalStore::create(dir)?;
    let project_hash = new_uuid();
    let uuids: Vec<String> = spec
        .stages
        .iter()
        .map(|s| s.uuid.clone().unwrap_or_else(new_uuid))
        .collect();
    let uuid_of = |title: &str| {
        spec.stages
            .iter()
            .zip(&uuids)
            .find(|(s, _)| s.title == title)
            .map(|(_, u)| u.clone())
            .expect("checked: every stage title exists")
    };
    let workflow = Workflow {
        stages: spec
            .stages
            .iter()
            .zip(&uuids)
            .map(|(s, uuid)| WorkflowStage {
                stage_type: s.stage_type.clone(),
                uuid: uuid.clone(),
                title: s.title.clone(),
                pathways: (s.stage_type == "AGENT").then(|| {
                    s.pathways
                        .iter()
                        .map(|p| Pathway {
                            uuid: new_uuid(),
                            name: p.name.clone(),
                            destination_uuid: uuid_of(&p.to),
                        })
                        .collect()
                }),
            })
            .collect(),
    };
    let first_agent = spec
        .stages
        .iter()
        .find(|s| s.stage_type == "AGENT")
        .map(|s| uuid_of(&s.title));

    let mut conn = store.lock();
    let tx = conn.transaction().map_err(|e| sql(dir, e))?;
    tx.execute(
        "INSERT INTO projects (project_hash, title, description, ontology_hash, ontology_json, workflow_json, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            project_hash,
            spec.title,
            spec.description,
            new_uuid(),
            ontology,
            serde_json::to_string(&workflow).expect("workflow serialises"),
            chrono::Utc::now().to_rfc3339()
        ],
    )
    .map_err(|e| sql(dir, e))?;
    let seq: i64 = tx
        .query_row("SELECT COALESCE(MAX(seq), 0) FROM tasks", [], |r| r.get(0))
        .map_err(|e| sql(dir, e))?;
    let mut w = DataWriter {
        tx: &tx,
        dir,
        project_hash: project_hash.clone(),
        dataset_hash: new_uuid(),
        folder: new_uuid(),
        stage: String::new(),
        seq,
        dims: (64, 48),
    };
    for (i, d) in spec.data.iter().enumerate() {
        let stage = match &d.stage {
            Some(s) => uuid_of(s),
            None => first_agent.clone().expect("checked: an agent stage exists"),
        };
        let data_hash = match &spec.twin_of {
            None => {
                w.stage = stage;
                w.image(&d.title, 5000 + i as u32, false)?
            }
            Some(source) => {
                twin_data(&tx, dir, source, &project_hash, &d.title, &stage, spec_path)?
            }
        };
        tx.execute(
            "UPDATE tasks SET status = COALESCE(?3, status), assignee = ?4, last_actioned_by = ?5, priority = ?6
             WHERE project_hash = ?1 AND data_hash = ?2",
            params![
                project_hash,
                data_hash,
                d.status,
                d.assignee,
                d.last_actioned_by,
                d.priority.map(f64::from)
            ],
        )
        .map_err(|e| sql(dir, e))?;
    }
    tx.commit().map_err(|e| sql(dir, e))?;
    Ok(project_hash)
}

/// Adds data `title` of project `source` to its twin `project_hash`: an
/// empty label row of the same data and a task in `stage`.
fn twin_data(
    tx: &rusqlite::Transaction<'_>,
    dir: &Path,
    source: &str,
    project_hash: &str,
    title: &str,
    stage: &str,
    spec_path: &Path,
) -> Result<String, StoreError> {
    use rusqlite::OptionalExtension;
    let found: Option<(String, String)> = tx
        .query_row(
            "SELECT d.data_hash, l.row_json FROM data_units d
             JOIN label_rows l ON l.data_hash = d.data_hash AND l.project_hash = d.project_hash
             WHERE d.project_hash = ?1 AND d.title = ?2",
            params![source, title],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(|e| sql(dir, e))?;
    let (data_hash, row) = found.ok_or_else(|| {
        bad(
            spec_path,
            format!("data `{title}` is not in project `{source}` (`twin_of`)"),
        )
    })?;
    let row = super::row::blank_row(&row, "main").map_err(|e| bad(spec_path, e))?;
    tx.execute(
        "INSERT INTO label_rows (project_hash, data_hash, label_hash, row_json) VALUES (?1, ?2, NULL, ?3)",
        params![project_hash, data_hash, row],
    )
    .map_err(|e| sql(dir, e))?;
    tx.execute(
        "INSERT INTO tasks (task_uuid, project_hash, data_hash, stage_uuid, status, branch_name, priority, seq, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, 'NEW', 'main', NULL, (SELECT COALESCE(MAX(seq), 0) + 1 FROM tasks), ?5, ?5)",
        params![new_uuid(), project_hash, data_hash, stage, super::task_now()],
    )
    .map_err(|e| sql(dir, e))?;
    Ok(data_hash)
}
