//! Running agents from code: `Runner::builder()` takes the CLI's options
//! (the Python `runner(...)` call's), so a service can embed runner-host.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use runner_host::runner::Runner;
//!
//! let summary = Runner::builder()
//!     .component("agent.wasm")
//!     .store("demo-store")
//!     .project_hash("00000000-0000-4000-8000-000000000000")
//!     .task_batch_size(50)
//!     .concurrency(4)
//!     .build()?
//!     .run()
//!     .await?;
//! println!("{summary}");
//! # Ok(()) }
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::{RunOptions, Runner};
use crate::encord::{Credentials, EncordClient, RetryPolicy};
use crate::engine::{DirGrant, LoadedAgent, RunnerDefaults, Sandbox};
use crate::local::LocalStore;
use crate::platform::Platform;

/// Where the project lives.
enum Target {
    Store(PathBuf),
    Encord {
        domain: String,
        credentials: Box<Credentials>,
    },
    Platform(Arc<dyn Platform>),
}

/// Builds a [`Runner`]; every option has the CLI's default.
#[derive(Default)]
pub struct RunnerBuilder {
    component: Option<PathBuf>,
    target: Option<Target>,
    options: Option<RunOptions>,
    project_hash: Option<String>,
    sandbox: Sandbox,
    retry: RetryPolicy,
    /// The options given (which the component's stated defaults do not
    /// replace).
    given: Given,
}

#[derive(Default)]
struct Given {
    refresh_every: bool,
    num_retries: bool,
    task_batch_size: bool,
    max_tasks_per_stage: bool,
    reuse_instance: bool,
}

impl RunnerBuilder {
    fn opts(&mut self) -> &mut RunOptions {
        self.options.get_or_insert_with(|| RunOptions::new(""))
    }

    /// The agent component (.wasm).
    pub fn component(mut self, path: impl Into<PathBuf>) -> Self {
        self.component = Some(path.into());
        self
    }

    /// Run against an embedded local store.
    pub fn store(mut self, path: impl Into<PathBuf>) -> Self {
        self.target = Some(Target::Store(path.into()));
        self
    }

    /// Run against Encord (or an emulator) at `domain`.
    pub fn encord(mut self, domain: impl Into<String>, credentials: Credentials) -> Self {
        self.target = Some(Target::Encord {
            domain: domain.into(),
            credentials: Box::new(credentials),
        });
        self
    }

    /// Run against any platform implementation.
    pub fn platform(mut self, platform: Arc<dyn Platform>) -> Self {
        self.target = Some(Target::Platform(platform));
        self
    }

    pub fn project_hash(mut self, hash: impl Into<String>) -> Self {
        self.project_hash = Some(hash.into());
        self
    }

    pub fn refresh_every(mut self, seconds: Option<u64>) -> Self {
        self.opts().refresh_every = seconds;
        self.given.refresh_every = true;
        self
    }

    pub fn num_retries(mut self, n: u32) -> Self {
        self.opts().num_retries = n;
        self.given.num_retries = true;
        self
    }

    /// The wait before a failed agent attempt's first retry (it doubles per
    /// retry, at most 5 s).
    pub fn retry_delay(mut self, delay: Duration) -> Self {
        self.opts().retry_delay = delay;
        self
    }

    pub fn task_batch_size(mut self, n: usize) -> Self {
        self.opts().task_batch_size = n;
        self.given.task_batch_size = true;
        self
    }

    pub fn max_tasks_per_stage(mut self, n: Option<usize>) -> Self {
        self.opts().max_tasks_per_stage = n;
        self.given.max_tasks_per_stage = true;
        self
    }

    /// [`Self::refresh_every`], if given (else the agent's default stands).
    pub fn refresh_every_if(self, seconds: Option<u64>) -> Self {
        match seconds {
            Some(s) => self.refresh_every(Some(s)),
            None => self,
        }
    }

