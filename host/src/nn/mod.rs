//! Inference on models the operator granted (`--model NAME=PATH`), served
//! to guests as the standard `wasi:nn` interface, and the vision helpers
//! that turn frames into tensors and model outputs into labels.
//!
//! - [`runtime`]: finds ONNX Runtime and checks it before `ort` touches it
//!   (a missing or wrong library is one error line, never a panic);
//! - [`model`]: the granted models, each loaded once and shared by every
//!   instance, run off the async workers with a bounded thread count, and
//!   terminated when the task's time is up;
//! - [`tensor`]: tensors as the guest sends them, checked before use;
//! - [`vision`]: frame → tensor (resize, letterbox, mean/std, layout) and
//!   tensor → regions / detections, in Encord's normalised coordinates.
//!
//! Guests never supply model bytes: `wasi:nn`'s `load` is refused, only
//! `load-by-name` finds a model.

pub mod model;
pub mod runtime;
pub mod tensor;
pub mod vision;

pub use model::{ModelGrant, Models};
pub use tensor::{ErrorCode, NnError, Tensor, TensorType};
