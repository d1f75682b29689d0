//! The emulator's queries of the embedded store, in Encord's wire shapes
//! (docs/encord-wire.md): label row metadata, label rows by label hash,
//! row creation, storage items, stage moves, and the registered keys.
//! They are methods of [`LocalStore`] written here, next to the handlers
//! that serve them, on the store's own connections.

use ed25519_dalek::VerifyingKey;
use rusqlite::{params, OptionalExtension};
use serde_json::{json, Value};

use crate::local::{encord_now, LocalStore, RowFields};
use crate::platform::{DataItem, Media, PlatformError, Project};
use crate::sqlite::Cached;

/// A storage item and where its bytes are.
#[derive(Debug, Clone)]
pub struct StorageItem {
    pub uuid: String,
    pub folder_uuid: String,
    pub name: String,
    pub item_type: String,
    pub mime_type: Option<String>,
    pub file: Option<String>,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub frames: Option<i64>,
    pub fps: Option<f64>,
    pub file_size: Option<i64>,
    pub client_metadata: String,
    pub created_at: String,
}

const ITEM_COLUMNS: &str =
    "uuid, folder_uuid, name, item_type, mime_type, file, width, height, frames, fps, file_size, client_metadata, created_at";

fn item_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StorageItem> {
    Ok(StorageItem {
        uuid: r.get(0)?,
        folder_uuid: r.get(1)?,
        name: r.get(2)?,
        item_type: r.get(3)?,
        mime_type: r.get(4)?,
        file: r.get(5)?,
        width: r.get(6)?,
        height: r.get(7)?,
        frames: r.get(8)?,
        fps: r.get(9)?,
        file_size: r.get(10)?,
        client_metadata: r.get(11)?,
        created_at: r.get(12)?,
    })
}

/// A branch row's metadata: branch, label hash, created, last edited, status.
type BranchRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// One label row's metadata (§3d), in the order Encord writes the keys.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RowMetadata {
    pub label_hash: Option<String>,
    branch_name: String,
    created_at: Option<String>,
    last_edited_at: Option<String>,
    pub data_hash: String,
    dataset_hash: String,
    dataset_title: &'static str,
    pub data_title: String,
    data_type: String,
    data_link: Option<String>,
    label_status: String,
    annotation_task_status: &'static str,
    workflow_graph_node: Option<GraphNode>,
    is_shadow_data: bool,
    number_of_frames: i64,
    frames_per_second: Option<f64>,
    duration: Option<f64>,
    width: i64,
    height: i64,
    file_type: String,
    spaces: Spaces,
    task_uuid: Option<String>,
    priority: Option<f64>,
    backing_item_uuid: String,
    is_valid: bool,
    /// Only when asked for (`include_client_metadata`).
    #[serde(skip_serializing_if = "Option::is_none")]
    client_metadata: Option<Value>,
}

#[derive(Debug, Clone, serde::Serialize)]
struct GraphNode {
    uuid: String,
    title: String,
}

/// Always `{}`: the store has no spaces.
#[derive(Debug, Clone, serde::Serialize)]
struct Spaces {}

impl LocalStore {
    /// Registers an OpenSSH Ed25519 public key; returns its hex key id.
    pub fn add_public_key(
        &self,
        key: &VerifyingKey,
        comment: &str,
    ) -> Result<String, PlatformError> {
        let hex_id = hex::encode(key.as_bytes());
        self.lock()
            .exec_cached(
                "INSERT OR REPLACE INTO public_keys (key_hex, comment) VALUES (?1, ?2)",
                params![hex_id, comment],
            )
            .map_err(|e| self.sql_err(e))?;
        Ok(hex_id)
    }

