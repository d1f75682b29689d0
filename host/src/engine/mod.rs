//! Loading agent components and running them, one fresh instance per call.
//!
//! One `Engine` and one pre-linked `AgentPre` per component; every call
//! (manifest, start hook, each task attempt) gets a new `Store` whose data is
//! that call's context, so imports need no handles and nothing leaks from one
//! task to the next. Limits: wall time through epoch interruption (the guest
//! yields every tick; a timeout wraps the whole call) and a memory cap that
//! reports itself as such.
//!
//! Opt-in reuse (`--reuse-instance N`): a task's instance is kept, with its
//! store, for up to N tasks; the store's context is swapped per task and its
//! fuel and deadline re-armed. An instance whose call trapped or timed out is
//! dropped. A component exporting `lifecycle.init` has it called once on
//! every new instance before its first task.

pub(crate) mod bindings;
pub mod cache;
mod context;
mod load;
mod manifest;
mod sandbox;
mod state;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::{ComponentExportIndex, Linker};
use wasmtime::{Config, Engine, Store};

pub use bindings::WORLD;
use bindings::{wit, Agent, AgentPre, LIFECYCLE};
pub use context::{
    AssetDir, CallContext, Effects, ProjectContext, StageContext, TaskData, TwinMove, TwinProject,
    TwinSave, Usage,
};
pub use load::{LoadError, RunnerDefaults};
pub use manifest::{Need, Outcome, Route, StageSpec, TwinSpec};
pub use sandbox::{DirGrant, Grants, Limits, NetGrant, Sandbox, ASSET_DIR};

pub(crate) use state::TaskState;

/// How often the epoch ticks; the guest yields to the scheduler each tick.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Why a call into the guest failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    /// The guest returned an error.
    #[error("{0}")]
    Agent(String),
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("memory limit exceeded ({0} MiB)")]
    Memory(usize),
    #[error("fuel exhausted ({0} units)")]
    Fuel(u64),
    #[error("stack overflow")]
    StackOverflow,
    /// The guest trapped (a panic, an `unreachable`, ...).
    #[error("{0}")]
    Trap(String),
}

/// A call other than a task's, made in a fresh instance.
enum Call {
    Stages,
    Start,
}

enum Returned {
    Stages(Vec<wit::types::StageSpec>),
    Start(Result<(), String>),
}

/// A task's call: the handler's outcome (or why there is none), and what
/// the call asked to write and used, whatever its fate.
#[derive(Debug)]
pub struct TaskCall {
    pub outcome: Result<Outcome, CallError>,
    pub effects: Effects,
}

/// An instance kept for more tasks (`--reuse-instance`).
struct Warm {
    store: Store<TaskState>,
    agent: Agent,
    /// Tasks it has run.
    used: usize,
}

/// A loaded agent component, ready to instantiate.
pub struct LoadedAgent {
    engine: Engine,
    pre: AgentPre<TaskState>,
    limits: Limits,
    grants: Arc<Grants>,
    interruptible: bool,
    ticker_stop: Arc<AtomicBool>,
    /// `lifecycle.init`, when the component exports it.
    init: Option<ComponentExportIndex>,
    /// Task calls one instance may serve.
    reuse: usize,
    backtraces: bool,
    /// Instances waiting for their next task.
    warm: std::sync::Mutex<Vec<Warm>>,
    /// The component's SHA-256 (hex).
    digest: String,
    /// What the component states as defaults for the runner's options.
    defaults: RunnerDefaults,
}

