//! Pre-labels every text region of an image as a `Region` polygon, with the
//! PP-OCRv4 text detector (DBNet) the operator grants as `text-detector`:
//!
//! ```text
//! runner-host --component text_regions.wasm --model text-detector=ch_PP-OCRv4_det_infer.onnx ...
//! ```
//!
//! The model runs in the host (ONNX Runtime through wasi:nn); the frame's
//! resize and normalisation, and the probability map's regions, are the
//! host's vision helpers. The agent itself only chooses sizes and writes
//! labels.

use encord_agent_sdk::nn::{self, RegionOptions, TensorOptions};
use encord_agent_sdk::prelude::*;

/// The detector's input sides are multiples of 32; the longer side is
/// capped (PP-OCR's `limit_side_len`).
const MAX_SIDE: u32 = 960;

/// The tensor size for an image: each side rounded to a multiple of 32,
/// scaled down first if the longer side is over [`MAX_SIDE`].
pub fn input_size(width: u32, height: u32) -> (u32, u32) {
    let longer = width.max(height) as f32;
    let scale = if longer > MAX_SIDE as f32 {
        MAX_SIDE as f32 / longer
    } else {
        1.0
    };
    let round = |v: u32| (((v as f32 * scale) / 32.0).round() as u32).max(1) * 32;
    (round(width), round(height))
}

#[stage("pre-label", pathways = ["to triage"])]
pub fn text_regions(frame: Frame, mut row: LabelRow) -> Result<Outcome, AgentError> {
    let model = nn::load("text-detector")?;
    let (w, h) = input_size(frame.width, frame.height);
    // PP-OCR's normalisation: RGB / 255, then (x - 0.5) / 0.5.
    let options = TensorOptions::new(w, h).normalise([0.5; 3], [0.5; 3]);
    let input = nn::frame_tensor(&frame, &options)?;
    let outputs = model.run(vec![("x", input.tensor)])?;
    let regions =
        nn::probability_regions(outputs.first()?, &input.placement, &RegionOptions::dbnet())?;
    for region in &regions {
        let object = row.add_object("Region", 0, Shape::Polygon(region.points()))?;
        row.set_object_confidence(&object, 0, f64::from(region.score))?;
    }
    encord_agent_sdk::log::info(&format!("{} text region(s)", regions.len()));
    Ok(Outcome::pathway("to triage").with_label_row(row))
}

export_agent!(text_regions);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_sides_are_multiples_of_32_within_the_cap() {
        assert_eq!(input_size(640, 480), (640, 480));
        assert_eq!(input_size(64, 48), (64, 64));
        assert_eq!(input_size(1920, 1080), (960, 544));
        assert_eq!(input_size(10, 10), (32, 32));
    }
}
