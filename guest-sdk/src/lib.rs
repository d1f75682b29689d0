//! Write Encord task agents in Rust.
//!
//! A stage handler is a plain function whose parameters are *extractors*:
//! types implementing [`FromContext`] (`Task`, `LabelRow`, `Project`,
//! `Ontology`, `Stage`, `Pathways`, or your own). `#[stage("name")]` derives
//! from those types what the host must load, and [`export_agent!`] turns the
//! handlers into a WebAssembly component for `runner-host`.
//!
//! ```
//! use encord_agent_sdk::prelude::*;
//!
//! #[stage("pre-label", pathways = ["to review"])]
//! fn pre_label(mut row: LabelRow) -> Result<Outcome, AgentError> {
//!     row.add_classification("Quality", Answer::Radio("Good".into()), [0, 0])?;
//!     Ok(Outcome::pathway("to review").with_label_row(row))
//! }
//!
//! export_agent!(pre_label);
//! ```
//!
//! Handlers stay ordinary functions: call them directly in tests, or run them
//! through the host's code path with [`testing::TestRun`].

#[doc(hidden)]
pub mod bindings;
mod context;
mod data;
mod error;
mod extract;
pub mod http;
pub mod images;
pub mod log;
pub mod nn;
mod outcome;
#[doc(hidden)]
pub mod runtime;
pub mod testing;

pub use context::Context;
pub use data::{
    Asset, AssetPath, Frame, GroupAssets, StorageItem, Twin, TwinProject, TwinStage, VideoFrames,
    VideoSampler,
};
pub use encord_agent_macros::stage;
pub use encord_labels as labels;
pub use encord_labels::{
    Answer, Bitmask, BoundingBox, LabelRow, Ontology, Point, RotatableBoundingBox, Shape,
};
pub use error::AgentError;
pub use extract::{FromContext, Needs, Pathway, Pathways, Project, Stage, Task, TaskDetails};
pub use outcome::{IntoOutcome, Outcome, Route};
pub use runtime::{LabelRowOptions, StageDef, StageHandler};

/// Everything a handler usually needs.
pub mod prelude {
    pub use crate::{
        export_agent, stage, AgentError, Answer, Asset, AssetPath, Bitmask, BoundingBox, Context,
        Frame, FromContext, GroupAssets, LabelRow, Needs, Ontology, Outcome, Pathways, Point,
        Project, RotatableBoundingBox, Shape, Stage, StorageItem, Task, Twin, TwinProject,
        VideoFrames, VideoSampler,
    };
}

/// Exports the listed `#[stage]` handlers as this component's agent, in the
/// order the host drains them. Optionally names a start hook, called once per
/// run before any task, and an init hook, called once on every new instance
/// before its first task (both `fn() -> Result<(), AgentError>`). Put
/// expensive set-up (loading a model into a `static`) in `init` and run with
/// `--reuse-instance N` so that it is paid once per N tasks:
///
/// ```
/// use encord_agent_sdk::prelude::*;
///
/// #[stage("pre-label")]
/// fn pre_label() -> &'static str { "to triage" }
///
/// #[stage("triage")]
/// fn triage(task: Task) -> Outcome {
///     if task.data_title.contains("blurry") { Outcome::pathway("needs annotation") } else { Outcome::stay() }
/// }
///
/// fn check_config() -> Result<(), AgentError> { Ok(()) }
/// fn load_model() -> Result<(), AgentError> { Ok(()) }
///
/// export_agent!(pre_label, triage; start = check_config, init = load_model);
/// ```
#[macro_export]
macro_rules! export_agent {
    ($($stage:path),+ $(,)?) => {
        $crate::export_agent!(@world [$($stage),+] $crate::runtime::no_start, $crate::runtime::no_start);
    };
    ($($stage:path),+ ; start = $start:path) => {
        $crate::export_agent!(@world [$($stage),+] $start, $crate::runtime::no_start);
    };
    ($($stage:path),+ ; init = $init:path) => {
        $crate::export_agent!(@world [$($stage),+] $crate::runtime::no_start, $init);
    };
    ($($stage:path),+ ; start = $start:path, init = $init:path) => {
        $crate::export_agent!(@world [$($stage),+] $start, $init);
    };
    (@world [$($stage:path),+] $start:path, $init:path) => {
        #[doc(hidden)]
        pub struct __EncordAgent;

        #[doc(hidden)]
        pub const __ENCORD_STAGES: &[$crate::StageDef] =
            &[$(<$stage as $crate::StageHandler>::DEF),+];

        impl $crate::bindings::exports::encord::agent::handler::Guest for __EncordAgent {
            fn stages() -> ::std::vec::Vec<$crate::bindings::encord::agent::types::StageSpec> {
                $crate::runtime::manifest(__ENCORD_STAGES)
            }
            fn start() -> ::std::result::Result<(), ::std::string::String> {
                $start().map_err(|e: $crate::AgentError| e.to_string())
            }
            fn run(
                stage: ::std::string::String,
                task: $crate::bindings::encord::agent::types::Task,
            ) -> ::std::result::Result<
                $crate::bindings::encord::agent::types::Outcome,
                ::std::string::String,
            > {
                $crate::runtime::run(__ENCORD_STAGES, &stage, task)
            }
        }

        impl $crate::bindings::exports::encord::agent::lifecycle::Guest for __EncordAgent {
            fn init() -> ::std::result::Result<(), ::std::string::String> {
                $init().map_err(|e: $crate::AgentError| e.to_string())
            }
        }

        // Exported symbols only on wasm: natively (unit tests) the names,
        // which contain `:`, are not valid linker symbols.
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::__export_encord_agent!(__EncordAgent with_types_in $crate::bindings);
    };
}