impl Drop for LoadedAgent {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

/// Components up to this size have their memory reset by scanning for the
/// pages they wrote. For a Rust or C agent (a few hundred KB; it writes its
/// stack, data and heap in a few runs of pages) that is 10-15 % less CPU per
/// fresh task than clearing all it could reach, and 20 % for the QuickJS
/// agents (1.8 MB). CPython (a 19 MB component) writes all over its image:
/// the scan reports at most 32 runs, wasmtime gives back every page past the
/// last, and the next instance faults them in again: 6× the CPU for the
/// Python bench agent (docs/benchmarks.md).
const SCAN_RESET_MAX_BYTES: u64 = 4 << 20;

impl LoadedAgent {
    /// Compiles (or loads from the cache) and links the component at `path`.
    pub fn load(path: &Path, sandbox: &Sandbox) -> Result<LoadedAgent, LoadError> {
        // A missing file is reported by `compile`, with its name.
        let size = std::fs::metadata(path).map_or(u64::MAX, |m| m.len());
        let engine = engine(sandbox, size <= SCAN_RESET_MAX_BYTES)?;
        let (component, digest, defaults) =
            load::compile(&engine, path, sandbox.cache_dir.as_deref())?;
        let mut linker: Linker<TaskState> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| LoadError::Engine(e.to_string()))?;
        // Outgoing HTTP: linked always, so that an agent importing it loads;
        // each request is checked against the `--allow-net` grants.
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
            .map_err(|e| LoadError::Engine(e.to_string()))?;
        crate::capabilities::add_to_linker(&mut linker)
            .map_err(|e| LoadError::Engine(e.to_string()))?;
        let pre = linker
            .instantiate_pre(&component)
            .and_then(AgentPre::new)
            .map_err(|e| load::world_error(path, &engine, &component, e))?;
        let init = component
            .get_export_index(None, LIFECYCLE)
            .and_then(|lifecycle| component.get_export_index(Some(&lifecycle), "init"));

