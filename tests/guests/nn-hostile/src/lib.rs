//! A hostile inference agent: on chosen demo tasks it sends the host's
//! wasi:nn what a buggy or malicious agent would. Each such task must fail
//! with a clear reason while the host lives; every other task runs the
//! model properly and is routed, so the suite sees the batch land.

use encord_agent_sdk::bindings::wasi::nn::graph;
use encord_agent_sdk::nn::{self, Tensor, TensorOptions, TensorType, YoloFormat, YoloOptions};
use encord_agent_sdk::prelude::*;

const MODEL: &str = "text-detector";

/// The pixel count an Encord run-length string covers.
fn decoded_len(rle: &str) -> u64 {
    let mut counts: Vec<i64> = Vec::new();
    let bytes = rle.as_bytes();
    let mut p = 0;
    while p < bytes.len() {
        let (mut x, mut k, mut more) = (0i64, 0, true);
        while more && p < bytes.len() {
            let c = bytes[p] as i64 - 48;
            x |= (c & 0x1f) << (5 * k);
            more = c & 0x20 != 0;
            p += 1;
            k += 1;
            if !more && c & 0x10 != 0 {
                x |= -1i64 << (5 * k);
            }
        }
        if counts.len() > 2 {
            x += counts[counts.len() - 2];
        }
        counts.push(x);
    }
    counts.iter().sum::<i64>() as u64
}

fn zeros(dims: &[u32]) -> Result<Tensor, AgentError> {
    let n: usize = dims.iter().map(|&d| d as usize).product();
    Tensor::new(dims, TensorType::Fp32, &vec![0u8; n * 4])
}

#[stage("pre-label", pathways = ["to triage"])]
fn pre_label(task: Task, frame: Frame) -> Result<Outcome, AgentError> {
    match task.data_title.as_str() {
        // Bytes that do not match the dimensions.
        "street-01.png" => {
            Tensor::new(&[1, 3, 64, 64], TensorType::Fp32, &[0; 12])?;
            Err(AgentError::msg(
                "SANDBOX BREACH: a tensor of the wrong length was accepted",
            ))
        }
        // The right bytes in a shape the model does not take.
        "street-02.png" => {
            let model = nn::load(MODEL)?;
            model.run(vec![("x", zeros(&[1, 3, 64])?)])?;
            Err(AgentError::msg("SANDBOX BREACH: a wrong shape ran"))
        }
        // A model nobody granted.
        "street-03.png" => {
            nn::load("nope")?;
            Err(AgentError::msg("SANDBOX BREACH: an ungranted model opened"))
        }
        // Dimensions of 48 GiB with 12 bytes behind them.
        "street-04.png" => {
            Tensor::new(&[1, 3, 65536, 65536], TensorType::Fp32, &[0; 12])?;
            Err(AgentError::msg(
                "SANDBOX BREACH: an enormous tensor was accepted",
            ))
        }
        // Tensors held past the instance's memory limit (one 16 MiB buffer,
        // handed over again and again).
        "street-05.png" => {
            let buffer = vec![0u8; 16 << 20];
            let mut held = Vec::new();
            for _ in 0..17 {
                held.push(Tensor::new(&[4 << 20], TensorType::Fp32, &buffer)?);
            }
            Err(AgentError::msg(
                "SANDBOX BREACH: 272 MiB of tensors were held",
            ))
        }
        // Model bytes from the guest.
        "street-06.png" => match graph::load(
            &[b"not a model".to_vec()],
            graph::GraphEncoding::Onnx,
            graph::ExecutionTarget::Cpu,
        ) {
            Ok(_) => Err(AgentError::msg(
                "SANDBOX BREACH: guest model bytes were loaded",
            )),
            Err(e) => Err(AgentError::msg(format!(
                "denied: {} ({:?})",
                e.data(),
                e.code()
            ))),
        },
        // An inference far longer than the task's time.
        "street-07.png" => {
            let model = nn::load(MODEL)?;
            model.run(vec![("x", zeros(&[1, 3, 2560, 2560])?)])?;
            Err(AgentError::msg("the long inference finished"))
        }
        // The helpers through wasm, checked: a mask over the whole image from
        // the model's map, and YOLO boxes from a made-up v8 output.
        "park-01.png" => {
            let model = nn::load(MODEL)?;
            let input = nn::frame_tensor(
                &frame,
                &TensorOptions::new(64, 64).normalise([0.5; 3], [0.5; 3]),
            )?;
            let out = model.run(vec![("x", input.tensor)])?;
            let mask = nn::mask_bitmask(out.first()?, &input.placement, 0.3)?;
            let pixels = decoded_len(&mask.rle);
            if (mask.width, mask.height, pixels)
                != (
                    frame.width,
                    frame.height,
                    (frame.width * frame.height) as u64,
                )
            {
                return Err(AgentError::msg(format!(
                    "CHECK FAILED: mask {}×{} of {pixels} pixels",
                    mask.width, mask.height
                )));
            }
            Ok(Outcome::pathway("to triage"))
        }
        "park-02.png" => {
            let input = nn::frame_tensor(&frame, &TensorOptions::new(64, 64))?;
            // Two candidates of class 1 on a 64×64 input, columns cx, cy, w, h, c0, c1.
            let v8 = [
                32.0, 40.0, 16.0, 8.0, 0.1, 0.9, 33.0, 40.0, 16.0, 8.0, 0.1, 0.8,
            ];
            let columns: Vec<f32> = (0..6).flat_map(|k| [v8[k], v8[6 + k]]).collect();
            let output = Tensor::from_f32(&[1, 6, 2], &columns)?;
            let found =
                nn::yolo_detections(&output, &input.placement, &YoloOptions::new(YoloFormat::V8))?;
            let b = found.first().map(|d| d.bounding_box);
            match (found.len(), b) {
                (1, Some(b))
                    if found[0].class_index == 1
                        && (b.x - 0.375).abs() < 1e-6
                        && (b.w - 0.25).abs() < 1e-6 =>
                {
                    Ok(Outcome::pathway("to triage"))
                }
                _ => Err(AgentError::msg(format!("CHECK FAILED: {found:?}"))),
            }
        }
        _ => {
            let model = nn::load(MODEL)?;
            let out = model.run(vec![("x", zeros(&[1, 3, 32, 32])?)])?;
            let dims = out.first()?.dims();
            if dims != [1, 1, 32, 32] {
                return Err(AgentError::msg(format!("unexpected output {dims:?}")));
            }
            Ok(Outcome::pathway("to triage"))
        }
    }
}

export_agent!(pre_label);
