//! `wasi:nn` (graph, tensor, inference, errors) on the granted models.
//!
//! Models are found only by name (`load-by-name`): `load`, which would take
//! model bytes from the guest, is refused. Tensors live in the instance's
//! resource table and count against its memory limit. `compute` runs the
//! model on a blocking thread (`nn::model`); the task's timeout drops the
//! call, which terminates the run inside ONNX Runtime.

use std::sync::Arc;

use wasmtime::component::{HasData, Resource, ResourceTable};

use crate::engine::bindings::wasi_nn::{errors, graph, inference, tensor};
use crate::nn::model::Model;
use crate::nn::{ErrorCode, Models, NnError, Tensor, TensorType};

/// A `graph` resource: a granted model.
pub struct Graph(pub(crate) Arc<Model>);
/// A `graph-execution-context` resource.
pub struct ExecutionContext(pub(crate) Arc<Model>);

/// An instance's inference state: the granted models and the bytes its
/// tensors hold. Kept for the instance's life (tensors and graphs outlive
/// a call when an instance is reused).
pub(crate) struct Nn {
    models: Option<Arc<Models>>,
    tensor_bytes: usize,
    cap: usize,
}

impl Nn {
    pub(crate) fn new(models: Option<Arc<Models>>, memory_cap: usize) -> Nn {
        Nn {
            models,
            tensor_bytes: 0,
            cap: memory_cap,
        }
    }
}

/// The inference capabilities' view of a store (wasi:nn and vision).
pub(crate) struct NnView<'a> {
    pub(crate) nn: &'a mut Nn,
    pub(crate) table: &'a mut ResourceTable,
}

pub(crate) struct NnCap;

impl HasData for NnCap {
    type Data<'a> = NnView<'a>;
}

impl NnView<'_> {
    /// Keeps a tensor in the table, within the instance's memory limit.
    pub(crate) fn push_tensor(&mut self, t: Tensor) -> Result<Resource<Tensor>, NnError> {
        let bytes = t.byte_len();
        let total = self.nn.tensor_bytes.saturating_add(bytes);
        if total > self.nn.cap {
            return Err(NnError::new(
                ErrorCode::TooLarge,
                format!(
                    "a tensor of {} would make this instance's tensors {} MiB, over its memory limit of {} MiB",
                    describe_bytes(bytes),
                    total >> 20,
                    self.nn.cap >> 20
                ),
            ));
        }
        let r = self
            .table
            .push(t)
            .map_err(|e| NnError::new(ErrorCode::RuntimeError, e.to_string()))?;
        self.nn.tensor_bytes = total;
        Ok(r)
    }

    fn take_tensor(&mut self, r: Resource<Tensor>) -> wasmtime::Result<Tensor> {
        let t = self.table.delete(r)?;
        self.nn.tensor_bytes = self.nn.tensor_bytes.saturating_sub(t.byte_len());
        Ok(t)
    }

    fn error(&mut self, e: NnError) -> wasmtime::Result<Resource<NnError>> {
        Ok(self.table.push(e)?)
    }
}

fn describe_bytes(n: usize) -> String {
    if n >= 1 << 20 {
        format!("{} MiB", n >> 20)
    } else {
        format!("{n} bytes")
    }
}

impl From<tensor::TensorType> for TensorType {
    fn from(t: tensor::TensorType) -> TensorType {
        use tensor::TensorType as W;
        match t {
            W::Fp16 => TensorType::F16,
            W::Fp32 => TensorType::F32,
            W::Fp64 => TensorType::F64,
            W::Bf16 => TensorType::BF16,
            W::U8 => TensorType::U8,
            W::I32 => TensorType::I32,
            W::I64 => TensorType::I64,
        }
    }
}

impl From<TensorType> for tensor::TensorType {
    fn from(t: TensorType) -> tensor::TensorType {
        use tensor::TensorType as W;
        match t {
            TensorType::F16 => W::Fp16,
            TensorType::F32 => W::Fp32,
            TensorType::F64 => W::Fp64,
            TensorType::BF16 => W::Bf16,
            TensorType::U8 => W::U8,
            TensorType::I32 => W::I32,
            TensorType::I64 => W::I64,
        }
    }
}

impl tensor::Host for NnView<'_> {}

