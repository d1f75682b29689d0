//! The granted models: each loaded once at start-up, shared by every
//! instance, and run off the async workers.
//!
//! An `ort` session runs one inference at a time (`run` takes `&mut`), so a
//! model keeps a pool of sessions: one is made the first time that many
//! inferences run at once, and each runs with `threads` intra-op threads.
//! Each session holds its own copy of the weights (memory: the model's size
//! times the most inferences that ran at once; docs/models.md).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ort::session::run_options::RunOptions;
use ort::session::{Session, SessionInputValue};
use ort::tensor::TensorElementType;
use ort::value::{DynValue, ValueType};

use super::tensor::{ErrorCode, NnError, Tensor, TensorType};

/// `--model NAME=PATH`: a model file (`.onnx`) or a folder holding one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelGrant {
    pub name: String,
    pub path: PathBuf,
}

impl ModelGrant {
    pub fn parse(s: &str) -> Result<ModelGrant, String> {
        let (name, path) = s
            .split_once('=')
            .filter(|(n, p)| !n.is_empty() && !p.is_empty())
            .ok_or_else(|| {
                format!("--model `{s}`: expected NAME=PATH, e.g. detector=models/det.onnx")
            })?;
        let path = PathBuf::from(path);
        let file = if path.is_dir() {
            onnx_in(&path).map_err(|e| format!("--model {name}={}: {e}", path.display()))?
        } else if path.is_file() {
            path
        } else {
            return Err(format!(
                "--model {name}={}: no such file or folder",
                path.display()
            ));
        };
        Ok(ModelGrant {
            name: name.to_string(),
            path: file,
        })
    }
}

/// The one model of a folder: `model.onnx`, else its only `.onnx` file.
fn onnx_in(dir: &Path) -> Result<PathBuf, String> {
    let named = dir.join("model.onnx");
    if named.is_file() {
        return Ok(named);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "onnx") && p.is_file())
        .collect();
    found.sort();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err("the folder holds no .onnx file".into()),
        _ => Err(format!(
            "the folder holds {} .onnx files; name one, or call it model.onnx",
            found.len()
        )),
    }
}

/// What a model takes or gives: a tensor's name, element type (none when
/// `wasi:nn` has no such type) and dimensions (-1 where any size goes).
#[derive(Debug, Clone, PartialEq)]
pub struct TensorSpec {
    pub name: String,
    pub ty: Option<TensorType>,
    pub dims: Vec<i64>,
}

impl TensorSpec {
    fn of(name: &str, t: &ValueType) -> TensorSpec {
        match t {
            ValueType::Tensor { ty, shape, .. } => TensorSpec {
                name: name.to_string(),
                ty: tensor_type(*ty),
                dims: shape.iter().copied().collect(),
            },
            _ => TensorSpec {
                name: name.to_string(),
                ty: None,
                dims: vec![],
            },
        }
    }

    fn describe(&self) -> String {
        let dims: Vec<String> = self
            .dims
            .iter()
            .map(|d| if *d < 0 { "?".into() } else { d.to_string() })
            .collect();
        let ty = self.ty.map_or("an unsupported type", TensorType::name);
        format!("`{}` {ty} [{}]", self.name, dims.join(", "))
    }
}

fn tensor_type(t: TensorElementType) -> Option<TensorType> {
    Some(match t {
        TensorElementType::Float32 => TensorType::F32,
        TensorElementType::Float64 => TensorType::F64,
        TensorElementType::Uint8 => TensorType::U8,
        TensorElementType::Int32 => TensorType::I32,
        TensorElementType::Int64 => TensorType::I64,
        TensorElementType::Float16 => TensorType::F16,
        TensorElementType::Bfloat16 => TensorType::BF16,
        _ => return None,
    })
}

/// One granted model.
pub struct Model {
    pub name: String,
    pub path: PathBuf,
    pub inputs: Vec<TensorSpec>,
    pub outputs: Vec<TensorSpec>,
    threads: usize,
    idle: Mutex<Vec<Session>>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("name", &self.name)
            .field("path", &self.path)
            .field("inputs", &self.inputs)
            .field("outputs", &self.outputs)
            .finish_non_exhaustive()
    }
}

fn ort_error(what: &str, e: ort::Error) -> NnError {
    NnError::new(ErrorCode::RuntimeError, format!("{what}: {e}"))
}

