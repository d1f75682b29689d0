//! What a guest can ask the host for, one module per capability, the way
//! Spin's factors are built: each module owns its per-call state (a struct
//! built from the call's [`CallContext`]), implements its WIT interface on
//! that state, links it into the component linker, and tests its host
//! functions without wasm. A store's data ([`crate::engine::TaskState`])
//! holds one [`Capabilities`] value; each interface is linked with a getter
//! that projects the store's data onto its capability's state.
//!
//! To add a capability: a WIT interface in `wit/agent.wit`; a module here
//! with its state, `impl Host`, and tests; a field in [`Capabilities`]
//! built in [`Capabilities::new`]; a line in [`add_to_linker`]; and, if it
//! writes anything, a field in [`Effects`] taken in
//! [`Capabilities::take_effects`]. See docs/architecture.md.

pub(crate) mod data;
pub(crate) mod http;
pub(crate) mod labels;
pub(crate) mod log;
pub mod net;
pub(crate) mod nn;
pub(crate) mod project;
pub(crate) mod settings;
pub(crate) mod tasks;
pub(crate) mod twins;
pub(crate) mod vision;

use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker};

use crate::engine::bindings::{wasi_nn, wit};
use crate::engine::{CallContext, Effects, TaskState};

/// The per-call state of every capability.
pub(crate) struct Capabilities {
    pub(crate) project: project::ProjectCap,
    pub(crate) labels: labels::Labels,
    pub(crate) log: log::Log,
    pub(crate) tasks: tasks::Tasks,
    pub(crate) twins: twins::Twins,
    pub(crate) data: data::Data,
    /// Outgoing HTTP (linked with wasi:http, see [`crate::engine`]).
    pub(crate) net: net::Net,
    pub(crate) settings: settings::Settings,
}

impl Capabilities {
    /// Each capability's state for one call, from what the runner loaded.
    pub(crate) fn new(
        cx: CallContext,
        memory_cap: usize,
        grants: &Arc<crate::engine::Grants>,
    ) -> Capabilities {
        let CallContext {
            project,
            stage,
            label_row,
            task,
            data,
            asset_dir,
            twins,
            twin_projects,
        } = cx;
        // The twins capability checks saves against the data hash; the
        // others share the task and stage as they are.
        let data_hash = task
            .as_ref()
            .map(|t| t.data_hash.clone())
            .unwrap_or_default();
        Capabilities {
            log: log::Log::new(task.clone(), stage.clone()),
            net: net::Net::new(grants.net.clone(), task.clone(), memory_cap),
            settings: settings::Settings::new(grants.clone()),
            project: project::ProjectCap::new(project, stage),
            labels: labels::Labels::new(label_row),
            twins: twins::Twins::new(twins.clone(), twin_projects, data_hash),
            tasks: tasks::Tasks::new(task, twins),
            data: data::Data::new(data, asset_dir, memory_cap),
        }
    }

    /// What the call asked to write, collected by the capabilities (the
    /// call's usage is filled in by the engine).
    pub(crate) fn take_effects(&mut self) -> Effects {
        Effects {
            client_metadata: self.data.client_metadata.take(),
            twin_saves: std::mem::take(&mut self.twins.saves),
            twin_moves: std::mem::take(&mut self.twins.moves),
            usage: Default::default(),
        }
    }
}

/// Links every `encord:agent` import, each onto its capability's state.
pub(crate) fn add_to_linker(linker: &mut Linker<TaskState>) -> wasmtime::Result<()> {
    wit::types::add_to_linker::<_, HasSelf<TaskState>>(linker, |s| s)?;
    wit::project::add_to_linker::<_, HasSelf<project::ProjectCap>>(linker, |s| {
        &mut s.caps.project
    })?;
    wit::labels::add_to_linker::<_, HasSelf<labels::Labels>>(linker, |s| &mut s.caps.labels)?;
    wit::log::add_to_linker::<_, HasSelf<log::Log>>(linker, |s| &mut s.caps.log)?;
    // The blocking HTTP call shares wasi:http's per-call state: its grants.
    wit::http::add_to_linker::<_, HasSelf<net::Net>>(linker, |s| &mut s.caps.net)?;
    wit::settings::add_to_linker::<_, HasSelf<settings::Settings>>(linker, |s| {
        &mut s.caps.settings
    })?;
    wit::tasks::add_to_linker::<_, HasSelf<tasks::Tasks>>(linker, |s| &mut s.caps.tasks)?;
    wit::twins::add_to_linker::<_, HasSelf<twins::Twins>>(linker, |s| &mut s.caps.twins)?;
    wit::data::add_to_linker::<_, data::DataCap>(linker, |s| data::DataView {
        data: &mut s.caps.data,
        table: &mut s.table,
    })?;
    // Inference: wasi:nn and the vision helpers share the instance's state.
    fn nn(s: &mut TaskState) -> nn::NnView<'_> {
        nn::NnView {
            nn: &mut s.nn,
            table: &mut s.table,
        }
    }
    wit::vision::add_to_linker::<_, nn::NnCap>(linker, nn)?;
    wasi_nn::tensor::add_to_linker::<_, nn::NnCap>(linker, nn)?;
    wasi_nn::graph::add_to_linker::<_, nn::NnCap>(linker, nn)?;
    wasi_nn::inference::add_to_linker::<_, nn::NnCap>(linker, nn)?;
    wasi_nn::errors::add_to_linker::<_, nn::NnCap>(linker, nn)?;
    Ok(())
}

impl wit::types::Host for TaskState {}
