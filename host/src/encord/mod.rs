//! The Encord platform over HTTP: both API families, signed, retried,
//! bundled as the Python Runner bundles them.

pub use encord_auth as auth;
pub mod http;

use std::collections::HashMap;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::value::RawValue;
use serde_json::{json, Value};

use crate::platform::{
    DataItem, LabelRowQuery, LabelRowRecord, LabelSave, Media, MoveAction, Platform, PlatformError,
    Project, Task, TaskPage, TwinRecord, TwinTask, Workflow,
};
pub use auth::{AuthError, Credentials};
pub use http::{ApiError, Http, RetryPolicy};

/// Most label rows fetched or created per legacy request.
const LABEL_FETCH_BUNDLE: usize = 1000;

/// Encord's API, as a [`Platform`].
pub struct EncordClient {
    http: Http,
}

impl EncordClient {
    pub fn new(
        domain: &str,
        creds: Credentials,
        retry: RetryPolicy,
    ) -> Result<EncordClient, String> {
        Ok(EncordClient {
            http: Http::new(domain, creds, retry)?,
        })
    }

    /// The HTTP side: signed calls and media downloads.
    pub fn http(&self) -> &Http {
        &self.http
    }

    fn err(&self, what: &str, e: ApiError) -> PlatformError {
        match e {
            ApiError::InvalidArguments(m) => PlatformError::Rejected(m),
            ApiError::NotFound(m) => PlatformError::NotFound(format!("{what}: {m}")),
            other => PlatformError::Remote(format!("{what}: {other}")),
        }
    }
}

impl EncordClient {
    /// Label row metadata (§3d) of these data units, with the Runner's
    /// default include arguments.
    async fn metadata(
        &self,
        project_hash: &str,
        data_hashes: &[String],
        q: &LabelRowQuery,
    ) -> Result<Vec<Value>, PlatformError> {
        let payload = json!({
            "edited_before": null, "edited_after": null, "label_statuses": null, "shadow_data_state": null,
            "include_uninitialised_labels": true, "data_hashes": data_hashes, "label_hashes": null,
            "data_title_eq": null, "data_title_like": null, "workflow_graph_node_title_eq": null,
            "workflow_graph_node_title_like": null, "include_client_metadata": q.include_client_metadata,
            "include_images_data": q.include_images_data, "include_children": q.include_children,
            "include_workflow_graph_node": q.include_workflow_graph_node,
            "include_all_label_branches": q.include_all_label_branches,
            "branch_name": q.branch_name, "client_metadata_as_signed_url": false,
        });
        let meta = self
            .http
            .legacy(
                project_hash,
                "labelrowmetadata",
                "GET",
                Value::Null,
                payload,
                true,
            )
            .await
            .map_err(|e| self.err("listing label rows", e))?;
        match meta {
            Value::Array(list) => Ok(list),
            _ => Err(PlatformError::Remote(
                "label row metadata is not a list".into(),
            )),
        }
    }

    /// Fetches full label rows by label hash into `rows` (keyed by data hash).
    async fn fetch_rows(
        &self,
        project_hash: &str,
        label_hashes: &[String],
        q: &LabelRowQuery,
        rows: &mut HashMap<String, Box<RawValue>>,
    ) -> Result<(), PlatformError> {
        for chunk in label_hashes.chunks(LABEL_FETCH_BUNDLE) {
            let payload = json!({"get_signed_url": q.include_signed_url, "multi_request": true,
                "include_object_feature_hashes": q.include_object_feature_hashes,
                "include_classification_feature_hashes": q.include_classification_feature_hashes,
                "include_reviews": q.include_reviews, "include_export_history": false, "include_archived": false});
            let got = self
                .http
                .legacy::<Vec<Box<RawValue>>>(
                    project_hash,
                    "labelrow",
                    "GET",
                    json!(chunk),
                    payload,
                    true,
                )
                .await
                .map_err(|e| self.err("fetching labels", e))?;
            rows.extend(by_data_hash(got));
        }
        Ok(())
    }

