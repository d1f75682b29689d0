//! The boundary between the WIT world and the rest of the host.
//!
//! The types `bindgen!` generates stay in this module, one submodule per
//! WIT package version the host serves (as Zed's extension host keeps
//! `since_v0_x`), so that a new version is a new submodule next to the old
//! one. Outside the engine and the capabilities nothing names a generated
//! type: the runner and the CLI see the host's own types
//! ([`super::manifest`]), converted here.

use super::manifest::{Need, Outcome, Route, StageSpec, TwinSpec};
use crate::platform::LabelRowQuery;

/// `encord:agent@0.2.0`, the version this host serves.
pub(crate) mod v0_2 {
    wasmtime::component::bindgen!({
        world: "agent",
        path: "../wit",
        // Decoding and file reads wait on ffmpeg and the disk: async, so
        // they never block the runtime's threads.
        imports: {
            "encord:agent/data.asset-bytes": async,
            "encord:agent/data.first-frame": async,
            "encord:agent/data.[method]frames.next": async,
            "encord:agent/data.all-frames": async,
            "encord:agent/data.sample-rate": async,
            "encord:agent/data.sample-frames": async,
            // Inference and pixel work run on blocking threads.
            "wasi:nn/inference.[method]graph-execution-context.compute": async | trappable,
            "encord:agent/vision.frame-tensor": async,
            "encord:agent/vision.probability-regions": async,
            "encord:agent/vision.mask-bitmask": async,
            "encord:agent/vision.encode-image": async,
            "encord:agent/http.send": async,
            // A guest's bad handle or a tensor that breaks the rules traps.
            "wasi:nn": trappable,
        },
        exports: { default: async },
        with: {
            "encord:agent/data.frames": crate::media::FrameStream,
            "wasi:nn/tensor.tensor": crate::nn::Tensor,
            "wasi:nn/graph.graph": crate::capabilities::nn::Graph,
            "wasi:nn/inference.graph-execution-context": crate::capabilities::nn::ExecutionContext,
            "wasi:nn/errors.error": crate::nn::NnError,
        },
    });
}

/// The interfaces of the version served, for the capabilities.
pub(crate) use v0_2::encord::agent as wit;
/// `wasi:nn@0.2.0-rc-2024-10-28`, served on the granted models.
pub(crate) use v0_2::wasi::nn as wasi_nn;
pub(crate) use v0_2::{Agent, AgentPre};

/// The WIT world this host implements.
pub const WORLD: &str = "encord:agent/agent@0.2.0";
/// The optional interface whose `init` prepares a new instance.
pub(crate) const LIFECYCLE: &str = "encord:agent/lifecycle@0.2.0";

impl From<wit::types::Need> for Need {
    fn from(n: wit::types::Need) -> Need {
        use wit::types::Need as W;
        match n {
            W::LabelRow => Need::LabelRow,
            W::LabelRowMetadata => Need::LabelRowMetadata,
            W::StorageItem => Need::StorageItem,
            W::Asset => Need::Asset,
            W::Frames => Need::Frames,
        }
    }
}

/// How a stage's label rows are loaded: its label-row options, and the
/// labels themselves when it declared the `label-row` need.
fn label_row_query(o: wit::types::LabelRowOptions, with_labels: bool) -> LabelRowQuery {
    LabelRowQuery {
        with_labels,
        include_workflow_graph_node: o.include_workflow_graph_node,
        include_client_metadata: o.include_client_metadata,
        include_images_data: o.include_images_data,
        include_all_label_branches: o.include_all_label_branches,
        branch_name: o.branch_name,
        include_children: o.include_children,
        include_object_feature_hashes: o.include_object_feature_hashes,
        include_classification_feature_hashes: o.include_classification_feature_hashes,
        include_reviews: o.include_reviews,
        include_signed_url: o.include_signed_url,
    }
}

impl From<wit::types::StageSpec> for StageSpec {
    fn from(s: wit::types::StageSpec) -> StageSpec {
        let needs: Vec<Need> = s.needs.into_iter().map(Need::from).collect();
        StageSpec {
            stage: s.stage,
            handler: s.handler,
            label_rows: label_row_query(s.label_row_options, needs.contains(&Need::LabelRow)),
            needs,
            pathways: s.pathways,
            twins: s
                .twins
                .into_iter()
                .map(|t| TwinSpec {
                    project_hash: t.project_hash,
                    include_task: t.include_task,
                })
                .collect(),
        }
    }
}

impl From<wit::types::Outcome> for Outcome {
    fn from(o: wit::types::Outcome) -> Outcome {
        Outcome {
            route: match o.route {
                wit::types::Route::Stay => Route::Stay,
                wit::types::Route::Pathway(p) => Route::Pathway(p),
            },
            label_row: o.label_row,
            priority: o.priority,
        }
    }
}

impl From<&crate::platform::Task> for wit::types::Task {
    fn from(t: &crate::platform::Task) -> wit::types::Task {
        wit::types::Task {
            uuid: t.uuid.clone(),
            data_hash: t.data_hash.clone(),
            data_title: t.data_title.clone(),
            label_branch_name: t.label_branch_name.clone(),
            status: t.status.clone(),
        }
    }
}

impl From<&crate::platform::Pathway> for wit::project::Pathway {
    fn from(p: &crate::platform::Pathway) -> wit::project::Pathway {
        wit::project::Pathway {
            uuid: p.uuid.clone(),
            name: p.name.clone(),
            destination_uuid: p.destination_uuid.clone(),
        }
    }
}