    /// [`Self::num_retries`], if given.
    pub fn num_retries_if(self, n: Option<u32>) -> Self {
        match n {
            Some(n) => self.num_retries(n),
            None => self,
        }
    }

    /// [`Self::task_batch_size`], if given.
    pub fn task_batch_size_if(self, n: Option<usize>) -> Self {
        match n {
            Some(n) => self.task_batch_size(n),
            None => self,
        }
    }

    /// [`Self::max_tasks_per_stage`], if given.
    pub fn max_tasks_per_stage_if(self, n: Option<usize>) -> Self {
        match n {
            Some(n) => self.max_tasks_per_stage(Some(n)),
            None => self,
        }
    }

    pub fn concurrency(mut self, n: usize) -> Self {
        self.opts().concurrency = n;
        self
    }

    /// Only this stage (title or uuid); call again for more.
    pub fn stage(mut self, stage: impl Into<String>) -> Self {
        self.opts().stages.push(stage.into());
        self
    }

    pub fn dry_run(mut self, yes: bool) -> Self {
        self.opts().dry_run = yes;
        self
    }

    pub fn report(mut self, path: impl Into<PathBuf>) -> Self {
        self.opts().report = Some(path.into());
        self
    }

    /// Remember tasks that exhausted their retries in this file, so later
    /// polls and runs skip them until their data changes.
    pub fn state(mut self, path: impl Into<PathBuf>) -> Self {
        self.opts().state = Some(path.into());
        self
    }

    /// Run remembered failed tasks again.
    pub fn retry_failed(mut self, yes: bool) -> Self {
        self.opts().retry_failed = yes;
        self
    }

    pub fn task_timeout(mut self, timeout: Duration) -> Self {
        self.sandbox.limits.timeout = timeout;
        self
    }

    pub fn memory_limit_mib(mut self, mib: usize) -> Self {
        self.sandbox.limits.memory_bytes = mib.saturating_mul(1 << 20);
        self
    }

    /// A deterministic instruction budget per task attempt.
    pub fn fuel(mut self, fuel: Option<u64>) -> Self {
        self.sandbox.limits.fuel = fuel;
        self
    }

    /// Adds the guest's backtrace (function names only) to trap reasons.
    pub fn guest_backtraces(mut self, on: bool) -> Self {
        self.sandbox.backtraces = on;
        self
    }

    /// Writes `/tmp/perf-PID.map` (the compiled agent's function addresses
    /// and names), for profiling the agent with `perf`.
    pub fn perfmap(mut self, on: bool) -> Self {
        self.sandbox.perfmap = on;
        self
    }

    /// Tasks one instance may run (default 1: a fresh instance per task,
    /// unless the component states another default, as Python agents do).
    /// An instance that trapped or timed out is dropped, never reused.
    pub fn reuse_instance(mut self, tasks: usize) -> Self {
        self.sandbox.reuse = tasks;
        self.given.reuse_instance = true;
        self
    }

    /// [`Self::reuse_instance`], if given (else the agent's default stands).
    pub fn reuse_instance_if(self, tasks: Option<usize>) -> Self {
        match tasks {
            Some(n) => self.reuse_instance(n),
            None => self,
        }
    }

