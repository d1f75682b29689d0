//! The embedded local store: SQLite (bundled) with media files beside it.
//!
//! A store is a directory: `store.sqlite` plus `media/`. It holds projects
//! with their ontology and workflow, data units, tasks and label rows, in
//! the shapes Encord uses, so the emulator can serve it over the wire.

mod demo;
mod row;
mod schema;
mod spec;
mod status;
pub mod text_image;

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};

use crate::sqlite::{connect, Cached, Shared};

use crate::platform::{
    DataItem, LabelRowQuery, LabelRowRecord, LabelSave, MoveAction, Platform, PlatformError,
    Project, Task, TaskPage, TwinRecord, TwinTask, Workflow,
};

pub use crate::emulator::store::{RowMetadata, StorageItem};
pub use demo::{add_data, add_images, create_demo, create_demo_with};
pub(crate) use row::RowFields;
pub(crate) use row::{blank_row, RowShape, UnitLink};
pub use spec::{create_project, ProjectSpec};
pub use status::{export_label_rows, stage_counts, StageCount};

/// How many tasks one page of `list_tasks` returns.
const PAGE_SIZE: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store `{0}` does not exist: create one with `runner-host local demo --store {0}`")]
    Missing(String),
    #[error("`{path}` is not a runner-host store ({reason})")]
    NotAStore { path: String, reason: String },
    #[error("store `{path}`: {message}")]
    Sql { path: String, message: String },
    #[error("store `{path}`: {message}")]
    Io { path: String, message: String },
    #[error("project spec `{path}`: {message}")]
    Spec { path: String, message: String },
    #[error("`{path}`: {message}")]
    File { path: String, message: String },
}

/// How [`LocalStore::save_rows`] finds each row to save.
pub(crate) enum RowKey {
    DataHash,
    LabelHash,
}

/// An open local store.
pub struct LocalStore {
    dir: PathBuf,
    /// A second, read-only connection for reads. In WAL mode it reads the
    /// last commit while a write is in progress on `conn`: the emulator's
    /// task pages and signature checks no longer wait behind a bundle of
    /// saves (a page waited ~2 ms for the lock under load). Declared before
    /// `conn` so it closes first: the last connection to close checkpoints
    /// the WAL and removes it, which a read-only one cannot do.
    reader: Shared,
    conn: Shared,
}

