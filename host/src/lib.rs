//! runner-host: runs Encord task agents compiled to WebAssembly components.
//!
//! - [`engine`]: loads a component and runs each call in a fresh, limited
//!   instance;
//! - `capabilities`: the host side of each WIT import;
//! - [`runner`]: the run loop (validation, batching, retries, writes);
//! - [`platform`]: the interface to Encord, implemented by [`local`];
//! - [`cli`]: the command line.

mod capabilities;
pub mod cli;
pub mod emulator;
pub mod encord;
pub mod engine;
pub mod local;
pub mod media;
pub mod platform;
pub mod progress;
pub mod retry;
pub mod runner;
mod sqlite;
