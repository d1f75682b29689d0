//! Models and vision helpers: inference on the models the operator granted
//! (`runner-host --model NAME=PATH`), through the standard `wasi:nn`
//! interface, and the host's helpers that turn a frame into a tensor and a
//! model's output into regions or boxes, at native speed.
//!
//! ```no_run
//! use encord_agent_sdk::nn::{self, RegionOptions, TensorOptions};
//! use encord_agent_sdk::prelude::*;
//!
//! #[stage("pre-label", pathways = ["to review"])]
//! fn text_regions(frame: Frame, mut row: LabelRow) -> Result<Outcome, AgentError> {
//!     let model = nn::load("text-detector")?;
//!     let input = nn::frame_tensor(&frame, &TensorOptions::new(640, 480).normalise([0.5; 3], [0.5; 3]))?;
//!     let outputs = model.run(vec![("x", input.tensor)])?;
//!     for region in nn::probability_regions(outputs.first()?, &input.placement, &RegionOptions::dbnet())? {
//!         row.add_object("Region", 0, Shape::Polygon(region.points()))?;
//!     }
//!     Ok(Outcome::pathway("to review").with_label_row(row))
//! }
//! # export_agent!(text_regions);
//! ```
//!
//! Models run only inside runner-host: natively (unit tests) [`load`] and
//! the helpers return an error saying so.

use crate::bindings::encord::agent::vision as wit;
use crate::bindings::wasi::nn::{errors, graph, inference, tensor};
use crate::{AgentError, Frame};

pub use crate::bindings::encord::agent::vision::{
    ChannelOrder, Layout, Placement, RegionOptions, Resize, TensorOptions, YoloFormat, YoloOptions,
};
pub use crate::bindings::wasi::nn::tensor::TensorType;

fn native() -> AgentError {
    AgentError::msg("models run only inside runner-host: build the agent for wasm32-wasip2")
}

fn nn_error(what: &str, e: errors::Error) -> AgentError {
    AgentError::msg(format!("{what}: {} ({:?})", e.data(), e.code()))
}

/// A tensor held by the host: a model's input or output.
pub struct Tensor(tensor::Tensor);

impl Tensor {
    /// A tensor of these dimensions, element type and little-endian bytes.
    pub fn new(dims: &[u32], ty: TensorType, data: &[u8]) -> Result<Tensor, AgentError> {
        if !cfg!(target_arch = "wasm32") {
            return Err(native());
        }
        Ok(Tensor(tensor::Tensor::new(dims, ty, data)))
    }

    /// An f32 tensor.
    pub fn from_f32(dims: &[u32], values: &[f32]) -> Result<Tensor, AgentError> {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        Tensor::new(dims, TensorType::Fp32, &bytes)
    }

    pub fn dims(&self) -> Vec<u32> {
        self.0.dimensions()
    }

    pub fn ty(&self) -> TensorType {
        self.0.ty()
    }

    /// The tensor's bytes, copied from the host.
    pub fn bytes(&self) -> Vec<u8> {
        self.0.data()
    }