impl LocalStore {
    /// One page of a stage's tasks, oldest first; with `data_hashes`, only
    /// the tasks of those data units (filtered before paging, as Encord's
    /// `dataHashes` filter does, so no page of a filtered listing is empty).
    pub fn task_page(
        &self,
        project_hash: &str,
        stage_uuid: &str,
        page_token: Option<&str>,
        data_hashes: &[&str],
    ) -> Result<TaskPage, PlatformError> {
        // Keyset pagination on the task's sequence number: tasks that left
        // the stage meanwhile never shift later pages.
        let after: i64 = match page_token {
            None => 0,
            Some(t) => t.parse().map_err(|_| {
                PlatformError::Rejected(format!("page token `{t}` is not one this store issued"))
            })?,
        };
        let filter = (!data_hashes.is_empty())
            .then(|| serde_json::to_string(data_hashes).unwrap_or_default());
        let conn = self.read();
        let mut st = conn
            .prepare_cached(
                "SELECT t.seq, t.task_uuid, t.data_hash, d.title, t.branch_name, t.status,
                        t.assignee, t.last_actioned_by, t.created_at, t.updated_at
                 FROM tasks t JOIN data_units d ON d.data_hash = t.data_hash
                 WHERE t.project_hash = ?1 AND t.stage_uuid = ?2 AND t.seq > ?3
                   AND (?5 IS NULL OR t.data_hash IN (SELECT value FROM json_each(?5)))
                 ORDER BY t.seq LIMIT ?4",
            )
            .map_err(|e| self.sql_err(e))?;
        let rows: Vec<(i64, Task)> = st
            .query_map(
                params![
                    project_hash,
                    stage_uuid,
                    after,
                    PAGE_SIZE as i64 + 1,
                    filter
                ],
                |r| {
                    Ok((
                        r.get(0)?,
                        Task {
                            uuid: r.get(1)?,
                            data_hash: r.get(2)?,
                            data_title: r.get(3)?,
                            label_branch_name: r.get(4)?,
                            status: r.get(5)?,
                            assignee: r.get(6)?,
                            last_actioned_by: r.get(7)?,
                            created_at: task_time(r.get(8)?),
                            updated_at: task_time(r.get(9)?),
                        },
                    ))
                },
            )
            .map_err(|e| self.sql_err(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.sql_err(e))?;
        let more = rows.len() > PAGE_SIZE;
        let page: Vec<(i64, Task)> = rows.into_iter().take(PAGE_SIZE).collect();
        let next_page_token = if more {
            page.last().map(|(seq, _)| seq.to_string())
        } else {
            None
        };
        Ok(TaskPage {
            tasks: page.into_iter().map(|(_, t)| t).collect(),
            next_page_token,
        })
    }

    /// Opens an existing store; never creates one.
    pub fn open(dir: &Path) -> Result<LocalStore, StoreError> {
        let db = dir.join("store.sqlite");
        if !db.is_file() {
            return Err(StoreError::Missing(dir.display().to_string()));
        }
        let conn = connect(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE).map_err(|e| {
            StoreError::NotAStore {
                path: dir.display().to_string(),
                reason: e.to_string(),
            }
        })?;
        schema::check(&conn).map_err(|reason| StoreError::NotAStore {
            path: dir.display().to_string(),
            reason,
        })?;
        schema::tune(&conn).map_err(|e| StoreError::Sql {
            path: dir.display().to_string(),
            message: e.to_string(),
        })?;
        LocalStore::with_reader(dir, conn)
    }

    /// Creates a store (or opens the one there), with its schema.
    pub fn create(dir: &Path) -> Result<LocalStore, StoreError> {
        let io = |e: std::io::Error| StoreError::Io {
            path: dir.display().to_string(),
            message: e.to_string(),
        };
        std::fs::create_dir_all(dir.join("media")).map_err(io)?;
        let conn =
            connect(&dir.join("store.sqlite"), rusqlite::OpenFlags::default()).map_err(|e| {
                StoreError::NotAStore {
                    path: dir.display().to_string(),
                    reason: e.to_string(),
                }
            })?;
        schema::create(&conn)
            .and_then(|()| schema::tune(&conn))
            .map_err(|e| StoreError::Sql {
                path: dir.display().to_string(),
                message: e.to_string(),
            })?;
        LocalStore::with_reader(dir, conn)
    }

    /// The store around its writer `conn` (schema checked and tuned), with
    /// its read-only connection opened beside it.
    fn with_reader(dir: &Path, mut conn: Connection) -> Result<LocalStore, StoreError> {
        // Every write transaction takes the write lock when it begins, so it
        // waits (busy timeout) for another process holding it; a deferred one
        // that read first fails at once with "database is locked" instead.
        conn.set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
        let sql = |e: rusqlite::Error| StoreError::Sql {
            path: dir.display().to_string(),
            message: e.to_string(),
        };
        let reader = connect(
            &dir.join("store.sqlite"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .map_err(sql)?;
        schema::tune_reader(&reader).map_err(sql)?;
        Ok(LocalStore {
            dir: dir.to_path_buf(),
            reader: Shared::new(reader),
            conn: Shared::new(conn),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn sql_err(&self, e: rusqlite::Error) -> PlatformError {
        PlatformError::Store(format!("store `{}`: {e}", self.dir.display()))
    }

    /// The read-write connection.
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock()
    }

    /// The read-only connection. It sees what `conn` has committed; a read
    /// of several statements runs in one transaction (one snapshot).
    pub(crate) fn read(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.reader.lock()
    }

    /// Saves label rows, all or none, each found by its data hash or by its
    /// label hash (`by`): `Ok(Err(key))` names the first key with no row.
    /// A saved row keeps its label hash (or gets one), is stamped as edited
    /// now, and a row not yet labelled becomes in progress.
    pub(crate) fn save_rows(
        &self,
        project_hash: &str,
        by: RowKey,
        rows: Vec<(String, RowFields)>,
    ) -> Result<Result<(), String>, PlatformError> {
        let find = match by {
            RowKey::DataHash => {
                "SELECT data_hash, label_hash FROM label_rows WHERE project_hash = ?1 AND data_hash = ?2"
            }
            RowKey::LabelHash => {
                "SELECT data_hash, label_hash FROM label_rows WHERE project_hash = ?1 AND label_hash = ?2"
            }
        };
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.sql_err(e))?;
        for (key, mut row) in rows {
            let found: Option<(String, Option<String>)> = tx
                .row_cached(find, params![project_hash, key], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()
                .map_err(|e| self.sql_err(e))?;
            // A row of another branch: found by its data and branch, or by
            // a label hash only a branch row has.
            let branch = row::branch_of(&row);
            let in_branch: Option<(String, Option<String>)> = match (&found, &by) {
                (Some((data_hash, _)), _) if branch != "main" => Some((
                    data_hash.clone(),
                    tx.row_cached(
                        "SELECT label_hash FROM label_branches WHERE project_hash = ?1 AND data_hash = ?2 AND branch_name = ?3",
                        params![project_hash, data_hash, branch],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(|e| self.sql_err(e))?,
                )),
                (None, RowKey::LabelHash) => tx
                    .row_cached(
                        "SELECT data_hash, label_hash FROM label_branches WHERE project_hash = ?1 AND label_hash = ?2",
                        params![project_hash, key],
                        |r| Ok((r.get(0)?, Some(r.get(1)?))),
                    )
                    .optional()
                    .map_err(|e| self.sql_err(e))?,
                _ => None,
            };
            let Some((data_hash, label_hash)) = in_branch.clone().or(found) else {
                return Ok(Err(key));
            };
            let label_hash = label_hash.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            let now = encord_now();
            row.set("label_hash", &label_hash);
            row.set("last_edited_at", &now);
            if row.get("created_at").is_none_or(|v| v == "null") {
                row.set("created_at", &now);
            }
            if row.get("label_status") == Some(r#""NOT_LABELLED""#) {
                row.set("label_status", "LABEL_IN_PROGRESS");
            }
            if in_branch.is_some() {
                tx.exec_cached(
                    "INSERT INTO label_branches (project_hash, data_hash, branch_name, label_hash, row_json)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (project_hash, data_hash, branch_name) DO UPDATE SET label_hash = ?4, row_json = ?5",
                    params![project_hash, data_hash, row::branch_of(&row), label_hash, row.to_text()],
                )
                .map_err(|e| self.sql_err(e))?;
                continue;
            }
            tx.exec_cached(
                "UPDATE label_rows SET label_hash = ?3, row_json = ?4 WHERE project_hash = ?1 AND data_hash = ?2",
                params![project_hash, data_hash, label_hash, row.to_text()],
            )
            .map_err(|e| self.sql_err(e))?;
        }
        tx.commit().map_err(|e| self.sql_err(e))?;
        Ok(Ok(()))
    }

    /// The project hashes in this store.
    pub fn project_hashes(&self) -> Result<Vec<String>, PlatformError> {
        let conn = self.read();
        let mut st = conn
            .prepare_cached("SELECT project_hash FROM projects ORDER BY created_at")
            .map_err(|e| self.sql_err(e))?;
        let rows = st
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| self.sql_err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.sql_err(e))?;
        Ok(rows)
    }

    fn unknown_project(&self, project_hash: &str) -> PlatformError {
        let known = self.project_hashes().unwrap_or_default();
        PlatformError::UnknownProject {
            project_hash: project_hash.to_string(),
            place: format!("store `{}`", self.dir.display()),
            hint: if known.is_empty() {
                "; it holds no projects (create the demo with `runner-host local demo`)".into()
            } else {
                format!("; projects there: {}", known.join(", "))
            },
        }
    }
}

#[async_trait]
impl Platform for LocalStore {
    async fn project(&self, project_hash: &str) -> Result<Project, PlatformError> {
        let row = {
            let conn = self.read();
            conn.row_cached(
                "SELECT title, description, ontology_hash, ontology_json, workflow_json FROM projects WHERE project_hash = ?1",
                [project_hash],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                    ))
                },
            )
            .optional()
            .map_err(|e| self.sql_err(e))?
        };
        let (title, description, ontology_hash, ontology_json, workflow_json) =
            row.ok_or_else(|| self.unknown_project(project_hash))?;
        let workflow: Workflow = serde_json::from_str(&workflow_json).map_err(|e| {
            PlatformError::Store(format!(
                "workflow of project `{project_hash}` is corrupt: {e}"
            ))
        })?;
        Ok(Project {
            project_hash: project_hash.to_string(),
            title,
            description,
            ontology_hash,
            ontology_json,
            workflow,
        })
    }

    async fn list_tasks(
        &self,
        project_hash: &str,
        stage_uuid: &str,
        page_token: Option<&str>,
    ) -> Result<TaskPage, PlatformError> {
        self.task_page(project_hash, stage_uuid, page_token, &[])
    }

    async fn label_rows(
        &self,
        project_hash: &str,
        data_hashes: &[String],
        query: &LabelRowQuery,
    ) -> Result<Vec<LabelRowRecord>, PlatformError> {
        // The run's label-row options shape the rows as Encord does: the
        // feature-hash filters and reviews; a signed URL is, here, the media
        // file's own `file://` URL.
        let link = |_: &str, _: u64, stored: Option<&str>| {
            stored.map(|s| format!("file://{}", self.dir.join(s).display()))
        };
        let shape = row::RowShape {
            objects: query.include_object_feature_hashes.as_deref(),
            classifications: query.include_classification_feature_hashes.as_deref(),
            reviews: query.include_reviews,
            link: query
                .include_signed_url
                .then_some(&link as &crate::local::UnitLink<'_>),
        };
        let conn = self.read();
        let conn = conn.unchecked_transaction().map_err(|e| self.sql_err(e))?;
        let mut st = conn
            .prepare_cached(
                "SELECT l.label_hash, l.row_json, t.priority, d.item_uuid FROM label_rows l
                 JOIN data_units d ON d.data_hash = l.data_hash
                 LEFT JOIN tasks t ON t.project_hash = l.project_hash AND t.data_hash = l.data_hash
                 WHERE l.project_hash = ?1 AND l.data_hash = ?2",
            )
            .map_err(|e| self.sql_err(e))?;
        data_hashes
            .iter()
            .map(|h| {
                let (label_hash, json, priority, item_uuid) = st
                    .query_row(params![project_hash, h], |r| {
                        Ok((
                            r.get::<_, Option<String>>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, Option<f64>>(2)?,
                            r.get::<_, String>(3)?,
                        ))
                    })
                    .optional()
                    .map_err(|e| self.sql_err(e))?
                    .ok_or_else(|| {
                        PlatformError::Store(format!(
                            "no label row for data `{h}` in project `{project_hash}`"
                        ))
                    })?;
                // Another branch than `main`: its row, or before its first
                // save the same data with no labels.
                let (label_hash, json) = match query.branch_name.as_deref() {
                    Some(branch) if branch != "main" => match conn
                        .row_cached(
                            "SELECT label_hash, row_json FROM label_branches
                             WHERE project_hash = ?1 AND data_hash = ?2 AND branch_name = ?3",
                            params![project_hash, h, branch],
                            |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
                        )
                        .optional()
                        .map_err(|e| self.sql_err(e))?
                    {
                        Some((hash, json)) => (Some(hash), json),
                        None => (
                            None,
                            row::blank_row(&json, branch).map_err(|e| {
                                PlatformError::Store(format!(
                                    "the stored label row of `{h}` is corrupt: {e}"
                                ))
                            })?,
                        ),
                    },
                    _ => (label_hash, json),
                };
                let json = if query.with_labels {
                    Some(shape.apply(json).map_err(|e| {
                        PlatformError::Store(format!(
                            "the stored label row of `{h}` is corrupt: {e}"
                        ))
                    })?)
                } else {
                    None
                };
                Ok(LabelRowRecord {
                    data_hash: h.clone(),
                    label_hash,
                    priority: priority.map(|p| p as f32),
                    json,
                    item_uuid: Some(item_uuid),
                })
            })
            .collect()
    }

    async fn save_labels(
        &self,
        project_hash: &str,
        saves: &[LabelSave],
    ) -> Result<(), PlatformError> {
        let mut rows = Vec::with_capacity(saves.len());
        for s in saves {
            let row = RowFields::parse(&s.json).map_err(|e| {
                PlatformError::Rejected(format!(
                    "label row of `{}` is not a JSON object: {e}",
                    s.data_hash
                ))
            })?;
            rows.push((s.data_hash.clone(), row));
        }
        self.save_rows(project_hash, RowKey::DataHash, rows)?
            .map_err(|data_hash| {
                PlatformError::NotFound(format!(
                    "no label row for data `{data_hash}` in project `{project_hash}`"
                ))
            })
    }

    async fn set_priorities(
        &self,
        project_hash: &str,
        priorities: &[(String, f32)],
    ) -> Result<(), PlatformError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.sql_err(e))?;
        let now = task_now();
        for (data_hash, p) in priorities {
            tx.exec_cached(
                "UPDATE tasks SET priority = ?3, updated_at = ?4 WHERE project_hash = ?1 AND data_hash = ?2",
                params![project_hash, data_hash, shortest_f64(*p), now],
            )
            .map_err(|e| self.sql_err(e))?;
        }
        tx.commit().map_err(|e| self.sql_err(e))
    }

    async fn data_items(
        &self,
        _project_hash: &str,
        data_hashes: &[String],
        _known_items: &[Option<String>],
    ) -> Result<Vec<Option<DataItem>>, PlatformError> {
        let uuids: Vec<Option<String>> = {
            let conn = self.read();
            let conn = conn.unchecked_transaction().map_err(|e| self.sql_err(e))?;
            let mut st = conn
                .prepare_cached("SELECT item_uuid FROM data_units WHERE data_hash = ?1")
                .map_err(|e| self.sql_err(e))?;
            data_hashes
                .iter()
                .map(|h| {
                    st.query_row([h], |r| r.get(0))
                        .optional()
                        .map_err(|e| self.sql_err(e))
                })
                .collect::<Result<_, _>>()?
        };
        uuids
            .into_iter()
            .map(|uuid| {
                let Some(uuid) = uuid else { return Ok(None) };
                let Some(item) = self.storage_items(&[uuid])?.pop().flatten() else {
                    return Ok(None);
                };
                let children = self.child_items(&item.uuid)?;
                Ok(Some(self.data_item(item, children)))
            })
            .collect()
    }

    async fn set_client_metadata(&self, updates: &[(String, String)]) -> Result<(), PlatformError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.sql_err(e))?;
        for (uuid, json) in updates {
            let n = tx
                .exec_cached(
                    "UPDATE storage_items SET client_metadata = ?2 WHERE uuid = ?1",
                    params![uuid, json],
                )
                .map_err(|e| self.sql_err(e))?;
            if n != 1 {
                return Err(PlatformError::NotFound(format!("no storage item `{uuid}`")));
            }
        }
        tx.commit().map_err(|e| self.sql_err(e))
    }

    async fn twins(
        &self,
        project_hash: &str,
        data_hashes: &[String],
        include_task: bool,
    ) -> Result<Vec<Option<TwinRecord>>, PlatformError> {
        // The twin project must exist: a typo is an error, not "no twins".
        self.project(project_hash).await?;
        let conn = self.read();
        let conn = conn.unchecked_transaction().map_err(|e| self.sql_err(e))?;
        let mut st = conn
            .prepare_cached(
                "SELECT l.row_json, t.task_uuid, t.stage_uuid, t.status, t.branch_name, d.title,
                        t.assignee, t.last_actioned_by, t.created_at, t.updated_at
                 FROM label_rows l JOIN data_units d ON d.data_hash = l.data_hash
                 LEFT JOIN tasks t ON t.project_hash = l.project_hash AND t.data_hash = l.data_hash
                 WHERE l.project_hash = ?1 AND l.data_hash = ?2",
            )
            .map_err(|e| self.sql_err(e))?;
        data_hashes
            .iter()
            .map(|h| {
                st.query_row(params![project_hash, h], |r| {
                    let task_uuid: Option<String> = r.get(1)?;
                    let task = match (task_uuid, include_task) {
                        (Some(uuid), true) => Some(TwinTask {
                            task: Task {
                                uuid,
                                data_hash: h.clone(),
                                data_title: r.get(5)?,
                                label_branch_name: r.get(4)?,
                                status: r.get(3)?,
                                assignee: r.get(6)?,
                                last_actioned_by: r.get(7)?,
                                created_at: task_time(r.get(8)?),
                                updated_at: task_time(r.get(9)?),
                            },
                            stage_uuid: r.get(2)?,
                        }),
                        _ => None,
                    };
                    Ok(TwinRecord {
                        label_row: r.get(0)?,
                        task,
                    })
                })
                .optional()
                .map_err(|e| self.sql_err(e))
            })
            .collect()
    }

    async fn move_tasks(
        &self,
        project_hash: &str,
        stage_uuid: &str,
        actions: &[MoveAction],
    ) -> Result<(), PlatformError> {
        let project = self.project(project_hash).await?;
        let stage = project.workflow.stage(stage_uuid).ok_or_else(|| {
            PlatformError::Rejected(format!(
                "no stage `{stage_uuid}` in project `{project_hash}`"
            ))
        })?;
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.sql_err(e))?;
        // Validate everything first: all or none, as Encord does.
        let mut moves = Vec::with_capacity(actions.len());
        for a in actions {
            let pathway = stage
                .pathways()
                .iter()
                .find(|p| p.uuid == a.pathway_uuid)
                .ok_or_else(|| {
                    PlatformError::Rejected(format!(
                        "stage `{}` has no pathway `{}`",
                        stage.title, a.pathway_uuid
                    ))
                })?;
            let at = stage_of(&tx, project_hash, &a.task_uuid).map_err(|e| self.sql_err(e))?;
            if at.as_deref() != Some(stage_uuid) {
                return Err(PlatformError::NotInStage {
                    task_uuid: a.task_uuid.clone(),
                    stage: stage.title.clone(),
                });
            }
            moves.push((a.task_uuid.clone(), pathway.destination_uuid.clone()));
        }
        // Moved tasks go to the end of their new stage, in this order.
        let now = task_now();
        let last: i64 = tx
            .row_cached("SELECT COALESCE(MAX(seq), 0) FROM tasks", [], |r| r.get(0))
            .map_err(|e| self.sql_err(e))?;
        for (seq, (task, dest)) in (last + 1..).zip(moves) {
            tx.exec_cached(
                "UPDATE tasks SET stage_uuid = ?3, status = 'NEW', seq = ?4, updated_at = ?5
                 WHERE project_hash = ?1 AND task_uuid = ?2",
                params![project_hash, task, dest, seq, now],
            )
            .map_err(|e| self.sql_err(e))?;
        }
        tx.commit().map_err(|e| self.sql_err(e))
    }

    async fn task_in_stage(
        &self,
        project_hash: &str,
        stage_uuid: &str,
        task: &Task,
    ) -> Result<bool, PlatformError> {
        let at = stage_of(&self.read(), project_hash, &task.uuid).map_err(|e| self.sql_err(e))?;
        Ok(at.as_deref() == Some(stage_uuid))
    }
}

