//! What `#[stage]` and `export_agent!` expand to: stage definitions, the
//! manifest, and dispatch of the host's `run` calls.

use crate::bindings::encord::agent::types as wit;
use crate::context::{Context, Source};
use crate::extract::{Needs, Pathway, ProjectInfo, Stage, Task};
use crate::log::Level;
use crate::{AgentError, Outcome, Route};

/// The label-row options of a stage, with encord-agents' names and defaults.
#[derive(Debug, Clone, Copy)]
pub struct LabelRowOptions {
    pub include_workflow_graph_node: bool,
    pub include_client_metadata: bool,
    pub include_images_data: bool,
    pub include_all_label_branches: bool,
    pub branch_name: Option<&'static str>,
    pub include_children: bool,
    pub include_object_feature_hashes: Option<&'static [&'static str]>,
    pub include_classification_feature_hashes: Option<&'static [&'static str]>,
    pub include_reviews: bool,
    pub include_signed_url: bool,
}

impl LabelRowOptions {
    pub const DEFAULT: LabelRowOptions = LabelRowOptions {
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
    };
}

/// One stage handler, as `#[stage]` describes it.
#[derive(Clone, Copy)]
pub struct StageDef {
    /// The stage title or uuid in the workflow.
    pub stage: &'static str,
    /// The handler function's name.
    pub handler: &'static str,
    /// Adds the needs of every parameter.
    pub needs: fn(&mut Needs),
    pub label_row_options: LabelRowOptions,
    /// Pathways the handler may return (empty: not declared).
    pub pathways: &'static [&'static str],
    /// Extracts the parameters, calls the handler, converts its result.
    pub run: fn(&mut Context) -> Result<Outcome, AgentError>,
}

impl StageDef {
    /// What this stage needs loaded.
    pub fn needs(&self) -> Needs {
        let mut n = Needs::default();
        (self.needs)(&mut n);
        n
    }
}

/// Implemented by `#[stage]` for a marker type named like the handler, so
/// `export_agent!(handler)` can find the handler's definition.
pub trait StageHandler {
    const DEF: StageDef;
}

/// The start (or init) hook used when `export_agent!` names none.
pub fn no_start() -> Result<(), AgentError> {
    Ok(())
}

/// The manifest the host reads at load time.
pub fn manifest(stages: &[StageDef]) -> Vec<wit::StageSpec> {
    stages
        .iter()
        .map(|s| {
            let n = s.needs();
            let mut needs = Vec::new();
            if n.label_row {
                needs.push(wit::Need::LabelRow);
            }
            if n.label_row_metadata && !n.label_row {
                needs.push(wit::Need::LabelRowMetadata);
            }
            if n.storage_item {
                needs.push(wit::Need::StorageItem);
            }
            if n.asset {
                needs.push(wit::Need::Asset);
            }
            if n.frames {
                needs.push(wit::Need::Frames);
            }
            let o = &s.label_row_options;
            let list = |l: Option<&'static [&'static str]>| {
                l.map(|l| l.iter().map(|s| s.to_string()).collect())
            };
            wit::StageSpec {
                stage: s.stage.to_string(),
                handler: s.handler.to_string(),
                needs,
                label_row_options: wit::LabelRowOptions {
                    include_workflow_graph_node: o.include_workflow_graph_node,
                    include_client_metadata: o.include_client_metadata,
                    include_images_data: o.include_images_data,
                    include_all_label_branches: o.include_all_label_branches,
                    branch_name: o.branch_name.map(str::to_string),
                    include_children: o.include_children,
                    include_object_feature_hashes: list(o.include_object_feature_hashes),
                    include_classification_feature_hashes: list(
                        o.include_classification_feature_hashes,
                    ),
                    include_reviews: o.include_reviews,
                    include_signed_url: o.include_signed_url,
                },
                pathways: s.pathways.iter().map(|p| p.to_string()).collect(),
                twins: n
                    .twins
                    .iter()
                    .map(|(hash, task)| wit::TwinSpec {
                        project_hash: hash.clone(),
                        include_task: *task,
                    })
                    .collect(),
            }
        })
        .collect()
}

/// Runs the handler of `stage` on one task, as the host asked.
pub fn run(stages: &[StageDef], stage: &str, task: wit::Task) -> Result<wit::Outcome, String> {
    let def = stages
        .iter()
        .find(|s| s.stage == stage)
        .ok_or_else(|| format!("this agent has no handler for stage `{stage}`"))?;
    let task = Task {
        uuid: task.uuid,
        data_hash: task.data_hash,
        data_title: task.data_title,
        label_branch_name: task.label_branch_name,
        status: task.status,
    };
    crate::log::set_sink(Some(Box::new(host::log)));
    let mut cx = Context::new(task, Box::new(host::HostSource));
    let outcome = call(def, &mut cx).map_err(|e| e.to_string())?;
    Ok(wit::Outcome {
        route: match outcome.route {
            Route::Stay => wit::Route::Stay,
            Route::Pathway(p) => wit::Route::Pathway(p),
        },
        label_row: outcome.label_row.map(|r| r.to_json()),
        priority: outcome.priority,
    })
}