    /// Creates (initialises) label rows with a `labelrow` PUT. The PUT is not
    /// idempotent, so it is not blindly retried: after a failure that may
    /// have created rows (see `maybe_created`) the rows' metadata is read
    /// again, rows that were created after all are fetched, and only the rest
    /// is created again, after the same back-off and as many times as the
    /// retry policy gives any other request. A 429 or 503 (not processed) is
    /// retried by `Http::send` alone, so a PUT is never tried more often than
    /// the policy allows for one kind of failure.
    async fn create_rows(
        &self,
        project_hash: &str,
        data_hashes: &[String],
        q: &LabelRowQuery,
        rows: &mut HashMap<String, Box<RawValue>>,
    ) -> Result<(), PlatformError> {
        let mut pending: Vec<String> = data_hashes.to_vec();
        let mut rounds = 0;
        while !pending.is_empty() {
            rounds += 1;
            let payload = json!({"multi_request": true, "get_signed_url": q.include_signed_url, "branch_name": q.branch_name.as_deref().unwrap_or("main")});
            match self
                .http
                .legacy::<Vec<Box<RawValue>>>(
                    project_hash,
                    "labelrow",
                    "PUT",
                    json!(pending),
                    payload,
                    false,
                )
                .await
            {
                Ok(got) => {
                    rows.extend(by_data_hash(got));
                    return Ok(());
                }
                Err(e) if !maybe_created(&e) || !self.http.retry_policy().allows_retry(rounds) => {
                    return Err(self.err("creating label rows", e))
                }
                Err(e) => {
                    tracing::warn!("creating label rows failed ({e}); checking which were created");
                    tokio::time::sleep(self.http.retry_policy().backoff(rounds)).await;
                    let created: Vec<String> = self
                        .metadata(project_hash, &pending, q)
                        .await?
                        .iter()
                        .filter_map(|m| {
                            m.get("label_hash")
                                .and_then(Value::as_str)
                                .map(str::to_string)
                        })
                        .collect();
                    self.fetch_rows(project_hash, &created, q, rows).await?;
                    pending.retain(|h| !rows.contains_key(h));
                }
            }
        }
        Ok(())
    }
}

/// Whether a failed request may have been carried out: a 5xx other than 503,
/// an answer lost on the way or one that made no sense. A 4xx was refused,
/// and a 429 or 503 says the request was not processed (and was already
/// retried by `Http::send` as long as the policy allows).
fn maybe_created(e: &ApiError) -> bool {
    match e {
        ApiError::Unreachable { .. } | ApiError::BadResponse { .. } => true,
        ApiError::Status { status, .. } => *status >= 500 && !http::NOT_PROCESSED.contains(status),
        ApiError::Authentication { .. }
        | ApiError::Authorisation(_)
        | ApiError::NotFound(_)
        | ApiError::InvalidArguments(_)
        | ApiError::RateLimited => false,
    }
}

impl EncordClient {
    /// Storage items by uuid (`get-bulk`, signed URLs), with the children of
    /// groups (`child-items`).
    async fn items(&self, uuids: &[String]) -> Result<Vec<DataItem>, PlatformError> {
        let mut out = Vec::with_capacity(uuids.len());
        for chunk in uuids.chunks(ITEM_BUNDLE) {
            let got = self
                .http
                .v2(
                    Method::POST,
                    "storage/items/get-bulk",
                    &[],
                    Some(&json!({"itemUuids": chunk, "signUrls": true})),
                    true,
                )
                .await
                .map_err(|e| self.err("reading storage items", e))?;
            let results = got
                .get("results")
                .and_then(Value::as_array)
                .ok_or_else(|| PlatformError::Remote("storage items: no `results`".into()))?;
            for v in results {
                let mut item = item_from_json(v);
                if item.is_group() || item.item_type == "imageSequence" {
                    let parent = str_field(v, "parent");
                    let kids = self
                        .http
                        .v2(
                            Method::GET,
                            &format!("storage/folders/{parent}/items/{}/child-items", item.uuid),
                            &[("signUrls", "True".into())],
                            None,
                            true,
                        )
                        .await
                        .map_err(|e| self.err("reading child items", e))?;
                    item.children = kids
                        .get("results")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .map(item_from_json)
                        .collect();
                    if item.is_group() && item.frame_count.is_none() {
                        item.frame_count = u32::try_from(item.children.len()).ok();
                    }
                }
                out.push(item);
            }
        }
        Ok(out)
    }