impl tensor::HostTensor for NnView<'_> {
    /// The constructor has no error channel: a tensor whose bytes do not
    /// match its dimensions, or that would exceed the memory limit, traps
    /// (the task fails with this reason).
    fn new(
        &mut self,
        dimensions: Vec<u32>,
        ty: tensor::TensorType,
        data: Vec<u8>,
    ) -> wasmtime::Result<Resource<Tensor>> {
        let t = Tensor::new(dimensions, ty.into(), data)
            .map_err(|e| wasmtime::format_err!("wasi:nn: {e}"))?;
        self.push_tensor(t)
            .map_err(|e| wasmtime::format_err!("wasi:nn: {e}"))
    }

    fn dimensions(&mut self, t: Resource<Tensor>) -> wasmtime::Result<Vec<u32>> {
        Ok(self.table.get(&t)?.dims.clone())
    }

    fn ty(&mut self, t: Resource<Tensor>) -> wasmtime::Result<tensor::TensorType> {
        Ok(self.table.get(&t)?.ty.into())
    }

    fn data(&mut self, t: Resource<Tensor>) -> wasmtime::Result<Vec<u8>> {
        Ok(self.table.get(&t)?.bytes().to_vec())
    }

    fn drop(&mut self, t: Resource<Tensor>) -> wasmtime::Result<()> {
        self.take_tensor(t).map(|_| ())
    }
}

impl graph::Host for NnView<'_> {
    fn load(
        &mut self,
        _builder: Vec<Vec<u8>>,
        _encoding: graph::GraphEncoding,
        _target: graph::ExecutionTarget,
    ) -> wasmtime::Result<Result<Resource<Graph>, Resource<NnError>>> {
        let e = NnError::new(
            ErrorCode::Security,
            "runner-host does not load model bytes from an agent: the operator grants models \
             with --model NAME=PATH, and the agent opens them with load-by-name",
        );
        Ok(Err(self.error(e)?))
    }

    fn load_by_name(
        &mut self,
        name: String,
    ) -> wasmtime::Result<Result<Resource<Graph>, Resource<NnError>>> {
        let found = match &self.nn.models {
            None => Err(format!(
                "no model named `{name}`: runner-host was started without --model; grant it with --model {name}=PATH"
            )),
            Some(m) => m.get(&name).cloned().ok_or_else(|| {
                format!(
                    "no model named `{name}`; granted: {}",
                    m.names().join(", ")
                )
            }),
        };
        match found {
            Ok(model) => Ok(Ok(self.table.push(Graph(model))?)),
            Err(msg) => {
                let e = NnError::new(ErrorCode::NotFound, msg);
                Ok(Err(self.error(e)?))
            }
        }
    }
}

impl graph::HostGraph for NnView<'_> {
    fn init_execution_context(
        &mut self,
        g: Resource<Graph>,
    ) -> wasmtime::Result<Result<Resource<ExecutionContext>, Resource<NnError>>> {
        let model = self.table.get(&g)?.0.clone();
        Ok(Ok(self.table.push(ExecutionContext(model))?))
    }

    fn drop(&mut self, g: Resource<Graph>) -> wasmtime::Result<()> {
        self.table.delete(g)?;
        Ok(())
    }
}

impl inference::Host for NnView<'_> {}

impl inference::HostGraphExecutionContext for NnView<'_> {
    async fn compute(
        &mut self,
        cx: Resource<ExecutionContext>,
        inputs: Vec<(String, Resource<Tensor>)>,
    ) -> wasmtime::Result<Result<Vec<(String, Resource<Tensor>)>, Resource<NnError>>> {
        let model = self.table.get(&cx)?.0.clone();
        // The tensors are the guest's to give (owned handles): taken out of
        // the table, not copied.
        let mut given = Vec::with_capacity(inputs.len());
        for (name, r) in inputs {
            given.push((name, self.take_tensor(r)?));
        }
        let outputs = match model.run(given).await {
            Ok(o) => o,
            Err(e) => return Ok(Err(self.error(e)?)),
        };
        let mut handed = Vec::with_capacity(outputs.len());
        for (name, t) in outputs {
            match self.push_tensor(t) {
                Ok(r) => handed.push((name, r)),
                Err(e) => {
                    for (_, r) in handed {
                        self.take_tensor(r)?;
                    }
                    return Ok(Err(self.error(e)?));
                }
            }
        }
        Ok(Ok(handed))
    }

    fn drop(&mut self, cx: Resource<ExecutionContext>) -> wasmtime::Result<()> {
        self.table.delete(cx)?;
        Ok(())
    }
}

