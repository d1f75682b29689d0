//! A hostile inference agent: on chosen demo tasks it sends the host's
//! wasi:nn what a buggy or malicious agent would. Each such task must fail
//! with a clear reason while the host lives; every other task runs the
//! model properly and is routed, so the suite sees the batch land.

use encord_agent_sdk::bindings::wasi::nn::graph;
use encord_agent_sdk::nn::{self, Tensor, TensorType};
use encord_agent_sdk::prelude::*;

const MODEL: &str = "text-detector";

fn zeros(dims: &[u32]) -> Result<Tensor, AgentError> {
    let n: usize = dims.iter().map(|&d| d as usize).product();
    Tensor::new(dims, TensorType::Fp32, &vec![0u8; n * 4])
}

#[stage("pre-label", pathways = ["to triage"])]
fn pre_label(task: Task) -> Result<Outcome, AgentError> {
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