        let ticker_stop = Arc::new(AtomicBool::new(false));
        let (e, stop) = (engine.clone(), ticker_stop.clone());
        std::thread::Builder::new()
            .name("epoch-ticker".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    e.increment_epoch();
                }
            })
            .map_err(|e| LoadError::Engine(e.to_string()))?;
        Ok(LoadedAgent {
            engine,
            pre,
            limits: sandbox.limits,
            grants: Arc::new(sandbox.grants.clone()),
            interruptible: sandbox.interruptible,
            ticker_stop,
            init,
            reuse: sandbox.reuse.max(1),
            backtraces: sandbox.backtraces,
            warm: std::sync::Mutex::default(),
            digest,
            defaults,
        })
    }

    /// The defaults the component states for the runner's options.
    pub fn defaults(&self) -> &RunnerDefaults {
        &self.defaults
    }

    /// Tasks one instance may serve from now on (at least 1).
    pub fn set_reuse(&mut self, tasks: usize) {
        self.reuse = tasks.max(1);
    }

    /// The component's SHA-256 (hex).
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The engine the component was compiled for.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The stages the component serves (its manifest).
    pub async fn stages(&self, project: Arc<ProjectContext>) -> Result<Vec<StageSpec>, CallError> {
        match self
            .call_fresh(CallContext::new(project), Call::Stages)
            .await?
        {
            Returned::Stages(s) => Ok(s.into_iter().map(StageSpec::from).collect()),
            Returned::Start(_) => unreachable!("stages returns stages"),
        }
    }

    /// Calls the start hook.
    pub async fn start(&self, project: Arc<ProjectContext>) -> Result<(), CallError> {
        match self
            .call_fresh(CallContext::new(project), Call::Start)
            .await?
        {
            Returned::Start(r) => r.map_err(CallError::Agent),
            Returned::Stages(_) => unreachable!("start returns start"),
        }
    }

    /// Runs one task of `stage` (the manifest's name for it): in a fresh
    /// instance, or with `--reuse-instance`, in a kept one. `cx.task` is
    /// the task.
    pub async fn run(&self, cx: CallContext, stage: &str) -> TaskCall {
        let Some(task) = cx.task.as_deref().map(wit::types::Task::from) else {
            return TaskCall {
                outcome: Err(CallError::Agent("no task to run".into())),
                effects: Effects::default(),
            };
        };
        let (outcome, effects) = self.run_task(cx, stage, &task).await;
        let outcome = outcome.and_then(|o| o.map(Outcome::from).map_err(CallError::Agent));
        TaskCall { outcome, effects }
    }

    /// A new store for `cx`, with the limits armed.
    fn store(&self, cx: CallContext) -> Result<Store<TaskState>, CallError> {
        let state =
            TaskState::new(cx, self.limits.memory_bytes, &self.grants).map_err(CallError::Agent)?;
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        self.arm(&mut store)?;
        Ok(store)
    }

    /// Gives a store its per-call budget: fuel, and the yielding deadline.
    fn arm(&self, store: &mut Store<TaskState>) -> Result<(), CallError> {
        if let Some(fuel) = self.limits.fuel {
            store
                .set_fuel(fuel)
                .map_err(|e| CallError::Trap(e.to_string()))?;
        }
        if self.interruptible {
            store.epoch_deadline_async_yield_and_update(1);
        }
        Ok(())
    }

    /// Instantiates the component in `store`; for an instance that will run
    /// tasks, calls its `init` (an error from it is returned as `Err`).
    async fn instantiate(
        &self,
        store: &mut Store<TaskState>,
        for_tasks: bool,
    ) -> wasmtime::Result<Result<Agent, String>> {
        let instance = self
            .pre
            .instance_pre()
            .instantiate_async(&mut *store)
            .await?;
        let agent = Agent::new(&mut *store, &instance)?;
        if let (true, Some(init)) = (for_tasks, &self.init) {
            let init = instance.get_typed_func::<(), (Result<(), String>,)>(&mut *store, init)?;
            if let (Err(message),) = init.call_async(&mut *store, ()).await? {
                return Ok(Err(format!("init failed: {message}")));
            }
        }
        Ok(Ok(agent))
    }

    /// The manifest or the start hook, in a fresh instance (no `init`).
    async fn call_fresh(&self, cx: CallContext, call: Call) -> Result<Returned, CallError> {
        let mut store = self.store(cx)?;
        let fut = async {
            let agent = self
                .instantiate(&mut store, false)
                .await?
                .map_err(wasmtime::Error::msg)?;
            let h = agent.encord_agent_handler();
            wasmtime::Result::Ok(match call {
                Call::Stages => Returned::Stages(h.call_stages(&mut store).await?),
                Call::Start => Returned::Start(h.call_start(&mut store).await?),
            })
        };
        let done = tokio::time::timeout(self.limits.timeout, fut).await;
        self.finish(done, &mut store).0
    }

    /// What a call under the wall-time limit came to: a timeout, a trap
    /// named by what caused it, or the call's value; and its effects, with
    /// what it used.
    fn finish<T>(
        &self,
        done: Result<wasmtime::Result<T>, tokio::time::error::Elapsed>,
        store: &mut Store<TaskState>,
    ) -> (Result<T, CallError>, Effects) {
        let usage = Usage {
            memory_peak_bytes: store.data().limits.peak_bytes() as u64,
            fuel_used: self
                .limits
                .fuel
                .map(|budget| budget.saturating_sub(store.get_fuel().unwrap_or(budget))),
        };
        let effects = Effects {
            usage,
            ..store.data_mut().take_effects()
        };
        let result = match done {
            Err(_) => Err(CallError::Timeout(self.limits.timeout)),
            Ok(Err(e)) => Err(state::classify_trap(
                e,
                store.data(),
                &self.limits,
                self.backtraces,
            )),
            Ok(Ok(v)) => Ok(v),
        };
        (result, effects)
    }

    /// Runs a task: with reuse on, in a kept instance (or a new one) that
    /// is kept afterwards while it has tasks left and its call neither
    /// trapped nor timed out; else in a fresh instance. `Err` inside: the
    /// agent's (or its `init`'s) error.
    async fn run_task(
        &self,
        cx: CallContext,
        stage: &str,
        task: &wit::types::Task,
    ) -> (
        Result<Result<wit::types::Outcome, String>, CallError>,
        Effects,
    ) {
        // A task's asset directory is mounted when its instance is made:
        // such a task gets a fresh instance, and no other task gets it.
        let reusable = self.reuse > 1 && cx.asset_dir.is_none();
        let kept = if reusable {
            self.warm.lock().unwrap_or_else(|e| e.into_inner()).pop()
        } else {
            None
        };
        let (mut store, agent, used) = match kept {
            Some(w) => {
                let mut store = w.store;
                store.data_mut().next_call(cx);
                if let Err(e) = self.arm(&mut store) {
                    return (Err(e), Effects::default());
                }
                (store, Some(w.agent), w.used)
            }
            None => match self.store(cx) {
                Ok(store) => (store, None, 0),
                Err(e) => return (Err(e), Effects::default()),
            },
        };
        let fut = async {
            let agent = match agent {
                Some(agent) => agent,
                None => match self.instantiate(&mut store, true).await? {
                    Ok(agent) => agent,
                    Err(init) => return Ok(Err(init)),
                },
            };
            let r = agent
                .encord_agent_handler()
                .call_run(&mut store, stage, task)
                .await?;
            wasmtime::Result::Ok(Ok((agent, r)))
        };
        let done = tokio::time::timeout(self.limits.timeout, fut).await;
        let ((agent, outcome), effects) = match self.finish(done, &mut store) {
            (Ok(Ok(ran)), effects) => (ran, effects),
            (Ok(Err(init)), effects) => return (Ok(Err(init)), effects),
            (Err(e), effects) => return (Err(e), effects),
        };
        if reusable && used + 1 < self.reuse {
            let warm = Warm {
                store,
                agent,
                used: used + 1,
            };
            self.warm
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(warm);
        }
        (Ok(outcome), effects)
    }
}