    /// One page of a stage's tasks, only those of `data_hashes` when given
    /// (the `dataHashes` filter).
    async fn task_page(
        &self,
        project_hash: &str,
        stage_uuid: &str,
        page_token: Option<&str>,
        data_hashes: &[String],
    ) -> Result<TaskPage, PlatformError> {
        let mut query: Vec<(&str, String)> = data_hashes
            .iter()
            .map(|h| ("dataHashes", h.clone()))
            .collect();
        if let Some(t) = page_token {
            query.push(("pageToken", t.to_string()));
        }
        let page = self
            .http
            .v2(
                Method::GET,
                &format!("projects/{project_hash}/workflow/stages/{stage_uuid}/tasks"),
                &query,
                None,
                true,
            )
            .await
            .map_err(|e| self.err("listing tasks", e))?;
        let tasks = page
            .get("results")
            .and_then(Value::as_array)
            .ok_or_else(|| PlatformError::Remote("a task page has no `results`".into()))?
            .iter()
            .map(task_from_json)
            .collect();
        let next_page_token = page
            .get("nextPageToken")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        Ok(TaskPage {
            tasks,
            next_page_token,
        })
    }

    /// Tasks of these data units sitting in `stage_uuid`, every page (a
    /// filtered page may be empty and still have a next one).
    async fn tasks_of(
        &self,
        project_hash: &str,
        stage_uuid: &str,
        data_hashes: &[String],
    ) -> Result<Vec<Task>, PlatformError> {
        let mut tasks = Vec::new();
        for chunk in data_hashes.chunks(100) {
            let mut token: Option<String> = None;
            loop {
                let page = self
                    .task_page(project_hash, stage_uuid, token.as_deref(), chunk)
                    .await?;
                tasks.extend(page.tasks);
                token = page.next_page_token;
                if token.is_none() {
                    break;
                }
            }
        }
        Ok(tasks)
    }

    /// The label rows of `data_hashes` (each must be in `meta`, the label
    /// row metadata already read): fetched, or created where uninitialised.
    async fn rows_of(
        &self,
        project_hash: &str,
        data_hashes: &[String],
        meta: &[Value],
        query: &LabelRowQuery,
    ) -> Result<Vec<LabelRowRecord>, PlatformError> {
        let with_labels = query.with_labels;
        // With `include_all_label_branches` a data unit has a row per
        // branch: the stage's branch (`main` unless it named one) is served.
        let branch = query.branch_name.as_deref().unwrap_or("main");
        let mut by_data: HashMap<&str, &Value> = HashMap::new();
        for m in meta {
            let data = m
                .get("data_hash")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let on_branch = m
                .get("branch_name")
                .and_then(Value::as_str)
                .is_none_or(|b| b == branch);
            if on_branch || !by_data.contains_key(data) {
                by_data.insert(data, m);
            }
        }
        let metas: Vec<&Value> = data_hashes
            .iter()
            .map(|h| {
                by_data.get(h.as_str()).copied().ok_or_else(|| {
                    PlatformError::Remote(format!("Encord returned no label row for data `{h}`"))
                })
            })
            .collect::<Result<_, _>>()?;

        let mut rows: HashMap<String, Box<RawValue>> = HashMap::new();
        if with_labels {
            let existing: Vec<String> = metas
                .iter()
                .filter_map(|m| {
                    m.get("label_hash")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .collect();
            let missing: Vec<String> = metas
                .iter()
                .filter(|m| m.get("label_hash").is_none_or(Value::is_null))
                .map(|m| str_field(m, "data_hash"))
                .collect();
            self.fetch_rows(project_hash, &existing, query, &mut rows)
                .await?;
            for chunk in missing.chunks(LABEL_FETCH_BUNDLE) {
                self.create_rows(project_hash, chunk, query, &mut rows)
                    .await?;
            }
        }
        metas
            .iter()
            .map(|m| {
                let data_hash = str_field(m, "data_hash");
                let json = if with_labels {
                    let row = rows.remove(&data_hash).ok_or_else(|| {
                        PlatformError::Remote(format!(
                            "Encord returned no labels for data `{data_hash}`"
                        ))
                    })?;
                    Some(String::from(Box::<str>::from(row)))
                } else {
                    None
                };
                Ok(LabelRowRecord {
                    label_hash: m
                        .get("label_hash")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    priority: m.get("priority").and_then(Value::as_f64).map(|p| p as f32),
                    item_uuid: m
                        .get("backing_item_uuid")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    data_hash,
                    json,
                })
            })
            .collect()
    }
}

/// Most storage items per `get-bulk`.
const ITEM_BUNDLE: usize = 100;

/// Label rows kept as JSON text, keyed by their `data_hash` (a row without
/// one is left out, and its task then fails for want of labels).
fn by_data_hash(rows: Vec<Box<RawValue>>) -> impl Iterator<Item = (String, Box<RawValue>)> {
    #[derive(serde::Deserialize)]
    struct Keyed<'a> {
        #[serde(borrow)]
        data_hash: std::borrow::Cow<'a, str>,
    }
    rows.into_iter().filter_map(|row| {
        let hash = serde_json::from_str::<Keyed>(row.get()).ok()?;
        Some((hash.data_hash.into_owned(), row))
    })
}

fn item_from_json(v: &Value) -> DataItem {
    let u32_of = |k: &str| {
        v.get(k)
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
    };
    let client_metadata = match v.get("clientMetadata") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Object(o)) => Value::Object(o.clone()).to_string(),
        _ => "{}".into(),
    };
    DataItem {
        uuid: str_field(v, "uuid"),
        name: str_field(v, "name"),
        item_type: str_field(v, "itemType"),
        mime_type: v
            .get("mimeType")
            .and_then(Value::as_str)
            .map(str::to_string),
        file_size: v.get("fileSize").and_then(Value::as_u64),
        width: u32_of("width"),
        height: u32_of("height"),
        fps: v.get("fps").and_then(Value::as_f64),
        duration: v.get("duration").and_then(Value::as_f64),
        frame_count: u32_of("frameCount"),
        client_metadata,
        media: v
            .get("signedUrl")
            .and_then(Value::as_str)
            .map(|u| Media::Url(u.to_string())),
        children: Vec::new(),
    }
}