impl errors::Host for NnView<'_> {}

impl errors::HostError for NnView<'_> {
    fn code(&mut self, e: Resource<NnError>) -> wasmtime::Result<errors::ErrorCode> {
        use errors::ErrorCode as W;
        Ok(match self.table.get(&e)?.code {
            ErrorCode::InvalidArgument => W::InvalidArgument,
            ErrorCode::InvalidEncoding => W::InvalidEncoding,
            ErrorCode::Timeout => W::Timeout,
            ErrorCode::RuntimeError => W::RuntimeError,
            ErrorCode::UnsupportedOperation => W::UnsupportedOperation,
            ErrorCode::TooLarge => W::TooLarge,
            ErrorCode::NotFound => W::NotFound,
            ErrorCode::Security => W::Security,
            ErrorCode::Unknown => W::Unknown,
        })
    }

    fn data(&mut self, e: Resource<NnError>) -> wasmtime::Result<String> {
        Ok(self.table.get(&e)?.message.clone())
    }

    fn drop(&mut self, e: Resource<NnError>) -> wasmtime::Result<()> {
        self.table.delete(e)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use errors::HostError;
    use graph::Host as _;
    use tensor::HostTensor;

    fn view<'a>(nn: &'a mut Nn, table: &'a mut ResourceTable) -> NnView<'a> {
        NnView { nn, table }
    }

    #[test]
    fn model_bytes_from_a_guest_are_refused() {
        let (mut nn, mut table) = (Nn::new(None, 1 << 20), ResourceTable::new());
        let mut v = view(&mut nn, &mut table);
        let e = v
            .load(
                vec![b"onnx".to_vec()],
                graph::GraphEncoding::Onnx,
                graph::ExecutionTarget::Cpu,
            )
            .unwrap()
            .unwrap_err();
        assert!(matches!(
            v.code(Resource::new_borrow(e.rep())).unwrap(),
            errors::ErrorCode::Security
        ));
        assert!(HostError::data(&mut v, e)
            .unwrap()
            .contains("--model NAME=PATH"));
    }

    #[test]
    fn without_a_grant_a_name_finds_nothing_and_says_how_to_grant_it() {
        let (mut nn, mut table) = (Nn::new(None, 1 << 20), ResourceTable::new());
        let mut v = view(&mut nn, &mut table);
        let e = v.load_by_name("det".into()).unwrap().unwrap_err();
        let msg = HostError::data(&mut v, e).unwrap();
        assert!(
            msg.contains("without --model") && msg.contains("--model det=PATH"),
            "{msg}"
        );
    }

    #[test]
    fn tensors_count_against_the_memory_limit_until_dropped() {
        let (mut nn, mut table) = (Nn::new(None, 1000), ResourceTable::new());
        let mut v = view(&mut nn, &mut table);
        let a = v
            .new(vec![100], tensor::TensorType::Fp32, vec![0; 400])
            .unwrap();
        let b = v
            .new(vec![100], tensor::TensorType::Fp32, vec![0; 400])
            .unwrap();
        let e = v
            .new(vec![100], tensor::TensorType::Fp32, vec![0; 400])
            .unwrap_err();
        assert!(e.to_string().contains("over its memory limit"), "{e}");
        HostTensor::drop(&mut v, a).unwrap();
        let c = v
            .new(vec![100], tensor::TensorType::Fp32, vec![0; 400])
            .unwrap();
        assert_eq!(
            v.dimensions(Resource::new_borrow(c.rep())).unwrap(),
            vec![100]
        );
        assert_eq!(v.nn.tensor_bytes, 800);
        let _ = b;
    }

    #[test]
    fn a_tensor_whose_bytes_do_not_match_its_dimensions_traps_with_the_reason() {
        let (mut nn, mut table) = (Nn::new(None, 1 << 20), ResourceTable::new());
        let mut v = view(&mut nn, &mut table);
        let e = v
            .new(vec![1, 3, 4, 4], tensor::TensorType::Fp32, vec![0; 12])
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "wasi:nn: tensor of FP32 [1, 3, 4, 4] needs 192 bytes, got 12"
        );
    }
}