/// The stage a task sits in, if the project has the task.
fn stage_of(
    conn: &Connection,
    project_hash: &str,
    task_uuid: &str,
) -> rusqlite::Result<Option<String>> {
    conn.row_cached(
        "SELECT stage_uuid FROM tasks WHERE project_hash = ?1 AND task_uuid = ?2",
        params![project_hash, task_uuid],
        |r| r.get(0),
    )
    .optional()
}

/// Now, as Encord writes a task's times (`2024-05-01T10:00:00.000000+00:00`).
pub(crate) fn task_now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6f+00:00")
        .to_string()
}

/// A task's stored time; tasks of a store made before tasks had times read
/// as made at the emulator's epoch.
fn task_time(stored: Option<String>) -> String {
    stored.unwrap_or_else(|| "2024-05-01T10:00:00.000000+00:00".to_string())
}

/// Now, as Encord writes label-row dates.
pub(crate) fn encord_now() -> String {
    chrono::Utc::now()
        .format("%a, %d %b %Y %H:%M:%S UTC")
        .to_string()
}

/// An f32 as the f64 with the same shortest decimal form (0.8, not
/// 0.800000011920929), so stored priorities read as they were set.
fn shortest_f64(p: f32) -> f64 {
    p.to_string().parse().unwrap_or(f64::from(p))
}