    /// Every registered public key.
    pub fn public_keys(&self) -> Result<Vec<VerifyingKey>, PlatformError> {
        let conn = self.read();
        let mut st = conn
            .prepare_cached("SELECT key_hex FROM public_keys")
            .map_err(|e| self.sql_err(e))?;
        let hexes: Vec<String> = st
            .query_map([], |r| r.get(0))
            .map_err(|e| self.sql_err(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.sql_err(e))?;
        Ok(hexes
            .iter()
            .filter_map(|h| hex::decode(h).ok())
            .filter_map(|b| <[u8; 32]>::try_from(b).ok())
            .filter_map(|b| VerifyingKey::from_bytes(&b).ok())
            .collect())
    }

    /// Label row metadata (§3d) of `project` (as this store read it) for
    /// these data hashes (all when `None`).
    pub fn label_row_metadata(
        &self,
        project: &Project,
        data_hashes: Option<&[String]>,
        include_client_metadata: bool,
    ) -> Result<Vec<RowMetadata>, PlatformError> {
        let project_hash = project.project_hash.as_str();
        // Only the rows asked for, filtered in SQL (a JSON array of data hashes).
        let wanted: Option<String> =
            data_hashes.map(|h| serde_json::to_string(h).expect("strings serialise"));
        // Asked for some rows: the lookup starts from them (CROSS JOIN keeps
        // that order), not from a scan of every row of the project.
        let rows_from = if wanted.is_some() {
            "(SELECT DISTINCT value AS data_hash FROM json_each(?2)) w
             CROSS JOIN label_rows l ON l.project_hash = ?1 AND l.data_hash = w.data_hash"
        } else {
            "label_rows l"
        };
        let mut bound: Vec<&str> = vec![project_hash];
        bound.extend(wanted.as_deref());
        let conn = self.read();
        let mut st = conn
            .prepare_cached(&format!(
                "SELECT d.data_hash, d.dataset_hash, d.title, d.data_type, d.mime_type, d.file, d.width, d.height,
                        d.frames, d.fps, d.item_uuid, l.label_hash,
                        json_extract(l.row_json, '$.created_at'), json_extract(l.row_json, '$.last_edited_at'),
                        t.task_uuid, t.stage_uuid, t.priority, s.client_metadata,
                        json_extract(l.row_json, '$.label_status')
                 FROM {rows_from} JOIN data_units d ON d.data_hash = l.data_hash
                 LEFT JOIN tasks t ON t.project_hash = l.project_hash AND t.data_hash = l.data_hash
                 LEFT JOIN storage_items s ON s.uuid = d.item_uuid
                 WHERE l.project_hash = ?1
                 ORDER BY t.seq"
            ))
            .map_err(|e| self.sql_err(e))?;
        let rows = st
            .query_map(rusqlite::params_from_iter(bound), |r| {
                let data_hash: String = r.get(0)?;
                let data_type: String = r.get(3)?;
                let stage_uuid: Option<String> = r.get(15)?;
                let frames: i64 = r.get(8)?;
                let fps: Option<f64> = r.get(9)?;
                let label_hash: Option<String> = r.get(11)?;
                let file: String = r.get(5)?;
                // Asked for: the item's metadata, `{}` when it has none.
                let client_metadata = if include_client_metadata {
                    let cm: Option<String> = r.get(17)?;
                    Some(
                        cm.and_then(|c| serde_json::from_str(&c).ok())
                            .unwrap_or(json!({})),
                    )
                } else {
                    None
                };
                Ok(RowMetadata {
                    label_hash,
                    branch_name: "main".into(),
                    created_at: r.get(12)?,
                    last_edited_at: r.get(13)?,
                    data_hash,
                    dataset_hash: r.get(1)?,
                    dataset_title: "Demo dataset",
                    data_title: r.get(2)?,
                    data_type: data_type.to_uppercase(),
                    data_link: (!file.is_empty()).then(|| format!("media/{file}")),
                    label_status: r
                        .get::<_, Option<String>>(18)?
                        .unwrap_or_else(|| "NOT_LABELLED".into()),
                    annotation_task_status: "QUEUED",
                    workflow_graph_node: stage_uuid
                        .as_ref()
                        .and_then(|u| project.workflow.stage(u))
                        .map(|s| GraphNode {
                            uuid: s.uuid.clone(),
                            title: s.title.clone(),
                        }),
                    is_shadow_data: false,
                    number_of_frames: frames,
                    frames_per_second: fps,
                    duration: fps.map(|f| frames as f64 / f),
                    width: r.get(6)?,
                    height: r.get(7)?,
                    file_type: r.get(4)?,
                    spaces: Spaces {},
                    task_uuid: r.get(14)?,
                    priority: r.get(16)?,
                    backing_item_uuid: r.get(10)?,
                    is_valid: true,
                    client_metadata,
                })
            })
            .map_err(|e| self.sql_err(e))?
            .collect::<Result<Vec<RowMetadata>, _>>()
            .map_err(|e| self.sql_err(e))?;
        Ok(rows)
    }

    /// Full label rows (§3j) by label hash, as the JSON text stored.
    pub fn label_rows_by_hash(
        &self,
        project_hash: &str,
        label_hashes: &[String],
    ) -> Result<Vec<String>, PlatformError> {
        let conn = self.read();
        let conn = conn.unchecked_transaction().map_err(|e| self.sql_err(e))?;
        // A label hash names a `main` row or a row of another branch.
        let mut st = conn
            .prepare_cached(
                "SELECT row_json FROM label_rows WHERE project_hash = ?1 AND label_hash = ?2
                 UNION ALL
                 SELECT row_json FROM label_branches WHERE project_hash = ?1 AND label_hash = ?2",
            )
            .map_err(|e| self.sql_err(e))?;
        label_hashes
            .iter()
            .map(|h| {
                st.query_row(params![project_hash, h], |r| r.get(0))
                    .optional()
                    .map_err(|e| self.sql_err(e))?
                    .ok_or_else(|| PlatformError::NotFound(format!("no label row `{h}`")))
            })
            .collect()
    }

    /// The row of data `h` on branch `branch`, created (the data with no
    /// labels, a new label hash) if the branch has none yet.
    fn create_branch_row(
        &self,
        tx: &rusqlite::Transaction<'_>,
        project_hash: &str,
        h: &str,
        branch: &str,
    ) -> Result<String, PlatformError> {
        let existing: Option<String> = tx
            .row_cached(
                "SELECT row_json FROM label_branches WHERE project_hash = ?1 AND data_hash = ?2 AND branch_name = ?3",
                params![project_hash, h, branch],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sql_err(e))?;
        if let Some(json) = existing {
            return Ok(json);
        }
        let main: String = tx
            .row_cached(
                "SELECT row_json FROM label_rows WHERE project_hash = ?1 AND data_hash = ?2",
                params![project_hash, h],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sql_err(e))?
            .ok_or_else(|| {
                PlatformError::NotFound(format!("no data `{h}` in project `{project_hash}`"))
            })?;
        let blank = crate::local::blank_row(&main, branch).map_err(|e| {
            PlatformError::Store(format!("the stored label row of `{h}` is corrupt: {e}"))
        })?;
        let mut row = RowFields::parse(&blank).map_err(|e| PlatformError::Store(e.to_string()))?;
        let label_hash = uuid::Uuid::new_v4().to_string();
        let now = encord_now();
        row.set("label_hash", &label_hash);
        row.set("created_at", &now);
        row.set("last_edited_at", &now);
        let json = row.to_text();
        tx.exec_cached(
            "INSERT INTO label_branches (project_hash, data_hash, branch_name, label_hash, row_json) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![project_hash, h, branch, label_hash, json],
        )
        .map_err(|e| self.sql_err(e))?;
        Ok(json)
    }

    /// Label row metadata of other branches than `main`: for `branch`, each
    /// row as that branch holds it (not yet initialised where the branch
    /// has no row); with `all`, the `main` rows and one more per branch row.
    pub fn branch_metadata(
        &self,
        project_hash: &str,
        rows: Vec<RowMetadata>,
        branch: &str,
        all: bool,
    ) -> Result<Vec<RowMetadata>, PlatformError> {
        if !all && branch == "main" {
            return Ok(rows);
        }
        let conn = self.read();
        let mut st = conn
            .prepare_cached(
                "SELECT branch_name, label_hash, json_extract(row_json, '$.created_at'),
                        json_extract(row_json, '$.last_edited_at'), json_extract(row_json, '$.label_status')
                 FROM label_branches WHERE project_hash = ?1 AND data_hash = ?2 ORDER BY branch_name",
            )
            .map_err(|e| self.sql_err(e))?;
        let mut out = Vec::with_capacity(rows.len());
        for main in rows {
            let branches: Vec<BranchRow> = st
                .query_map(params![project_hash, main.data_hash], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })
                .map_err(|e| self.sql_err(e))?
                .collect::<Result<_, _>>()
                .map_err(|e| self.sql_err(e))?;
            let on = |b: &(
                String,
                String,
                Option<String>,
                Option<String>,
                Option<String>,
            )| {
                let mut m = main.clone();
                m.branch_name = b.0.clone();
                m.label_hash = Some(b.1.clone());
                m.created_at = b.2.clone();
                m.last_edited_at = b.3.clone();
                m.label_status = b.4.clone().unwrap_or_else(|| "NOT_LABELLED".into());
                m
            };
            if all {
                let extra: Vec<RowMetadata> = branches.iter().map(on).collect();
                out.push(main);
                out.extend(extra);
            } else {
                let m = match branches.iter().find(|b| b.0 == branch) {
                    Some(b) => on(b),
                    None => {
                        let mut m = main.clone();
                        m.branch_name = branch.to_string();
                        m.label_hash = None;
                        m.created_at = None;
                        m.last_edited_at = None;
                        m.label_status = "NOT_LABELLED".into();
                        m
                    }
                };
                out.push(m);
            }
        }
        Ok(out)
    }

