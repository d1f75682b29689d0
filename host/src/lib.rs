//! runner-host: runs Encord task agents compiled to WebAssembly components.
//!
//! - [`engine`]: loads a component and runs each call in a fresh, limited
//!   instance; the generated WIT bindings stay behind `engine::bindings`,
//!   the rest of the host sees [`engine::StageSpec`], [`engine::Outcome`]
//!   and the call's [`engine::CallContext`] / [`engine::Effects`];
//! - `capabilities`: the host side of each WIT import, one module each
//!   with its own per-call state and tests (the network grant is one);
//! - [`runner`]: the run as a pipeline: plan, load, job, write, checks;
//! - [`platform`]: the one interface the runner talks to, implemented by
//!   the embedded store ([`local`]) and the HTTP client ([`encord`]);
//! - [`emulator`]: an Encord-compatible server over a store;
//! - [`retry`]: the one retry policy (Encord calls, downloads, agent
//!   attempts);
//! - [`media`]: downloads, frames and decoding (ffmpeg);
//! - [`nn`]: granted models (ONNX Runtime) behind `wasi:nn`, and the vision
//!   helpers (frame → tensor, tensor → regions and boxes);
//! - [`cli`]: the command line.
//!
//! docs/architecture.md describes how data flows through them.

mod capabilities;
pub mod cli;
pub mod emulator;
pub mod encord;
pub mod engine;
pub mod local;
pub mod media;
pub mod nn;
pub mod platform;
pub mod progress;
pub mod queue;
pub mod retry;
pub mod runner;
pub mod scaffold;
pub mod service;
mod sqlite;
