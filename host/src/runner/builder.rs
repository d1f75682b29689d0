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
use crate::engine::{DirGrant, LoadedAgent, Sandbox};
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
        self
    }

    pub fn num_retries(mut self, n: u32) -> Self {
        self.opts().num_retries = n;
        self
    }

    pub fn task_batch_size(mut self, n: usize) -> Self {
        self.opts().task_batch_size = n;
        self
    }

    pub fn max_tasks_per_stage(mut self, n: Option<usize>) -> Self {
        self.opts().max_tasks_per_stage = n;
        self
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
        self.sandbox.limits.memory_bytes = mib << 20;
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

    /// Tasks one instance may run (default 1: a fresh instance per task).
    /// An instance that trapped or timed out is dropped, never reused.
    pub fn reuse_instance(mut self, tasks: usize) -> Self {
        self.sandbox.reuse = tasks;
        self
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

    /// Caches compiled components in `dir` (none: compile every run), and
    /// downloaded media in `dir/media` (none: a temporary directory).
    pub fn cache_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.opts().media_cache = dir.as_ref().map(|d| d.join("media"));
        self.sandbox.cache_dir = dir;
        self
    }

    /// Bounds the downloaded-media cache (default 4 GiB).
    pub fn media_cache_mib(mut self, mib: u64) -> Self {
        self.opts().media_cache_bytes = mib << 20;
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
        let agent = LoadedAgent::load(&component, &self.sandbox)?;
        Ok(Runner::new(platform, agent, options))
    }
}
