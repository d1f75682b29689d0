//! The end-to-end suite: real components, the real binary, a real store,
//! the emulator over loopback HTTP, real ffmpeg and the official Python
//! SDK. One module per area, in one test binary, so wasmtime, axum and
//! reqwest are linked once and the guests are built once per run
//! (`cargo test --test e2e MODULE::` runs one area).

mod support;

mod bad_input;
mod encord_http;
mod end_to_end;
mod languages;
mod media;
mod model_apis;
mod models;
mod python_sdk;
mod queue;
mod runner;
mod sandbox;
mod scaffold;
mod service;
