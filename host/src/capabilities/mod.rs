//! One module per WIT import interface: what a guest can ask the host for.
//! Each serves the call's context from memory; only `data` reads files and
//! runs ffmpeg, asynchronously.

mod data;
mod labels;
mod log;
mod project;
mod tasks;
mod twins;

impl crate::engine::encord::agent::types::Host for crate::engine::TaskState {}