    /// The storage items behind a data unit's label row, by data sequence:
    /// its children in order for an image group, else its own item.
    pub fn unit_items(&self, data_hash: &str) -> Result<Vec<String>, PlatformError> {
        let conn = self.read();
        let item: Option<String> = conn
            .row_cached(
                "SELECT item_uuid FROM data_units WHERE data_hash = ?1",
                params![data_hash],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sql_err(e))?;
        let Some(item) = item else {
            return Ok(Vec::new());
        };
        let mut st = conn
            .prepare_cached(
                "SELECT uuid FROM storage_items WHERE group_uuid = ?1 ORDER BY group_seq",
            )
            .map_err(|e| self.sql_err(e))?;
        let children: Vec<String> = st
            .query_map(params![item], |r| r.get(0))
            .map_err(|e| self.sql_err(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.sql_err(e))?;
        Ok(if children.is_empty() {
            vec![item]
        } else {
            children
        })
    }

    /// Initialises the label rows of these data units (a `labelrow` PUT):
    /// each gets a label hash; rows that have one are returned unchanged.
    /// The rows come back as their stored JSON text.
    pub fn create_label_rows(
        &self,
        project_hash: &str,
        data_hashes: &[String],
        branch: &str,
    ) -> Result<Vec<String>, PlatformError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.sql_err(e))?;
        let mut out = Vec::with_capacity(data_hashes.len());
        for h in data_hashes {
            if branch != "main" {
                out.push(self.create_branch_row(&tx, project_hash, h, branch)?);
                continue;
            }
            let (label_hash, json): (Option<String>, String) = tx
                .row_cached(
                    "SELECT label_hash, row_json FROM label_rows WHERE project_hash = ?1 AND data_hash = ?2",
                    params![project_hash, h],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(|e| self.sql_err(e))?
                .ok_or_else(|| PlatformError::NotFound(format!("no data `{h}` in project `{project_hash}`")))?;
            if label_hash.is_some() {
                out.push(json);
                continue;
            }
            let mut row = RowFields::parse(&json).map_err(|e| {
                PlatformError::Store(format!("the stored label row of `{h}` is corrupt: {e}"))
            })?;
            let new_hash = uuid::Uuid::new_v4().to_string();
            let now = encord_now();
            row.set("label_hash", &new_hash);
            row.set("created_at", &now);
            row.set("last_edited_at", &now);
            let json = row.to_text();
            tx.exec_cached(
                "UPDATE label_rows SET label_hash = ?3, row_json = ?4 WHERE project_hash = ?1 AND data_hash = ?2",
                params![project_hash, h, new_hash, json],
            )
            .map_err(|e| self.sql_err(e))?;
            out.push(json);
        }
        tx.commit().map_err(|e| self.sql_err(e))?;
        Ok(out)
    }