    /// The values of an f32 tensor, copied from the host.
    pub fn to_f32(&self) -> Result<Vec<f32>, AgentError> {
        if self.ty() != TensorType::Fp32 {
            return Err(AgentError::msg(format!(
                "expected an FP32 tensor, got {:?}",
                self.ty()
            )));
        }
        Ok(self
            .bytes()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
}

/// A granted model, ready to run.
pub struct Model {
    name: String,
    context: inference::GraphExecutionContext,
    _graph: graph::Graph,
}

/// Opens the model the operator granted under `name` (`--model NAME=PATH`).
pub fn load(name: &str) -> Result<Model, AgentError> {
    if !cfg!(target_arch = "wasm32") {
        return Err(native());
    }
    let g = graph::load_by_name(name).map_err(|e| nn_error(&format!("model `{name}`"), e))?;
    let context = g
        .init_execution_context()
        .map_err(|e| nn_error(&format!("model `{name}`"), e))?;
    Ok(Model {
        name: name.to_string(),
        context,
        _graph: g,
    })
}

impl Model {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs the model on these named inputs (each given up to the host).
    pub fn run(&self, inputs: Vec<(&str, Tensor)>) -> Result<Outputs, AgentError> {
        let inputs: Vec<(String, tensor::Tensor)> = inputs
            .into_iter()
            .map(|(n, t)| (n.to_string(), t.0))
            .collect();
        let out = self
            .context
            .compute(inputs)
            .map_err(|e| nn_error(&format!("model `{}`", self.name), e))?;
        Ok(Outputs(
            out.into_iter().map(|(n, t)| (n, Tensor(t))).collect(),
        ))
    }
}

/// A model's outputs, in the model's order.
pub struct Outputs(Vec<(String, Tensor)>);

impl Outputs {
    /// The output called `name`.
    pub fn get(&self, name: &str) -> Result<&Tensor, AgentError> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t)
            .ok_or_else(|| {
                AgentError::msg(format!(
                    "no output `{name}`; the model gave {}",
                    self.0
                        .iter()
                        .map(|(n, _)| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
    }

    /// The first output (most models have one).
    pub fn first(&self) -> Result<&Tensor, AgentError> {
        self.0
            .first()
            .map(|(_, t)| t)
            .ok_or_else(|| AgentError::msg("the model gave no output"))
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(n, _)| n.as_str())
    }
}

impl TensorOptions {
    /// `width × height`, stretched, `[1, 3, H, W]`, RGB, values in [0, 1].
    pub fn new(width: u32, height: u32) -> TensorOptions {
        TensorOptions {
            width,
            height,
            resize: Resize::Stretch,
            layout: Layout::Nchw,
            channels: ChannelOrder::Rgb,
            mean: (0.0, 0.0, 0.0),
            std: (1.0, 1.0, 1.0),
            pad: 0.0,
        }
    }

    /// `(pixel / 255 - mean) / std`, per channel.
    pub fn normalise(mut self, mean: [f32; 3], std: [f32; 3]) -> TensorOptions {
        self.mean = (mean[0], mean[1], mean[2]);
        self.std = (std[0], std[1], std[2]);
        self
    }

    /// Keep the aspect ratio, centred, the rest filled with `pad` (in [0, 1]).
    pub fn letterbox(mut self, pad: f32) -> TensorOptions {
        self.resize = Resize::Letterbox;
        self.pad = pad;
        self
    }

    pub fn layout(mut self, layout: Layout) -> TensorOptions {
        self.layout = layout;
        self
    }

    pub fn bgr(mut self) -> TensorOptions {
        self.channels = ChannelOrder::Bgr;
        self
    }
}

impl RegionOptions {
    /// PP-OCR / DBNet's post-processing: threshold 0.3, regions of mean
    /// probability 0.6 or more, unclip 1.5, sides of 3 pixels or more.
    pub fn dbnet() -> RegionOptions {
        RegionOptions {
            threshold: 0.3,
            box_threshold: 0.6,
            unclip_ratio: 1.5,
            min_side: 3.0,
            max_regions: 1000,
        }
    }
}

impl YoloOptions {
    /// Scores of 0.25 or more, NMS at IoU 0.45, at most 300 boxes.
    pub fn new(format: YoloFormat) -> YoloOptions {
        YoloOptions {
            format,
            score_threshold: 0.25,
            iou_threshold: 0.45,
            max_detections: 300,
        }
    }
}

/// A frame as a model input, and where the frame lies in it.
pub struct Prepared {
    pub tensor: Tensor,
    pub placement: Placement,
}

/// The frame as an f32 tensor, made in the host.
pub fn frame_tensor(frame: &Frame, options: &TensorOptions) -> Result<Prepared, AgentError> {
    if !cfg!(target_arch = "wasm32") {
        return Err(native());
    }
    let p = wit::frame_tensor(&frame.to_wit(), *options).map_err(AgentError::msg)?;
    Ok(Prepared {
        tensor: Tensor(p.tensor),
        placement: p.placement,
    })
}

/// A region of a probability map, in normalised image coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct Region {
    /// The rotated rectangle's corners, clockwise from the top left.
    pub polygon: Vec<crate::Point>,
    pub bounding_box: crate::BoundingBox,
    pub score: f32,
}

impl Region {
    /// The polygon's points, for `Shape::Polygon`.
    pub fn points(&self) -> Vec<crate::Point> {
        self.polygon.clone()
    }
}

fn bbox(b: wit::BoundingBox) -> crate::BoundingBox {
    crate::BoundingBox {
        x: b.x as f64,
        y: b.y as f64,
        w: b.w as f64,
        h: b.h as f64,
    }
}

/// The regions of a probability map (text detectors, binary segmenters).
pub fn probability_regions(
    map: &Tensor,
    placement: &Placement,
    options: &RegionOptions,
) -> Result<Vec<Region>, AgentError> {
    let found = wit::probability_regions(&map.0, *placement, *options).map_err(AgentError::msg)?;
    Ok(found
        .into_iter()
        .map(|r| Region {
            polygon: r
                .polygon
                .into_iter()
                .map(|p| crate::Point {
                    x: p.x as f64,
                    y: p.y as f64,
                })
                .collect(),
            bounding_box: bbox(r.bounding_box),
            score: r.score,
        })
        .collect())
}

/// A detected object.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    pub bounding_box: crate::BoundingBox,
    pub score: f32,
    pub class_index: u32,
}

/// Boxes from a YOLO detector's output, after non-maximum suppression.
pub fn yolo_detections(
    output: &Tensor,
    placement: &Placement,
    options: &YoloOptions,
) -> Result<Vec<Detection>, AgentError> {
    let found = wit::yolo_detections(&output.0, *placement, *options).map_err(AgentError::msg)?;
    Ok(found
        .into_iter()
        .map(|d| Detection {
            bounding_box: bbox(d.bounding_box),
            score: d.score,
            class_index: d.class_index,
        })
        .collect())
}

/// The image pixels whose value in `mask` (a mask or probability map over
/// the tensor `placement` describes) is above `threshold`, as an Encord
/// bitmask over the whole image (for `Shape::Bitmask`).
pub fn mask_bitmask(
    mask: &Tensor,
    placement: &Placement,
    threshold: f32,
) -> Result<crate::Bitmask, AgentError> {
    let m = wit::mask_bitmask(&mask.0, *placement, threshold).map_err(AgentError::msg)?;
    Ok(crate::Bitmask {
        top: 0,
        left: 0,
        width: m.width,
        height: m.height,
        rle: m.rle,
    })
}