    /// Passes an environment variable (name, value) to guests.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.sandbox.grants.env.push((name.into(), value.into()));
        self
    }

    /// Makes a host directory visible to guests.
    pub fn dir(mut self, grant: DirGrant) -> Self {
        self.sandbox.grants.dirs.push(grant);
        self
    }

    /// Lets guests reach these hosts: HTTP requests (wasi:http) by name and
    /// port, TCP connections (wasi:sockets) to the addresses they resolved to.
    pub fn allow_net(mut self, grants: impl IntoIterator<Item = crate::engine::NetGrant>) -> Self {
        let mut net = self.sandbox.grants.net.to_vec();
        net.extend(grants);
        self.sandbox.grants.net = net.into();
        self
    }

    /// Lets guests run these models (`wasi:nn` `load-by-name`).
    pub fn models(mut self, models: Arc<crate::nn::Models>) -> Self {
        self.sandbox.grants.models = Some(models);
        self
    }

    /// Caches compiled components in `dir` (none: compile every run), and
    /// downloaded media in `dir/media` (none: a temporary directory).
    pub fn cache_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.opts().media_cache = dir.as_ref().map(|d| d.join("media"));
        self.sandbox.cache_dir = dir;
        self
    }

    /// Bounds the downloaded-media cache (default 4 GiB).
    pub fn media_cache_mib(mut self, mib: u64) -> Self {
        self.opts().media_cache_bytes = mib.saturating_mul(1 << 20);
        self
    }

    pub fn http_retries(mut self, n: u32) -> Self {
        self.retry.max_retries = n;
        self
    }

    /// Loads the component and opens the platform.
    pub fn build(mut self) -> anyhow::Result<Runner> {
        let mut options = self.opts().clone();
        options.project_hash = self
            .project_hash
            .take()
            .ok_or_else(|| anyhow::anyhow!("no project hash: call .project_hash(...)"))?;
        let component = self
            .component
            .take()
            .ok_or_else(|| anyhow::anyhow!("no component: call .component(\"agent.wasm\")"))?;
        let platform: Arc<dyn Platform> = match self.target.take() {
            Some(Target::Store(path)) => Arc::new(LocalStore::open(&path)?),
            Some(Target::Encord {
                domain,
                credentials,
            }) => Arc::new(
                EncordClient::new(&domain, *credentials, self.retry).map_err(anyhow::Error::msg)?,
            ),
            Some(Target::Platform(p)) => p,
            None => anyhow::bail!(
                "no project source: call .store(path) or .encord(domain, credentials)"
            ),
        };
        // The pool holds the tasks in flight, plus the manifest and start calls.
        self.sandbox.instances = options.concurrency + 2;
        let mut agent = LoadedAgent::load(&component, &self.sandbox)?;
        let defaults = agent.defaults().clone();
        self.apply_defaults(&defaults, &mut options);
        if let (Some(n), false) = (defaults.reuse_instance, self.given.reuse_instance) {
            agent.set_reuse(n);
            tracing::info!(
                "the agent keeps an instance for up to {n} tasks by default (--reuse-instance {n}); --reuse-instance 1 gives each task a fresh one"
            );
        }
        Ok(Runner::new(platform, agent, options))
    }

    /// The component's stated defaults, for the options not given; each
    /// applied one is logged, so that none acts unseen.
    fn apply_defaults(&self, d: &RunnerDefaults, options: &mut RunOptions) {
        let mut applied = Vec::new();
        let shown = |v: Option<String>| v.unwrap_or_else(|| "none".into());
        if let (Some(v), false) = (d.refresh_every, self.given.refresh_every) {
            options.refresh_every = v.filter(|s| *s > 0);
            applied.push(format!(
                "--refresh-every {}",
                shown(v.map(|s| s.to_string()))
            ));
        }
        if let (Some(v), false) = (d.num_retries, self.given.num_retries) {
            options.num_retries = v;
            applied.push(format!("--num-retries {v}"));
        }
        if let (Some(v), false) = (d.task_batch_size, self.given.task_batch_size) {
            options.task_batch_size = v;
            applied.push(format!("--task-batch-size {v}"));
        }
        if let (Some(v), false) = (d.max_tasks_per_stage, self.given.max_tasks_per_stage) {
            options.max_tasks_per_stage = v;
            applied.push(format!(
                "--max-tasks-per-stage {}",
                shown(v.map(|n| n.to_string()))
            ));
        }
        if !applied.is_empty() {
            tracing::info!(
                "the agent sets defaults (its runner(...) call): {}; give an option to override it",
                applied.join(" ")
            );
        }
    }
}