fn session(path: &Path, threads: usize) -> Result<Session, ort::Error> {
    Session::builder()?
        .with_intra_threads(threads)?
        .with_inter_threads(1)?
        // Idle threads sleep instead of spinning: other tasks share the cores.
        .with_intra_op_spinning(false)?
        .commit_from_file(path)
}

impl Model {
    /// Loads the model (one session, kept) and reads what it takes and gives.
    fn load(grant: &ModelGrant, threads: usize) -> Result<Model, String> {
        let s = session(&grant.path, threads).map_err(|e| {
            format!(
                "--model {}={}: not a model ONNX Runtime can load: {e}",
                grant.name,
                grant.path.display()
            )
        })?;
        let inputs = s
            .inputs
            .iter()
            .map(|i| TensorSpec::of(&i.name, &i.input_type))
            .collect();
        let outputs = s
            .outputs
            .iter()
            .map(|o| TensorSpec::of(&o.name, &o.output_type))
            .collect();
        Ok(Model {
            name: grant.name.clone(),
            path: grant.path.clone(),
            inputs,
            outputs,
            threads,
            idle: Mutex::new(vec![s]),
        })
    }

    /// Checks inputs against what the model takes: every input named once,
    /// of its type, rank and fixed sizes.
    pub fn check_inputs<'a>(
        &self,
        inputs: impl IntoIterator<Item = (&'a str, &'a Tensor)>,
    ) -> Result<(), NnError> {
        let mut seen: Vec<&str> = Vec::new();
        for (name, t) in inputs {
            let spec = self.inputs.iter().find(|s| s.name == name).ok_or_else(|| {
                NnError::invalid(format!(
                    "model `{}` has no input `{name}`; it takes {}",
                    self.name,
                    self.describe_inputs()
                ))
            })?;
            if seen.contains(&name) {
                return Err(NnError::invalid(format!("input `{name}` given twice")));
            }
            seen.push(name);
            let ty = spec.ty.ok_or_else(|| {
                NnError::new(
                    ErrorCode::UnsupportedOperation,
                    format!(
                        "model `{}` input {}: not a tensor wasi:nn can send",
                        self.name,
                        spec.describe()
                    ),
                )
            })?;
            let shape_ok = t.dims.len() == spec.dims.len()
                && t.dims
                    .iter()
                    .zip(&spec.dims)
                    .all(|(&d, &s)| s < 0 || d as i64 == s);
            if t.ty != ty || !shape_ok {
                return Err(NnError::invalid(format!(
                    "model `{}` input {} was given {} {:?}",
                    self.name,
                    spec.describe(),
                    t.ty,
                    t.dims
                )));
            }
        }
        if let Some(missing) = self
            .inputs
            .iter()
            .find(|s| !seen.contains(&s.name.as_str()))
        {
            return Err(NnError::invalid(format!(
                "model `{}` needs input {}, which was not given",
                self.name,
                missing.describe()
            )));
        }
        Ok(())
    }

    fn describe_inputs(&self) -> String {
        self.inputs
            .iter()
            .map(TensorSpec::describe)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Runs the model on a blocking thread. Dropping the future (the task's
    /// time ran out) terminates the run inside ONNX Runtime.
    pub async fn run(
        self: &Arc<Self>,
        inputs: Vec<(String, Tensor)>,
    ) -> Result<Vec<(String, Tensor)>, NnError> {
        self.check_inputs(inputs.iter().map(|(n, t)| (n.as_str(), t)))?;
        let options =
            Arc::new(RunOptions::new().map_err(|e| ort_error("cannot prepare the run", e))?);
        let guard = TerminateOnDrop(Some(options.clone()));
        let model = self.clone();
        let ran = tokio::task::spawn_blocking(move || model.run_blocking(inputs, &options)).await;
        guard.disarm();
        match ran {
            Ok(r) => r,
            Err(e) => Err(NnError::new(
                ErrorCode::RuntimeError,
                format!("model `{}`: inference failed: {e}", self.name),
            )),
        }
    }

    fn run_blocking(
        &self,
        inputs: Vec<(String, Tensor)>,
        options: &RunOptions,
    ) -> Result<Vec<(String, Tensor)>, NnError> {
        let values = inputs
            .into_iter()
            .map(|(name, t)| Ok((Cow::Owned(name), SessionInputValue::from(ort_value(t)?))))
            .collect::<Result<Vec<_>, NnError>>()?;
        let mut session = self.take_session()?;
        let result = (|| {
            let outputs = session
                .run_with_options(values, options)
                .map_err(|e| ort_error(&format!("model `{}`", self.name), e))?;
            outputs
                .iter()
                .map(|(name, v)| Ok((name.to_string(), from_ort(name, &v)?)))
                .collect::<Result<Vec<_>, NnError>>()
        })();
        self.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(session);
        result
    }

    /// Sessions waiting for an inference (each running one holds its own).
    pub fn idle_sessions(&self) -> usize {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    fn take_session(&self) -> Result<Session, NnError> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match idle {
            Some(s) => Ok(s),
            None => session(&self.path, self.threads).map_err(|e| {
                ort_error(
                    &format!("model `{}`: cannot open another session", self.name),
                    e,
                )
            }),
        }
    }
}

/// Stops an inference whose caller went away.
struct TerminateOnDrop(Option<Arc<RunOptions>>);

impl TerminateOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for TerminateOnDrop {
    fn drop(&mut self) {
        if let Some(o) = self.0.take() {
            let _ = o.terminate();
        }
    }
}

fn ort_value(t: Tensor) -> Result<DynValue, NnError> {
    let shape: Vec<i64> = t.dims.iter().map(|&d| d as i64).collect();
    let made = match t.ty {
        TensorType::F32 => {
            ort::value::Tensor::from_array((shape, t.into_f32s())).map(|v| v.into_dyn())
        }
        TensorType::F64 => ort::value::Tensor::from_array((
            shape,
            bytemuck::pod_collect_to_vec::<u8, f64>(t.bytes()),
        ))
        .map(|v| v.into_dyn()),
        TensorType::I32 => ort::value::Tensor::from_array((
            shape,
            bytemuck::pod_collect_to_vec::<u8, i32>(t.bytes()),
        ))
        .map(|v| v.into_dyn()),
        TensorType::I64 => ort::value::Tensor::from_array((
            shape,
            bytemuck::pod_collect_to_vec::<u8, i64>(t.bytes()),
        ))
        .map(|v| v.into_dyn()),
        TensorType::U8 => {
            ort::value::Tensor::from_array((shape, t.bytes().to_vec())).map(|v| v.into_dyn())
        }
        TensorType::F16 | TensorType::BF16 => {
            return Err(NnError::new(
                ErrorCode::UnsupportedOperation,
                format!(
                    "{} tensors are not supported yet; give the model FP32 inputs",
                    t.ty
                ),
            ))
        }
    };
    made.map_err(|e| ort_error("cannot build the input tensor", e))
}

fn from_ort(name: &str, v: &ort::value::ValueRef<'_>) -> Result<Tensor, NnError> {
    fn dims(name: &str, shape: &[i64]) -> Result<Vec<u32>, NnError> {
        shape
            .iter()
            .map(|&d| u32::try_from(d))
            .collect::<Result<Vec<u32>, _>>()
            .map_err(|_| {
                NnError::new(
                    ErrorCode::RuntimeError,
                    format!("output `{name}` has a dimension out of range"),
                )
            })
    }
    fn typed<T: ort::tensor::PrimitiveTensorElementType + bytemuck::Pod>(
        name: &str,
        ty: TensorType,
        v: &ort::value::ValueRef<'_>,
    ) -> Result<Tensor, NnError> {
        let (shape, data) = v
            .try_extract_tensor::<T>()
            .map_err(|e| ort_error(&format!("output `{name}`"), e))?;
        Tensor::new(dims(name, shape)?, ty, bytemuck::cast_slice(data).to_vec())
    }
    let unsupported = || {
        NnError::new(
            ErrorCode::UnsupportedOperation,
            format!("output `{name}` is not a tensor of a type wasi:nn has"),
        )
    };
    let ty = match v.dtype() {
        ValueType::Tensor { ty, .. } => tensor_type(*ty).ok_or_else(unsupported)?,
        _ => return Err(unsupported()),
    };
    match ty {
        // Kept as f32 values: the vision helpers read them without a copy.
        TensorType::F32 => {
            let (shape, data) = v
                .try_extract_tensor::<f32>()
                .map_err(|e| ort_error(&format!("output `{name}`"), e))?;
            Tensor::from_f32(dims(name, shape)?, data.to_vec())
        }
        TensorType::F64 => typed::<f64>(name, ty, v),
        TensorType::I32 => typed::<i32>(name, ty, v),
        TensorType::I64 => typed::<i64>(name, ty, v),
        TensorType::U8 => typed::<u8>(name, ty, v),
        TensorType::F16 | TensorType::BF16 => Err(unsupported()),
    }
}

/// The models of a run, by name.
#[derive(Debug)]
pub struct Models {
    by_name: BTreeMap<String, Arc<Model>>,
    /// ONNX Runtime's version, as the library reports it.
    pub runtime_version: String,
    pub threads: usize,
}

impl Models {
    /// Checks and starts ONNX Runtime, then loads each granted model.
    pub fn load(grants: &[ModelGrant], library: &Path, threads: usize) -> Result<Models, String> {
        let runtime_version = super::runtime::init(library)?;
        let threads = threads.max(1);
        let mut by_name = BTreeMap::new();
        for g in grants {
            if by_name.contains_key(&g.name) {
                return Err(format!(
                    "--model {}: granted twice; give each model its own name",
                    g.name
                ));
            }
            by_name.insert(g.name.clone(), Arc::new(Model::load(g, threads)?));
        }
        Ok(Models {
            by_name,
            runtime_version,
            threads,
        })
    }

    pub fn get(&self, name: &str) -> Option<&Arc<Model>> {
        self.by_name.get(name)
    }

    pub fn names(&self) -> Vec<&str> {
        self.by_name.keys().map(String::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// The library and detector scripts/setup.sh installs: their absence is
    /// a set-up error, not a skipped test.
    fn installed() -> (PathBuf, PathBuf) {
        let library = crate::nn::runtime::locate(None).expect("ONNX Runtime: run scripts/setup.sh");
        let model = crate::nn::runtime::cache_dir()
            .expect("a cache directory")
            .join("models/ch_PP-OCRv4_det_infer.onnx");
        assert!(
            model.is_file(),
            "{} is missing: run scripts/setup.sh",
            model.display()
        );
        (library, model)
    }

    /// Waits until the model's one session is back in its pool.
    async fn session_back(model: &Model) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while model.idle_sessions() == 0 {
            assert!(Instant::now() < deadline, "the session never came back");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dropped_inference_is_terminated() {
        let (library, path) = installed();
        let grant = ModelGrant {
            name: "det".into(),
            path,
        };
        let models = Models::load(&[grant], &library, 1).unwrap();
        let model = models.get("det").unwrap().clone();
        let input = || {
            let side = 1600u32;
            let n = 3 * (side * side) as usize;
            vec![(
                "x".to_string(),
                Tensor::from_f32(vec![1, 3, side, side], vec![0.0; n]).unwrap(),
            )]
        };
        // Dropped (the task's time ran out) 100 ms in: the session comes back
        // when ONNX Runtime stops.
        let started = Instant::now();
        let dropped = tokio::time::timeout(Duration::from_millis(100), model.run(input())).await;
        assert!(dropped.is_err(), "the inference outlived its timeout");
        session_back(&model).await;
        let stopped = started.elapsed();
        // The same inference left to finish, for scale.
        let started = Instant::now();
        let out = model.run(input()).await.unwrap();
        let full = started.elapsed();
        assert_eq!(out[0].1.dims, vec![1, 1, 1600, 1600]);
        assert!(
            stopped * 4 < full,
            "a dropped inference took {stopped:?} to stop; a whole one takes {full:?}"
        );
    }

    #[test]
    fn a_grant_is_name_equals_an_existing_model() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("det.onnx");
        std::fs::write(&f, b"x").unwrap();
        let g = ModelGrant::parse(&format!("det={}", f.display())).unwrap();
        assert_eq!((g.name.as_str(), g.path.as_path()), ("det", f.as_path()));
        // A folder with one model names it.
        let g = ModelGrant::parse(&format!("det={}", dir.path().display())).unwrap();
        assert_eq!(g.path, f);
        std::fs::write(dir.path().join("other.onnx"), b"x").unwrap();
        let e = ModelGrant::parse(&format!("det={}", dir.path().display())).unwrap_err();
        assert!(e.contains("holds 2 .onnx files"), "{e}");
        assert!(ModelGrant::parse("det")
            .unwrap_err()
            .contains("expected NAME=PATH"));
        assert!(ModelGrant::parse("det=/nonexistent.onnx")
            .unwrap_err()
            .contains("no such file"));
    }
}