    /// Storage items by uuid, in the order asked (`None` for unknown ones).
    pub fn storage_items(
        &self,
        uuids: &[String],
    ) -> Result<Vec<Option<StorageItem>>, PlatformError> {
        let conn = self.read();
        let conn = conn.unchecked_transaction().map_err(|e| self.sql_err(e))?;
        let mut st = conn
            .prepare_cached(&format!(
                "SELECT {ITEM_COLUMNS} FROM storage_items WHERE uuid = ?1"
            ))
            .map_err(|e| self.sql_err(e))?;
        uuids
            .iter()
            .map(|u| {
                st.query_row([u], item_from_row)
                    .optional()
                    .map_err(|e| self.sql_err(e))
            })
            .collect()
    }

    /// The children of a group item, in frame order.
    pub fn child_items(&self, group_uuid: &str) -> Result<Vec<StorageItem>, PlatformError> {
        let conn = self.read();
        let mut st = conn
            .prepare_cached(&format!(
                "SELECT {ITEM_COLUMNS} FROM storage_items WHERE group_uuid = ?1 ORDER BY group_seq"
            ))
            .map_err(|e| self.sql_err(e))?;
        let items = st
            .query_map([group_uuid], item_from_row)
            .map_err(|e| self.sql_err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.sql_err(e))?;
        Ok(items)
    }

