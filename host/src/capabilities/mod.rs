//! One module per WIT import interface: what a guest can ask the host for.
//! Each serves the call's context from memory; nothing here does I/O.

mod labels;
mod log;
mod project;

impl crate::engine::encord::agent::types::Host for crate::engine::TaskState {}