/// Calls one handler. A panic is not caught: on wasm it traps, and the host
/// fails the task with the panic's message and place (from the guest's
/// stderr); natively (`TestRun`) it fails the test.
pub(crate) fn call(def: &StageDef, cx: &mut Context) -> Result<Outcome, AgentError> {
    (def.run)(cx)
}

/// The host's imports, when running inside a component.
mod host {
    use super::*;
    use crate::bindings::encord::agent::{data, labels, log as wlog, project, tasks, twins};
    use crate::data::{Frame, FrameSource, ItemInfo, Selection, TwinInfo, TwinStage};
    use crate::extract::TaskDetails;

    pub(super) struct HostSource;

    fn frame(f: data::Frame) -> Frame {
        Frame {
            index: f.index,
            width: f.width,
            height: f.height,
            rgb: f.rgb,
        }
    }

    struct HostFrames(data::Frames);

    impl FrameSource for HostFrames {
        fn next_frame(&mut self) -> Result<Option<Frame>, String> {
            Ok(self.0.next()?.map(frame))
        }
    }

    impl Source for HostSource {
        fn item(&self) -> Result<ItemInfo, String> {
            data::item()
        }
        fn set_client_metadata(&self, json: &str) -> Result<(), String> {
            data::set_client_metadata(json)
        }
        fn asset_bytes(&self, frame: Option<u32>) -> Result<Vec<u8>, String> {
            data::asset_bytes(frame)
        }
        fn asset_path(&self) -> Result<String, String> {
            data::asset_path()
        }
        fn first_frame(&self) -> Result<Frame, String> {
            data::first_frame().map(frame)
        }
        fn frames(&self, which: Selection) -> Result<Box<dyn FrameSource>, String> {
            let stream = match which {
                Selection::All => data::all_frames()?,
                Selection::Rate(r) => data::sample_rate(r)?,
                Selection::Indices(i) => data::sample_frames(&i)?,
            };
            Ok(Box::new(HostFrames(stream)))
        }
        fn twin(&self, project_hash: &str) -> Result<Option<TwinInfo>, String> {
            Ok(twins::find(project_hash)?.map(|t| TwinInfo {
                label_row: t.label_row,
                task: t.task.map(|t| Task {
                    uuid: t.uuid,
                    data_hash: t.data_hash,
                    data_title: t.data_title,
                    label_branch_name: t.label_branch_name,
                    status: t.status,
                }),
                stage_uuid: t.stage_uuid,
            }))
        }
        fn twin_ontology(&self, project_hash: &str) -> Result<String, String> {
            twins::ontology(project_hash)
        }
        fn save_twin(&self, project_hash: &str, label_row_json: &str) -> Result<(), String> {
            twins::save(project_hash, label_row_json)
        }
        fn task_details(&self, task_uuid: &str) -> Result<TaskDetails, String> {
            let d = tasks::details(task_uuid)?;
            Ok(TaskDetails {
                assignee: d.assignee,
                last_actioned_by: d.last_actioned_by,
                created_at: d.created_at,
                updated_at: d.updated_at,
            })
        }
        fn twin_stage(&self, project_hash: &str) -> Result<Option<TwinStage>, String> {
            Ok(twins::stage(project_hash)?.map(|s| TwinStage {
                uuid: s.uuid,
                title: s.title,
                stage_type: s.stage_type,
                pathways: s
                    .pathways
                    .into_iter()
                    .map(|p| Pathway {
                        uuid: p.uuid,
                        name: p.name,
                        destination_uuid: p.destination_uuid,
                    })
                    .collect(),
            }))
        }
        fn twin_proceed(&self, project_hash: &str, pathway: &str) -> Result<(), String> {
            twins::proceed(project_hash, pathway)
        }
        fn label_row(&self) -> Result<String, String> {
            labels::label_row()
        }
        fn ontology(&self) -> String {
            project::ontology()
        }
        fn project(&self) -> ProjectInfo {
            let i = project::info();
            ProjectInfo {
                project_hash: i.project_hash,
                title: i.title,
                description: i.description,
                ontology_hash: i.ontology_hash,
            }
        }
        fn stage(&self) -> Option<Stage> {
            project::current_stage().map(|s| Stage {
                uuid: s.uuid,
                title: s.title,
                pathways: s
                    .pathways
                    .into_iter()
                    .map(|p| Pathway {
                        uuid: p.uuid,
                        name: p.name,
                        destination_uuid: p.destination_uuid,
                    })
                    .collect(),
            })
        }
    }

    pub(super) fn log(level: Level, message: &str) {
        let level = match level {
            Level::Trace => wlog::Level::Trace,
            Level::Debug => wlog::Level::Debug,
            Level::Info => wlog::Level::Info,
            Level::Warn => wlog::Level::Warn,
            Level::Error => wlog::Level::Error,
        };
        wlog::log(level, message);
    }
}