    /// Replaces an item's client metadata (as the SDK's update does).
    pub fn set_client_metadata(&self, uuid: &str, metadata: &Value) -> Result<bool, PlatformError> {
        let n = self
            .lock()
            .exec_cached(
                "UPDATE storage_items SET client_metadata = ?2 WHERE uuid = ?1",
                params![uuid, metadata.to_string()],
            )
            .map_err(|e| self.sql_err(e))?;
        Ok(n == 1)
    }

    /// Moves tasks straight to a stage (the SDK's `move-tasks`, not a
    /// pathway): all or none; each task must exist and not already be there.
    pub fn move_to_stage(
        &self,
        project_hash: &str,
        from_stage: &str,
        task_uuids: &[String],
        destination: &str,
    ) -> Result<(), PlatformError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.sql_err(e))?;
        for t in task_uuids {
            let n = tx
                .exec_cached(
                    "UPDATE tasks SET stage_uuid = ?3, status = 'NEW', seq = (SELECT COALESCE(MAX(seq), 0) + 1 FROM tasks), updated_at = ?5
                     WHERE project_hash = ?1 AND task_uuid = ?2 AND stage_uuid = ?4",
                    params![project_hash, t, destination, from_stage, crate::local::task_now()],
                )
                .map_err(|e| self.sql_err(e))?;
            if n != 1 {
                return Err(PlatformError::NotInStage {
                    task_uuid: t.clone(),
                    stage: from_stage.to_string(),
                });
            }
        }
        tx.commit().map_err(|e| self.sql_err(e))
    }

    /// Puts one task in a stage, wherever it is.
    pub fn force_stage(
        &self,
        project_hash: &str,
        task_uuid: &str,
        destination: &str,
    ) -> Result<(), PlatformError> {
        self.lock()
            .exec_cached(
                "UPDATE tasks SET stage_uuid = ?3, seq = (SELECT COALESCE(MAX(seq), 0) + 1 FROM tasks), updated_at = ?4
                 WHERE project_hash = ?1 AND task_uuid = ?2",
                params![project_hash, task_uuid, destination, crate::local::task_now()],
            )
            .map_err(|e| self.sql_err(e))?;
        Ok(())
    }

    /// The task uuid of the data behind a label hash.
    pub fn task_of_label(
        &self,
        project_hash: &str,
        label_hash: &str,
    ) -> Result<Option<String>, PlatformError> {
        self.read()
            .row_cached(
                "SELECT t.task_uuid FROM label_rows l JOIN tasks t ON t.project_hash = l.project_hash AND t.data_hash = l.data_hash
                 WHERE l.project_hash = ?1 AND l.label_hash = ?2",
                params![project_hash, label_hash],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sql_err(e))
    }

    /// A storage item as the runner sees it: its file in `media/`.
    pub(crate) fn data_item(&self, item: StorageItem, children: Vec<StorageItem>) -> DataItem {
        let media_dir = self.media_dir();
        let children: Vec<DataItem> = children
            .into_iter()
            .map(|c| self.data_item(c, Vec::new()))
            .collect();
        let u32_of = |v: Option<i64>| v.and_then(|v| u32::try_from(v).ok());
        let frame_count = match item.item_type.as_str() {
            "video" | "imageSequence" => u32_of(item.frames),
            _ if !children.is_empty() => u32::try_from(children.len()).ok(),
            _ => None,
        };
        let duration = match (frame_count, item.fps) {
            (Some(n), Some(f)) if f > 0.0 => Some(f64::from(n) / f),
            _ => None,
        };
        DataItem {
            media: item
                .file
                .as_deref()
                .filter(|f| !f.is_empty())
                .map(|f| Media::File(media_dir.join(f))),
            uuid: item.uuid,
            name: item.name,
            item_type: item.item_type,
            mime_type: item.mime_type,
            file_size: item.file_size.and_then(|s| u64::try_from(s).ok()),
            width: u32_of(item.width),
            height: u32_of(item.height),
            fps: item.fps,
            duration,
            frame_count,
            client_metadata: item.client_metadata,
            children,
        }
    }

    /// Where the media files are.
    pub fn media_dir(&self) -> std::path::PathBuf {
        self.dir().join("media")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::RowKey;

    /// A demo store of `images` images, opened: (its directory, the demo
    /// project, the store, the data hashes of its first `n` rows).
    async fn demo(
        images: usize,
        n: usize,
    ) -> (tempfile::TempDir, Project, LocalStore, Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        let hash = crate::local::create_demo(dir.path(), images, false).unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        let project = crate::platform::Platform::project(&store, &hash)
            .await
            .unwrap();
        let meta = store.label_row_metadata(&project, None, false).unwrap();
        let data = meta.iter().take(n).map(|m| m.data_hash.clone()).collect();
        (dir, project, store, data)
    }

    /// The emulator's `labelrow` POST by label hash is all or none: one
    /// unknown label hash names itself and nothing of the bundle is written.
    #[tokio::test]
    async fn saving_by_label_hash_writes_all_rows_or_none() {
        let (_dir, project, store, data) = demo(2, 2).await;
        let project = project.project_hash;
        let created = store.create_label_rows(&project, &data, "main").unwrap();
        let rows: Vec<Value> = created
            .iter()
            .map(|r| serde_json::from_str(r).unwrap())
            .collect();
        let hashes: Vec<String> = rows
            .iter()
            .map(|r| r["label_hash"].as_str().unwrap().to_string())
            .collect();
        let edited = |row: &Value| {
            let mut row = row.clone();
            row["label_status"] = json!("NOT_LABELLED");
            row["edited_by_test"] = json!(true);
            RowFields::parse(&row.to_string()).unwrap()
        };

        let bundle = vec![
            (hashes[0].clone(), edited(&rows[0])),
            ("no-such-label".to_string(), edited(&rows[1])),
        ];
        assert_eq!(
            store
                .save_rows(&project, RowKey::LabelHash, bundle)
                .unwrap(),
            Err("no-such-label".to_string())
        );
        assert_eq!(
            store.label_rows_by_hash(&project, &hashes).unwrap(),
            created,
            "nothing was written"
        );

        let bundle = hashes
            .iter()
            .cloned()
            .zip(rows.iter().map(edited))
            .collect();
        assert_eq!(
            store
                .save_rows(&project, RowKey::LabelHash, bundle)
                .unwrap(),
            Ok(())
        );
        for saved in store.label_rows_by_hash(&project, &hashes).unwrap() {
            let saved: Value = serde_json::from_str(&saved).unwrap();
            assert_eq!(saved["edited_by_test"], json!(true));
            assert_eq!(saved["label_status"], json!("LABEL_IN_PROGRESS"));
            assert!(hashes.contains(&saved["label_hash"].as_str().unwrap().to_string()));
        }
    }

    /// The store reads through a second, read-only connection; once both are
    /// closed no WAL is left beside the database (the read-only one could
    /// not remove it if it closed last).
    #[tokio::test]
    async fn a_closed_store_leaves_no_wal_beside_it() {
        let (dir, project, store, data) = demo(1, 1).await;
        store
            .create_label_rows(&project.project_hash, &data, "main")
            .unwrap();
        assert!(dir.path().join("store.sqlite-wal").exists());
        drop(store);
        for leftover in ["store.sqlite-wal", "store.sqlite-shm"] {
            assert!(
                !dir.path().join(leftover).exists(),
                "{leftover} left behind"
            );
        }
    }

    /// A metadata answer carries Encord's keys in Encord's order, and the
    /// item's client metadata only when asked for.
    #[tokio::test]
    async fn metadata_has_encords_keys_in_order_and_client_metadata_when_asked() {
        let (_dir, project, store, data) = demo(1, 1).await;
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        // The first row's metadata as it goes over the wire.
        let first = |client_metadata: bool| {
            let meta = store
                .label_row_metadata(&project, Some(&data), client_metadata)
                .unwrap();
            serde_json::to_value(&meta[0]).unwrap()
        };
        let plain = first(false);
        let encord = [
            "label_hash",
            "branch_name",
            "created_at",
            "last_edited_at",
            "data_hash",
            "dataset_hash",
            "dataset_title",
            "data_title",
            "data_type",
            "data_link",
            "label_status",
            "annotation_task_status",
            "workflow_graph_node",
            "is_shadow_data",
            "number_of_frames",
            "frames_per_second",
            "duration",
            "width",
            "height",
            "file_type",
            "spaces",
            "task_uuid",
            "priority",
            "backing_item_uuid",
            "is_valid",
        ];
        assert_eq!(keys(&plain), encord);
        assert_eq!(plain["data_hash"], json!(data[0]));
        assert_eq!(plain["spaces"], json!({}));

        let item = plain["backing_item_uuid"].as_str().unwrap();
        assert!(store
            .set_client_metadata(item, &json!({"camera": "left"}))
            .unwrap());
        let asked = first(true);
        assert_eq!(
            keys(&asked).last().map(String::as_str),
            Some("client_metadata")
        );
        assert_eq!(asked["client_metadata"], json!({"camera": "left"}));
    }
}