/// The engine: epoch interruption always, fuel when asked, and a pooling
/// allocator sized to the instances alive at once, falling back to
/// on-demand allocation where the pool cannot be reserved. With
/// `scan_reset` (and Linux 6.7 or later) a slot is made ready for the next
/// instance by finding the pages the last one wrote (`PAGEMAP_SCAN`) and
/// resetting only those; otherwise every byte it could reach is cleared.
/// See `SCAN_RESET_MAX_BYTES` for which components get it.
fn engine(sandbox: &Sandbox, scan_reset: bool) -> Result<Engine, LoadError> {
    let base = || {
        let mut config = Config::new();
        config.epoch_interruption(sandbox.interruptible);
        // Backtraces name guest functions only: never file paths (which
        // WASMTIME_BACKTRACE_DETAILS would add from the guest's debug info).
        config.wasm_backtrace_details(wasmtime::WasmBacktraceDetails::Disable);
        if sandbox.perfmap {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        if sandbox.limits.fuel.is_some() {
            config.consume_fuel(true);
        }
        config
    };
    if sandbox.instances > 0 {
        let mut pool = wasmtime::PoolingAllocationConfig::default();
        let n = sandbox.instances as u32;
        pool.total_component_instances(n)
            .total_core_instances(n * 16)
            .total_memories(n * 4)
            .total_tables(n * 16)
            .total_stacks(n)
            // A little above the limiter's cap, so the limiter reports first.
            .max_memory_size(sandbox.limits.memory_bytes.saturating_add(1 << 20))
            .linear_memory_keep_resident(64 << 20)
            .table_keep_resident(1 << 20)
            .pagemap_scan(if scan_reset {
                wasmtime::Enabled::Auto
            } else {
                wasmtime::Enabled::No
            });
        let mut config = base();
        config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
        match Engine::new(&config) {
            Ok(e) => return Ok(e),
            Err(e) => tracing::warn!(
                "the pooling allocator is unavailable ({e}); allocating instances on demand"
            ),
        }
    }
    Engine::new(&base()).map_err(|e| LoadError::Engine(e.to_string()))
}