fn task_from_json(t: &Value) -> Task {
    Task {
        uuid: str_field(t, "uuid"),
        data_hash: str_field(t, "dataHash"),
        data_title: str_field(t, "dataTitle"),
        label_branch_name: str_field(t, "labelBranchName"),
        status: str_field(t, "status"),
        assignee: opt_str_field(t, "assignee"),
        last_actioned_by: opt_str_field(t, "lastActionedBy"),
        created_at: str_field(t, "createdAt"),
        updated_at: str_field(t, "updatedAt"),
    }
}

fn opt_str_field(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

fn str_field(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

#[async_trait]
impl Platform for EncordClient {
    async fn project(&self, project_hash: &str) -> Result<Project, PlatformError> {
        let p = match self
            .http
            .v2(
                Method::GET,
                &format!("projects/{project_hash}"),
                &[],
                None,
                true,
            )
            .await
        {
            Ok(p) => p,
            Err(ApiError::NotFound(_)) | Err(ApiError::Authorisation(_)) => {
                return Err(PlatformError::UnknownProject {
                    project_hash: project_hash.to_string(),
                    place: format!("Encord at {}", self.http.domain()),
                    hint: " (or this key's user has no access to it)".into(),
                })
            }
            Err(e) => return Err(self.err("getting the project", e)),
        };
        if p.get("projectType").and_then(Value::as_str) != Some("workflow") {
            return Err(PlatformError::Remote(format!(
                "project `{project_hash}` is not a workflow project"
            )));
        }
        let workflow: Workflow =
            serde_json::from_value(p.get("workflow").cloned().unwrap_or(json!({"stages": []})))
                .map_err(|e| {
                    PlatformError::Remote(format!(
                        "the workflow of project `{project_hash}` is malformed: {e}"
                    ))
                })?;
        let ontology_hash = str_field(&p, "ontologyHash");
        let o = self
            .http
            .v2(
                Method::GET,
                &format!("ontologies/{ontology_hash}"),
                &[],
                None,
                true,
            )
            .await
            .map_err(|e| self.err("getting the ontology", e))?;
        let editor = o
            .get("editor")
            .cloned()
            .unwrap_or(json!({"objects": [], "classifications": []}));
        Ok(Project {
            project_hash: project_hash.to_string(),
            title: str_field(&p, "title"),
            description: str_field(&p, "description"),
            ontology_hash,
            ontology_json: editor.to_string(),
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
            .await
    }

    async fn label_rows(
        &self,
        project_hash: &str,
        data_hashes: &[String],
        query: &LabelRowQuery,
    ) -> Result<Vec<LabelRowRecord>, PlatformError> {
        let meta = self.metadata(project_hash, data_hashes, query).await?;
        self.rows_of(project_hash, data_hashes, &meta, query).await
    }

    async fn save_labels(
        &self,
        project_hash: &str,
        saves: &[LabelSave],
    ) -> Result<(), PlatformError> {
        /// Only the label hash is read; the rest of the row is skipped.
        #[derive(serde::Deserialize)]
        struct Hashed {
            label_hash: Option<String>,
        }
        #[derive(serde::Serialize)]
        struct Payload<'a> {
            multi_request: bool,
            labels: Vec<&'a RawValue>,
            validate_before_saving: bool,
        }
        let mut uids = Vec::with_capacity(saves.len());
        let mut labels = Vec::with_capacity(saves.len());
        for s in saves {
            // The rows go out as the agent wrote them (already checked against
            // the ontology), spliced into the request, not parsed and written again.
            let not_json = |e: serde_json::Error| {
                PlatformError::Rejected(format!("label row of `{}` is not JSON: {e}", s.data_hash))
            };
            let row: &RawValue = serde_json::from_str(&s.json).map_err(not_json)?;
            let hash = serde_json::from_str::<Hashed>(row.get())
                .map_err(not_json)?
                .label_hash
                .ok_or_else(|| {
                    PlatformError::Rejected(format!(
                        "label row of `{}` has no label_hash",
                        s.data_hash
                    ))
                })?;
            uids.push(hash);
            labels.push(row);
        }
        let payload = Payload {
            multi_request: true,
            labels,
            validate_before_saving: false,
        };
        self.http
            .legacy::<Value>(project_hash, "labelrow", "POST", json!(uids), payload, true)
            .await
            .map_err(|e| self.err("saving labels", e))?;
        Ok(())
    }

    async fn set_priorities(
        &self,
        project_hash: &str,
        priorities: &[(String, f32)],
    ) -> Result<(), PlatformError> {
        let body = json!({"priorities": priorities.iter().map(|(h, p)| json!([h, p])).collect::<Vec<_>>()});
        self.http
            .v2(
                Method::POST,
                &format!("projects/{project_hash}/priorities"),
                &[],
                Some(&body),
                true,
            )
            .await
            .map_err(|e| self.err("setting priorities", e))?;
        Ok(())
    }

    async fn data_items(
        &self,
        project_hash: &str,
        data_hashes: &[String],
        known_items: &[Option<String>],
    ) -> Result<Vec<Option<DataItem>>, PlatformError> {
        // data hash → label row metadata `backing_item_uuid` → storage item,
        // as the Runner maps it; the metadata is read only if the label rows
        // did not already give the items.
        let backing: HashMap<String, String> =
            if known_items.len() == data_hashes.len() && known_items.iter().all(Option::is_some) {
                data_hashes
                    .iter()
                    .cloned()
                    .zip(known_items.iter().flatten().cloned())
                    .collect()
            } else {
                self.metadata(project_hash, data_hashes, &LabelRowQuery::default())
                    .await?
                    .iter()
                    .filter_map(|m| {
                        let item = m.get("backing_item_uuid")?.as_str()?;
                        Some((str_field(m, "data_hash"), item.to_string()))
                    })
                    .collect()
            };
        let uuids: Vec<String> = data_hashes
            .iter()
            .filter_map(|h| backing.get(h).cloned())
            .collect();
        let mut items: HashMap<String, DataItem> = self
            .items(&uuids)
            .await?
            .into_iter()
            .map(|i| (i.uuid.clone(), i))
            .collect();
        Ok(data_hashes
            .iter()
            .map(|h| backing.get(h).and_then(|u| items.remove(u)))
            .collect())
    }

    async fn set_client_metadata(&self, updates: &[(String, String)]) -> Result<(), PlatformError> {
        for chunk in updates.chunks(ITEM_BUNDLE) {
            let mut patches = serde_json::Map::new();
            for (uuid, json) in chunk {
                let meta: Value = serde_json::from_str(json).map_err(|e| {
                    PlatformError::Rejected(format!("client metadata of `{uuid}`: {e}"))
                })?;
                patches.insert(uuid.clone(), json!({ "clientMetadata": meta }));
            }
            // PATCH is never status-retried (as the SDK).
            self.http
                .v2(
                    Method::PATCH,
                    "storage/items/patch-bulk",
                    &[],
                    Some(&json!({ "itemPatches": patches })),
                    false,
                )
                .await
                .map_err(|e| self.err("updating client metadata", e))?;
        }
        Ok(())
    }

    async fn download(&self, url: &str, dest: &std::path::Path) -> Result<u64, PlatformError> {
        self.http
            .download(url, dest)
            .await
            .map_err(|e| self.err("downloading media", e))
    }

    async fn twins(
        &self,
        project_hash: &str,
        data_hashes: &[String],
        include_task: bool,
    ) -> Result<Vec<Option<TwinRecord>>, PlatformError> {
        let query = LabelRowQuery::default();
        let meta = self.metadata(project_hash, data_hashes, &query).await?;
        let stage_of: HashMap<String, Option<String>> = meta
            .iter()
            .map(|m| {
                let stage = m
                    .get("workflow_graph_node")
                    .and_then(|n| n.get("uuid"))
                    .and_then(Value::as_str)
                    .map(str::to_string);
                (str_field(m, "data_hash"), stage)
            })
            .collect();
        let present: Vec<String> = data_hashes
            .iter()
            .filter(|h| stage_of.contains_key(*h))
            .cloned()
            .collect();
        let rows = self.rows_of(project_hash, &present, &meta, &query).await?;
        let mut rows: HashMap<String, String> = rows
            .into_iter()
            .filter_map(|r| Some((r.data_hash, r.json?)))
            .collect();
        let mut tasks: HashMap<String, TwinTask> = HashMap::new();
        if include_task {
            let mut by_stage: HashMap<&str, Vec<String>> = HashMap::new();
            for (h, stage) in &stage_of {
                if let Some(stage) = stage {
                    by_stage.entry(stage.as_str()).or_default().push(h.clone());
                }
            }
            for (stage, hashes) in by_stage {
                for t in self.tasks_of(project_hash, stage, &hashes).await? {
                    tasks.insert(
                        t.data_hash.clone(),
                        TwinTask {
                            task: t,
                            stage_uuid: stage.to_string(),
                        },
                    );
                }
            }
        }
        Ok(data_hashes
            .iter()
            .map(|h| {
                rows.remove(h).map(|label_row| TwinRecord {
                    label_row,
                    task: tasks.remove(h),
                })
            })
            .collect())
    }

    async fn move_tasks(
        &self,
        project_hash: &str,
        stage_uuid: &str,
        actions: &[MoveAction],
    ) -> Result<(), PlatformError> {
        let body: Vec<Value> = actions
            .iter()
            .map(|a| json!({"taskUuid": a.task_uuid, "action": "PATHWAY_ACTION", "pathwayUuid": a.pathway_uuid}))
            .collect();
        self.http
            .v2(
                Method::POST,
                &format!("projects/{project_hash}/workflow/stages/{stage_uuid}/actions"),
                &[],
                Some(&Value::Array(body)),
                true,
            )
            .await
            .map_err(|e| self.err("moving tasks", e))?;
        Ok(())
    }

    /// Encord answers a move of a task that left its stage with a bare 400,
    /// so the stage is listed for the task's data unit and the task looked
    /// for by uuid.
    async fn task_in_stage(
        &self,
        project_hash: &str,
        stage_uuid: &str,
        task: &Task,
    ) -> Result<bool, PlatformError> {
        let there = self
            .tasks_of(
                project_hash,
                stage_uuid,
                std::slice::from_ref(&task.data_hash),
            )
            .await?;
        Ok(there.iter().any(|t| t.uuid == task.uuid))
    }

    async fn tasks_in_stage(
        &self,
        project_hash: &str,
        stage_uuid: &str,
        tasks: &[Task],
    ) -> Result<Vec<Task>, PlatformError> {
        let hashes: Vec<String> = tasks.iter().map(|t| t.data_hash.clone()).collect();
        let there = self.tasks_of(project_hash, stage_uuid, &hashes).await?;
        let wanted: std::collections::HashSet<&str> =
            tasks.iter().map(|t| t.uuid.as_str()).collect();
        Ok(there
            .into_iter()
            .filter(|t| wanted.contains(t.uuid.as_str()))
            .collect())
    }
}
