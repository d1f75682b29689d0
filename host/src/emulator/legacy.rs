//! The legacy RPC endpoint: `POST /public` with the `query_type` /
//! `query_method` envelope (snake_case), answering HTTP 200 with the
//! status inside, as the real server does.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::value::RawValue;
use serde_json::{json, Value};

use super::{Emulator, Shared};
use crate::local::{RowFields, RowKey};
use crate::platform::{Platform, PlatformError};

/// A legacy answer: `{"status": 200, "response": ...}`, written straight
/// from `response` (no `Value` tree in between).
fn ok<T: serde::Serialize>(response: T) -> Response {
    #[derive(serde::Serialize)]
    struct Answer<T> {
        status: u16,
        response: T,
    }
    Json(Answer {
        status: 200,
        response,
    })
    .into_response()
}

/// The same answer around rows already serialised (as the store keeps
/// them), spliced in as they are instead of parsed and written again.
fn ok_rows(rows: Vec<String>) -> Response {
    let mut body = String::with_capacity(32 + rows.iter().map(|r| r.len() + 1).sum::<usize>());
    body.push_str(r#"{"status":200,"response":["#);
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(row);
    }
    body.push_str("]}");
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

fn fail(status: u16, code: &str, message: impl Into<String>) -> Response {
    Json(json!({"status": status, "response": [code], "payload": message.into()})).into_response()
}

fn from_platform(e: PlatformError) -> Response {
    match e {
        PlatformError::UnknownProject { .. } | PlatformError::NotFound(_) => {
            fail(404, "RESOURCE_NOT_FOUND_ERROR", e.to_string())
        }
        PlatformError::NotInStage { .. } => fail(400, "INVALID_ARGUMENTS_ERROR", e.to_string()),
        PlatformError::Rejected(m) => fail(400, "INVALID_ARGUMENTS_ERROR", m),
        other => fail(500, "UNKNOWN_ERROR", other.to_string()),
    }
}

fn strings(v: Option<&Value>) -> Option<Vec<String>> {
    v.and_then(Value::as_array).map(|l| {
        l.iter()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect()
    })
}

/// The legacy envelope. Its payload stays JSON text until the query says
/// what it is: a save's payload is every row it saves, and those are only
/// read at their top level ([`RowFields`]), never built into a tree.
#[derive(serde::Deserialize)]
pub(crate) struct Envelope {
    #[serde(default)]
    query_type: Value,
    #[serde(default)]
    query_method: Value,
    #[serde(default)]
    values: Values,
}

impl Envelope {
    /// `query_type/query_method` (e.g. `labelrow/PUT`): how the log and
    /// `--fault-endpoint` name a legacy call.
    pub(crate) fn query(&self) -> String {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        format!("{}/{}", text(&self.query_type), text(&self.query_method))
    }
}

#[derive(serde::Deserialize, Default)]
struct Values {
    #[serde(default)]
    uid: Value,
    #[serde(default)]
    payload: Option<Box<RawValue>>,
}

/// A save's payload: the rows, each as its text.
#[derive(serde::Deserialize)]
struct Saves {
    labels: Option<Vec<Box<RawValue>>>,
}

/// Rows served as a `labelrow` GET's payload asks: only the listed
/// objects' and classifications' feature hashes, reviews only with
/// `include_reviews`, and with `get_signed_url` each data unit's
/// `data_link` a signed URL of its media.
fn shaped(
    emu: &Emulator,
    payload: &Value,
    rows: Vec<String>,
) -> Result<Vec<String>, PlatformError> {
    let list = |key: &str| strings(payload.get(key));
    let (objects, classifications) = (
        list("include_object_feature_hashes"),
        list("include_classification_feature_hashes"),
    );
    let flag = |key: &str| payload.get(key).and_then(Value::as_bool).unwrap_or(false);
    let sign = flag("get_signed_url");
    rows.into_iter()
        .map(|row| {
            let items = if sign {
                let data_hash = serde_json::from_str::<Value>(&row)
                    .ok()
                    .and_then(|v| {
                        v.get("data_hash")
                            .and_then(Value::as_str)
                            .map(str::to_string)
                    })
                    .unwrap_or_default();
                emu.store.unit_items(&data_hash)?
            } else {
                Vec::new()
            };
            let link = |_: &str, seq: u64, _: Option<&str>| {
                let item = items.get(seq as usize).or(items.first())?;
                Some(super::media::signed_url(emu, item))
            };
            let shape = crate::local::RowShape {
                objects: objects.as_deref(),
                classifications: classifications.as_deref(),
                reviews: flag("include_reviews"),
                link: sign.then_some(&link as &crate::local::UnitLink<'_>),
            };
            shape
                .apply(row)
                .map_err(|e| PlatformError::Store(format!("a stored label row is corrupt: {e}")))
        })
        .collect()
}

pub(crate) async fn dispatch(
    State(emu): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Envelope>,
) -> Response {
    let project = headers
        .get("resourceid")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let query = body.query();
    let query_type = body.query_type.as_str().unwrap_or_default();
    let method = body.query_method.as_str().unwrap_or_default();
    let uid = Some(&body.values.uid);
    let raw_payload = body.values.payload;
    let payload: Value = if (query_type, method) == ("labelrow", "POST") {
        Value::Null
    } else {
        match raw_payload
            .as_deref()
            .map(|p| serde_json::from_str(p.get()))
        {
            None => Value::Null,
            Some(Ok(p)) => p,
            Some(Err(e)) => {
                return fail(400, "INVALID_ARGUMENTS_ERROR", format!("payload: {e}"));
            }
        }
    };
    tracing::info!(target: "emulator", query = %query, "legacy call");
    // Read once: the metadata answer names stages, a workflow move needs them.
    let stored = match emu.store.project(&project).await {
        Ok(p) => p,
        Err(e) => return from_platform(e),
    };
    match (query_type, method) {
        ("labelrowmetadata", "GET") => {
            let data_hashes = strings(payload.get("data_hashes"));
            let label_hashes = strings(payload.get("label_hashes"));
            let include_cm = payload
                .get("include_client_metadata")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let title_eq = payload.get("data_title_eq").and_then(Value::as_str);
            let branch = payload
                .get("branch_name")
                .and_then(Value::as_str)
                .unwrap_or("main");
            let all = payload
                .get("include_all_label_branches")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            match emu
                .store
                .label_row_metadata(&stored, data_hashes.as_deref(), include_cm)
                .and_then(|rows| emu.store.branch_metadata(&project, rows, branch, all))
            {
                Ok(rows) => ok(rows
                    .into_iter()
                    .filter(|m| {
                        label_hashes.as_ref().is_none_or(|l| {
                            l.iter()
                                .any(|h| m.label_hash.as_deref() == Some(h.as_str()))
                        })
                    })
                    .filter(|m| title_eq.is_none_or(|t| m.data_title == t))
                    .collect::<Vec<_>>()),
                Err(e) => from_platform(e),
            }
        }
        ("labelrow", "GET") => {
            let Some(hashes) = strings(uid) else {
                return fail(
                    400,
                    "INVALID_ARGUMENTS_ERROR",
                    "uid must be a list of label hashes",
                );
            };
            let rows = match emu.store.label_rows_by_hash(&project, &hashes) {
                Ok(rows) => rows,
                Err(e) => return from_platform(e),
            };
            match shaped(&emu, &payload, rows) {
                Ok(rows) => ok_rows(rows),
                Err(e) => from_platform(e),
            }
        }
        ("labelrow", "PUT") => {
            let Some(hashes) = strings(uid) else {
                return fail(
                    400,
                    "INVALID_ARGUMENTS_ERROR",
                    "uid must be a list of data hashes",
                );
            };
            match emu
                .store
                .create_label_rows(
                    &project,
                    &hashes,
                    payload
                        .get("branch_name")
                        .and_then(Value::as_str)
                        .unwrap_or("main"),
                )
                .and_then(|rows| shaped(&emu, &payload, rows))
            {
                Ok(rows) => ok_rows(rows),
                Err(e) => from_platform(e),
            }
        }
        ("labelrow", "POST") => {
            let labels = raw_payload
                .and_then(|p| serde_json::from_str::<Saves>(p.get()).ok())
                .and_then(|p| p.labels);
            let (Some(hashes), Some(labels)) = (strings(uid), labels) else {
                return fail(
                    400,
                    "INVALID_ARGUMENTS_ERROR",
                    "expected uid (label hashes) and payload.labels",
                );
            };
            if hashes.len() != labels.len() {
                return fail(
                    400,
                    "INVALID_ARGUMENTS_ERROR",
                    "uid and labels differ in length",
                );
            }
            let mut rows = Vec::with_capacity(labels.len());
            for (i, (hash, label)) in hashes.into_iter().zip(labels).enumerate() {
                match RowFields::parse(label.get()) {
                    Ok(row) => rows.push((hash, row)),
                    Err(e) => {
                        return fail(
                            400,
                            "INVALID_ARGUMENTS_ERROR",
                            format!("label row {i} (`{hash}`) is not a JSON object: {e}"),
                        )
                    }
                }
            }
            match emu.store.save_rows(&project, RowKey::LabelHash, rows) {
                Ok(Ok(())) => ok(json!(true)),
                Ok(Err(h)) => fail(
                    404,
                    "RESOURCE_NOT_FOUND_ERROR",
                    format!("no label row `{h}`"),
                ),
                Err(e) => from_platform(e),
            }
        }
        ("labelworkflowgraphnode", "POST") => {
            // workflow_complete / workflow_reopen: to the first DONE stage, or
            // back to the first stage of the workflow.
            let (Some(hashes), Some(action)) =
                (strings(uid), payload.get("action").and_then(Value::as_str))
            else {
                return fail(
                    400,
                    "INVALID_ARGUMENTS_ERROR",
                    "expected uid (label hashes) and payload.action",
                );
            };
            let workflow = &stored.workflow;
            let dest = match action {
                "complete" => workflow.stages.iter().find(|s| s.stage_type == "DONE"),
                "reopen" => workflow.stages.first(),
                other => {
                    return fail(
                        400,
                        "INVALID_ARGUMENTS_ERROR",
                        format!("unknown action `{other}`"),
                    )
                }
            };
            let Some(dest) = dest else {
                return fail(
                    400,
                    "OPERATION_NOT_ALLOWED",
                    "the workflow has no such stage",
                );
            };
            for h in &hashes {
                let task = match emu.store.task_of_label(&project, h) {
                    Ok(Some(t)) => t,
                    Ok(None) => {
                        return fail(
                            404,
                            "RESOURCE_NOT_FOUND_ERROR",
                            format!("no label row `{h}`"),
                        )
                    }
                    Err(e) => return from_platform(e),
                };
                if let Err(e) = emu.store.force_stage(&project, &task, &dest.uuid) {
                    return from_platform(e);
                }
            }
            ok(json!(true))
        }
        _ => fail(
            405,
            "METHOD_NOT_ALLOWED_ERROR",
            format!("{query_type}/{method} is not emulated"),
        ),
    }
}
