//! The command line: `runner-host [run] ...`, `inspect`, `local ...`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand, ValueEnum};

use indicatif::MultiProgress;

use crate::emulator::{EmulatorOptions, Fault, Faults};
use crate::encord::Credentials;
use crate::engine::{DirGrant, Grants, LoadedAgent, NetGrant, ProjectContext, Sandbox, StageSpec};
use crate::local::{self, LocalStore};
use crate::progress::Bars;
use crate::runner::{Runner, StopHandle};

/// Prints a line on stdout; a reader that went away (`| head`) ends the
/// process quietly instead of a panic.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout().lock(), $($arg)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
        }
    }};
}

/// Exit code of a run that completed with failed tasks.
pub const EXIT_TASKS_FAILED: i32 = 3;
/// Exit code of a run stopped by Ctrl-C or SIGTERM.
pub const EXIT_INTERRUPTED: i32 = 130;

/// `runner-host --version`: the release, the WIT package it serves and the
/// engine it runs agents on (both checked by tests: the world against the
/// bindings, wasmtime against Cargo.lock).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (serves the WIT world encord:agent/agent@0.2.0; wasmtime 48.0.8; models on ONNX Runtime 1.22 or newer)"
);

#[derive(Debug, Parser)]
#[command(
    name = "runner-host",
    version = VERSION,
    about = "Runs Encord task agents compiled to WebAssembly components, each task in a fresh sandboxed instance.",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

// Parsed once per process: the size difference between variants is irrelevant.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run an agent component over a project's agent stages (the default command).
    Run(RunArgs),
    /// Print the stages a component serves and what each needs.
    Inspect {
        #[arg(long)]
        component: PathBuf,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        cache: CacheArgs,
    },
    /// Compile a component ahead of time into the compiled-component cache.
    Compile {
        /// The component (.wasm).
        component: PathBuf,
        #[command(flatten)]
        cache: CacheArgs,
    },
    /// Work with an embedded local store.
    #[command(subcommand)]
    Local(LocalCommand),
    /// Serve a local store over Encord's wire format (for the official SDKs and tests).
    Emulator(EmulatorArgs),
    /// Serve Encord's task-ready webhooks: drain an agent stage when Encord says
    /// work waits there; Prometheus metrics at /metrics, health at /healthz.
    Serve(ServeArgs),
    /// Share a project's agent stages with other workers through a NATS
    /// JetStream server: start the same command on any number of machines.
    Worker(WorkerArgs),
    /// Run tasks handed over in encord-agents' QueueRunner JSON (one AgentTask, or a
    /// list) and print its result JSON, for existing Celery or Modal producers.
    RunTask {
        /// The task JSON (default: standard input).
        #[arg(long, value_name = "FILE", default_value = "-")]
        task_json: PathBuf,
        #[command(flatten)]
        run: RunArgs,
    },
    /// What a project's queue holds: per-stage counts, workers, failed tasks.
    #[command(subcommand)]
    Queue(QueueCommand),
    /// Create an agent project in a new folder NAME: a stage, its native test,
    /// a README, and the SDK this binary carries.
    New {
        /// The project's name and folder (lowercase letters, digits, - and _).
        name: String,
        #[arg(long, value_enum)]
        lang: crate::scaffold::Lang,
        /// Where to create it (default: the current folder).
        #[arg(long, default_value = ".")]
        parent: PathBuf,
    },
    /// Build an agent project (Rust, Python or JavaScript) into a component,
    /// installing its pinned toolchain into the user cache on first use.
    Build {
        /// The project (default: the current folder).
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// The component to write (default: DIR/agent.wasm).
        #[arg(short, long)]
        out: Option<PathBuf>,
    },
    /// Run an agent project's native tests (cargo test, unittest with the
    /// SDK's TestRun, or node --test with its testStage).
    Test {
        /// The project (default: the current folder).
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct EmulatorArgs {
    #[arg(long)]
    pub store: PathBuf,
    /// Address to listen on; port 0 picks a free one (printed on stdout).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Latency added to every API request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Probability in [0, 1] that an API request fails with one of --faults.
    #[arg(long, default_value_t = 0.0)]
    pub fault_rate: f64,
    /// Failures to inject: any of 429, 500, 503, reset (and 400, never retried).
    #[arg(long, value_delimiter = ',', default_value = "429,500,503,reset")]
    pub faults: Vec<String>,
    /// Inject only into requests whose path, or legacy query (e.g. labelrow/PUT), contains this (repeatable; default: all API requests).
    #[arg(long = "fault-endpoint")]
    pub fault_endpoints: Vec<String>,
    /// Retry-After seconds sent with an injected 429.
    #[arg(long, default_value_t = 1)]
    pub retry_after: u64,
    /// Also accept `Authorization: Bearer TOKEN`.
    #[arg(long, env = "EMULATOR_BEARER_TOKEN", hide_env_values = true)]
    pub bearer_token: Option<String>,
    /// Record every authenticated API request and its status in FILE, one
    /// JSON line each (credentials left out), to replay the call mix.
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum LocalCommand {
    /// Create a demo project (and the store, if needed); prints its project hash last.
    Demo {
        #[arg(long)]
        store: PathBuf,
        /// How many images (at least the 22 named ones); an image group and a video come too.
        #[arg(long, default_value_t = 22)]
        images: usize,
        /// Leave out the image group and the video: every task is an image (for benchmarks).
        #[arg(long)]
        images_only: bool,
        /// Add three 640×480 images with lines of text drawn at known places (for the
        /// text-regions example); each line's box is in its item's client metadata.
        #[arg(long)]
        with_text: bool,
    },
    /// Create a project from a JSON spec: its ontology, workflow, data and
    /// who last acted on each task (see the README); prints its project hash last.
    Project {
        #[arg(long)]
        store: PathBuf,
        /// The project spec (JSON).
        #[arg(long)]
        spec: PathBuf,
    },
    /// Add new images to a project, their tasks in its first agent stage.
    AddData {
        #[arg(long)]
        store: PathBuf,
        #[arg(long)]
        project_hash: String,
        /// Generated images to add (default: 1, or none when --file is given).
        #[arg(long)]
        images: Option<usize>,
        /// Media files to add (images or videos, copied into the store); repeatable.
        #[arg(long = "file")]
        files: Vec<PathBuf>,
    },
    /// Print task counts per stage.
    Status {
        #[arg(long)]
        store: PathBuf,
        #[arg(long)]
        project_hash: String,
        #[arg(long)]
        json: bool,
    },
    /// Register an OpenSSH Ed25519 public key whose signatures the emulator accepts.
    AddKey {
        #[arg(long)]
        store: PathBuf,
        #[arg(long)]
        public_key: PathBuf,
    },
    /// Print every label row of a project as JSON, with its task's stage and priority.
    Export {
        #[arg(long)]
        store: PathBuf,
        #[arg(long)]
        project_hash: String,
    },
}

/// The compiled-component cache.
#[derive(Debug, Clone, Args)]
pub struct CacheArgs {
    /// Where compiled components are cached (default: $XDG_CACHE_HOME/runner-host).
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// Compile the component on every run instead.
    #[arg(long)]
    pub no_cache: bool,
}

fn cache_dir(c: &CacheArgs) -> Option<PathBuf> {
    if c.no_cache {
        None
    } else {
        c.cache_dir
            .clone()
            .or_else(crate::engine::cache::default_dir)
    }
}

/// `runner-host compile`: compiles into the cache as a run would.
fn compile(component: &Path, cache: &CacheArgs) -> anyhow::Result<i32> {
    let dir = cache_dir(cache)
        .context("no cache directory: pass --cache-dir (neither XDG_CACHE_HOME nor HOME is set)")?;
    let started = std::time::Instant::now();
    let sandbox = Sandbox {
        cache_dir: Some(dir.clone()),
        instances: std::thread::available_parallelism().map_or(2, |n| n.get()) + 2,
        ..Sandbox::default()
    };
    let agent = LoadedAgent::load(component, &sandbox)?;
    let entry = crate::engine::cache::entry(&dir, agent.engine(), agent.digest());
    eprintln!(
        "compiled `{}` in {:.2?}",
        component.display(),
        started.elapsed()
    );
    println!("{}", entry.display());
    Ok(0)
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free one (printed on stdout).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// The file holding the webhook signing secret Encord shows for the
    /// endpoint (else ENCORD_WEBHOOK_SECRET).
    #[arg(long, value_name = "FILE")]
    pub webhook_secret_file: Option<PathBuf>,
    /// The run options: the component, the projects served (--project-hash,
    /// repeatable), limits and grants, the store or Encord.
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// The NATS server the workers share, with JetStream on (nats://HOST:PORT).
    #[arg(long, value_name = "URL", env = "RUNNER_HOST_QUEUE")]
    pub queue: String,
    /// This worker's name in `queue status` and the results (default: HOST-PID).
    #[arg(long)]
    pub worker_id: Option<String>,
    /// Seconds a delivered task stays this worker's without a heartbeat; a
    /// worker that died has its tasks handed to another after this.
    #[arg(long, default_value_t = 30.0, value_name = "S")]
    pub ack_wait: f64,
    /// Seconds between heartbeats of the tasks in flight (under half of --ack-wait).
    #[arg(long, default_value_t = 10.0, value_name = "S")]
    pub heartbeat: f64,
    /// Deliveries of a failing task (each with --num-retries attempts) before it
    /// is recorded as failed for good (`runner-host queue failed`).
    #[arg(long, default_value_t = 5)]
    pub max_deliver: u32,
    /// Seconds the lister's lease lives without renewal: if the worker listing
    /// tasks dies, another takes over after this.
    #[arg(long, default_value_t = 15.0, value_name = "S")]
    pub lease_ttl: f64,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// Per stage, tasks queued, in flight, redelivered and failed; the lister and
    /// each worker's last heartbeat and counts.
    Status {
        #[arg(long, value_name = "URL", env = "RUNNER_HOST_QUEUE")]
        queue: String,
        #[arg(long)]
        project_hash: String,
        #[arg(long)]
        json: bool,
    },
    /// The tasks that failed for good, with their reasons.
    Failed {
        #[arg(long, value_name = "URL", env = "RUNNER_HOST_QUEUE")]
        queue: String,
        #[arg(long)]
        project_hash: String,
        #[arg(long)]
        json: bool,
    },
    /// Queue failed tasks again (these, or with --all every one).
    Retry {
        #[arg(long, value_name = "URL", env = "RUNNER_HOST_QUEUE")]
        queue: String,
        #[arg(long)]
        project_hash: String,
        /// A failed task's uuid; repeatable.
        #[arg(long = "task", required_unless_present = "all")]
        tasks: Vec<String>,
        #[arg(long, conflicts_with = "tasks")]
        all: bool,
    },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The agent component (.wasm built for wasm32-wasip2).
    #[arg(long, required = true)]
    pub component: Option<PathBuf>,
    /// The project hash (`serve`: repeatable, one per project served).
    #[arg(long = "project-hash", required = true)]
    pub project_hashes: Vec<String>,
    /// Run against this embedded local store instead of Encord.
    #[arg(long)]
    pub store: Option<PathBuf>,
    /// Encord's API address (or an emulator's).
    #[arg(long, env = "ENCORD_DOMAIN", default_value = "https://api.encord.com")]
    pub domain: String,
    /// OpenSSH Ed25519 private key of the Encord user (else ENCORD_SSH_KEY, then ENCORD_SSH_KEY_FILE).
    #[arg(long)]
    pub ssh_key_file: Option<PathBuf>,
    /// Retries of a failed Encord request (429, 413, 5xx, connection errors; never a 400).
    #[arg(long, default_value_t = 6)]
    pub http_retries: u32,
    /// Authenticate with a bearer token instead of an SSH key.
    #[arg(long, env = "ENCORD_BEARER_TOKEN", hide_env_values = true)]
    pub bearer_token: Option<String>,
    /// Fetch tasks again every N seconds, measured from the start of a pass. If omitted (or 0), exit once the queues are empty (unless the agent's runner(...) call sets it).
    #[arg(long)]
    pub refresh_every: Option<u64>,
    /// If an agent fails on a task, how many times to retry it [default: 3, or the agent's own].
    #[arg(long)]
    pub num_retries: Option<u32>,
    /// Milliseconds to wait before the first retry of a failed agent attempt; the wait doubles per retry, at most 5 s, with up to 50 % jitter.
    #[arg(long, default_value_t = 100, value_name = "MS")]
    pub retry_delay_ms: u64,
    /// Number of tasks whose labels are loaded into memory at once [default: 300, or the agent's own].
    #[arg(long)]
    pub task_batch_size: Option<usize>,
    /// Most tasks to process per stage on one pass. If omitted, all.
    #[arg(long)]
    pub max_tasks_per_stage: Option<usize>,
    /// Tasks in flight at once (default: the number of cores).
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Run only this stage (title or uuid); repeatable.
    #[arg(long = "stage")]
    pub stages: Vec<String>,
    /// Wall-time limit per task attempt, in seconds.
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..))]
    pub task_timeout: u64,
    /// Run the agents but save, prioritise and move nothing; the report shows what would have been done.
    #[arg(long)]
    pub dry_run: bool,
    /// Write one JSON record per task to this file (task, stage, outcome, pathway, attempts, error, duration).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Where tasks that exhausted their retries are remembered (default: runner-state.sqlite in
    /// the --store directory, else $XDG_STATE_HOME/runner-host/state.sqlite).
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Run tasks that failed before on the same data again.
    #[arg(long)]
    pub retry_failed: bool,
    /// A deterministic instruction budget per task attempt (fuel units).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub fuel: Option<u64>,
    /// Keep an instance for up to N tasks (for agents with expensive set-up, done once per
    /// instance in their `init`); 1, the default, is a fresh instance per task. An instance
    /// that traps or times out is never reused; tasks reading their asset as a file always
    /// get a fresh one.
    /// Default: 1, or what the component states (Python agents: 100).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub reuse_instance: Option<u32>,
    /// Add the guest's backtrace (function names, no file paths) to each trap's reason.
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// Write /tmp/perf-PID.map, so that `perf record` + `perf report` name the agent's own
    /// functions (`wasm[0]::function[N]::name`) next to the host's.
    #[arg(long)]
    pub perfmap: bool,
    /// Pass this environment variable (its value here) to the agent; repeatable.
    #[arg(long = "env", value_name = "NAME")]
    pub env: Vec<String>,
    /// Let the agent see a host directory: HOST_PATH:GUEST_PATH[:ro]; repeatable.
    #[arg(long = "dir", value_name = "HOST:GUEST[:ro]")]
    pub dirs: Vec<String>,
    /// Let the agent reach HOST[:PORT] (port 443 if omitted): HTTP requests to that host name
    /// and port, and TCP connections to the addresses it resolves to; repeatable.
    #[arg(long = "allow-net", value_name = "HOST[:PORT]")]
    pub allow_net: Vec<String>,
    /// Let the agent run this ONNX model, found by NAME (wasi:nn `load-by-name`): a `.onnx`
    /// file, or a folder holding one; repeatable. Loaded once, shared by every instance.
    #[arg(long = "model", value_name = "NAME=PATH")]
    pub models: Vec<String>,
    /// ONNX Runtime's library (libonnxruntime.so, 1.22 or newer), loaded only with --model.
    /// Default: next to the executable, else the copy scripts/setup.sh puts in the user cache.
    #[arg(long, value_name = "PATH", env = "ORT_DYLIB_PATH")]
    pub onnxruntime: Option<PathBuf>,
    /// Threads each model inference may use. Default: the cores divided by --concurrency
    /// (at least 1).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=256))]
    pub nn_threads: Option<u32>,
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Memory limit per instance, in MiB.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=65536))]
    pub memory_limit: u64,
    /// Bound of the downloaded-media cache (in the cache directory), in MiB.
    #[arg(long, default_value_t = 4096)]
    pub media_cache_mib: u64,
}

/// The granted models, loaded once (none without `--model`: then nothing
/// about ONNX Runtime is touched).
fn load_models(
    models: &[String],
    onnxruntime: Option<&Path>,
    nn_threads: Option<u32>,
    concurrency: Option<usize>,
) -> anyhow::Result<Option<Arc<crate::nn::Models>>> {
    if models.is_empty() {
        return Ok(None);
    }
    let grants = models
        .iter()
        .map(|m| crate::nn::ModelGrant::parse(m))
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::msg)?;
    let library = crate::nn::runtime::locate(onnxruntime).map_err(anyhow::Error::msg)?;
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let threads = nn_threads
        .map(|n| n as usize)
        .unwrap_or_else(|| (cores / concurrency.unwrap_or(cores).max(1)).max(1));
    let models = crate::nn::Models::load(&grants, &library, threads).map_err(anyhow::Error::msg)?;
    tracing::info!(
        "models: {} on ONNX Runtime {} ({} thread(s) per inference)",
        models.names().join(", "),
        models.runtime_version,
        models.threads
    );
    Ok(Some(Arc::new(models)))
}

/// Runs the CLI; returns the process exit code.
pub async fn main(cli: Cli, bars: Option<MultiProgress>) -> anyhow::Result<i32> {
    match cli.command {
        Some(Command::Run(args)) => run(args, bars).await,
        None => run(cli.run, bars).await,
        Some(Command::Inspect {
            component,
            json,
            cache,
        }) => inspect(&component, json, &cache).await,
        Some(Command::Compile { component, cache }) => compile(&component, &cache),
        Some(Command::Local(cmd)) => local_command(cmd).await,
        Some(Command::Emulator(args)) => emulator(args).await,
        Some(Command::Serve(args)) => serve(args).await,
        Some(Command::Worker(args)) => worker(args).await,
        Some(Command::Queue(cmd)) => queue_command(cmd).await,
        Some(Command::RunTask { task_json, run }) => run_task(&task_json, run).await,
        Some(Command::New { name, lang, parent }) => {
            let dir = crate::scaffold::new_project(&name, lang, &parent)?;
            eprintln!(
                "created {} ({lang:?}); next: cd {} && runner-host test && runner-host build",
                dir.display(),
                dir.display()
            );
            out!("{}", dir.display());
            Ok(0)
        }
        Some(Command::Build { dir, out }) => {
            let built = crate::scaffold::toolchain::build(&dir, out.as_deref())?;
            eprintln!("built {}", built.display());
            out!("{}", built.display());
            Ok(0)
        }
        Some(Command::Test { dir }) => Ok(crate::scaffold::toolchain::test(&dir)?),
    }
}

/// A runner of `project_hash` with every option of `args` but the stages
/// (a run adds `--stage`; a service's drain adds the stage notified).
pub(crate) fn runner_builder(
    args: &RunArgs,
    project_hash: &str,
    models: Option<Arc<crate::nn::Models>>,
) -> anyhow::Result<crate::runner::RunnerBuilder> {
    let component = args.component.clone().context("--component is required")?;
    let mut builder = Runner::builder()
        .component(component)
        .project_hash(project_hash.to_string())
        .dry_run(args.dry_run)
        .task_timeout(Duration::from_secs(args.task_timeout))
        .memory_limit_mib(usize::try_from(args.memory_limit).unwrap_or(usize::MAX))
        .http_retries(args.http_retries)
        .fuel(args.fuel)
        .reuse_instance_if(args.reuse_instance.map(|n| n as usize))
        .guest_backtraces(args.verbose)
        .perfmap(args.perfmap)
        .cache_dir(cache_dir(&args.cache))
        // Given options only: the agent's stated defaults fill the others.
        .refresh_every_if(args.refresh_every)
        .num_retries_if(args.num_retries)
        .retry_delay(std::time::Duration::from_millis(args.retry_delay_ms))
        .task_batch_size_if(args.task_batch_size)
        .max_tasks_per_stage_if(args.max_tasks_per_stage)
        .media_cache_mib(args.media_cache_mib);
    for (name, value) in Grants::env_from_host(&args.env).map_err(anyhow::Error::msg)? {
        builder = builder.env(name, value);
    }
    for d in &args.dirs {
        builder = builder.dir(d.parse::<DirGrant>().map_err(anyhow::Error::msg)?);
    }
    builder = builder.allow_net(NetGrant::resolve(&args.allow_net).map_err(anyhow::Error::msg)?);
    if let Some(models) = models {
        builder = builder.models(models);
    }
    if let Some(c) = args.concurrency {
        builder = builder.concurrency(c);
    }
    if let Some(r) = &args.report {
        builder = builder.report(r.clone());
    }
    builder = builder.retry_failed(args.retry_failed);
    if let Some(state) = args
        .state
        .clone()
        .or_else(|| default_state(args.store.as_deref()))
    {
        builder = builder.state(state);
    }
    Ok(match &args.store {
        Some(store) if args.ssh_key_file.is_some() => anyhow::bail!(
            "--store `{}` runs on the embedded store, and --ssh-key-file is for Encord: drop one of them",
            store.display()
        ),
        Some(store) => builder.store(store.clone()),
        None => {
            let creds = Credentials::resolve(
                args.ssh_key_file.as_deref(),
                args.bearer_token.clone(),
                |k| std::env::var(k).ok(),
            )?;
            builder.encord(args.domain.clone(), creds)
        }
    })
}

async fn run(args: RunArgs, bars: Option<MultiProgress>) -> anyhow::Result<i32> {
    let project_hash = match args.project_hashes.as_slice() {
        [one] => one.clone(),
        [] => anyhow::bail!("--project-hash is required"),
        many => anyhow::bail!(
            "--project-hash is given {} times: a run is of one project; `runner-host serve` serves several",
            many.len()
        ),
    };
    let models = load_models(
        &args.models,
        args.onnxruntime.as_deref(),
        args.nn_threads,
        args.concurrency,
    )?;
    let mut builder = runner_builder(&args, &project_hash, models)?;
    for s in &args.stages {
        builder = builder.stage(s.clone());
    }
    let mut runner = builder.build()?;
    if let Some(multi) = bars {
        runner = runner.with_progress(Arc::new(Bars::new(multi)));
    }
    stop_on_signals(runner.stop_handle());
    let summary = runner.run().await?;
    if let Some((now, peak)) = host_memory_mib() {
        // Instances give their memory back when they end: a long-running
        // poller stays near its baseline whatever its agents did.
        tracing::info!("host memory after the run: {now} MiB resident (peak {peak} MiB)");
    }
    print!("{summary}");
    Ok(if summary.interrupted {
        EXIT_INTERRUPTED
    } else if summary.failed() > 0 {
        EXIT_TASKS_FAILED
    } else {
        0
    })
}

/// Seconds given on the command line as a duration, checked.
fn seconds(name: &str, s: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(s)
        .ok()
        .filter(|d| !d.is_zero())
        .with_context(|| format!("--{name} {s} is not a number of seconds above 0"))
}

/// `runner-host worker`.
async fn worker(args: WorkerArgs) -> anyhow::Result<i32> {
    let run = &args.run;
    let project_hash = match run.project_hashes.as_slice() {
        [one] => one.clone(),
        [] => anyhow::bail!("--project-hash is required"),
        many => anyhow::bail!(
            "--project-hash is given {} times: a worker serves one project; start one worker per project",
            many.len()
        ),
    };
    if run.dry_run {
        anyhow::bail!("--dry-run does not apply to a worker: it would take tasks from the queue it must leave for others; run `runner-host --dry-run` (one process) to see what the agent would do");
    }
    if run.state.is_some() || run.retry_failed {
        anyhow::bail!("--state and --retry-failed do not apply to a worker: the queue keeps failed tasks (`runner-host queue failed`, `queue retry`)");
    }
    let concurrency = run
        .concurrency
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    // Left to the worker by default: batches of about a second's work, so
    // every worker gets a share and round trips spread over many tasks.
    let fetch = run.task_batch_size;
    let options = crate::queue::WorkerOptions {
        queue_url: args.queue.clone(),
        worker_id: args
            .worker_id
            .clone()
            .unwrap_or_else(crate::queue::worker_id),
        ack_wait: seconds("ack-wait", args.ack_wait)?,
        heartbeat: seconds("heartbeat", args.heartbeat)?,
        max_deliver: args.max_deliver,
        lease_ttl: seconds("lease-ttl", args.lease_ttl)?,
        fetch,
        concurrency,
        refresh_every: run
            .refresh_every
            .filter(|s| *s > 0)
            .map(Duration::from_secs),
        max_tasks_per_stage: run.max_tasks_per_stage,
    };
    options.check()?;
    // The queue first: a bad one is reported before the store or Encord is touched.
    let queue = crate::queue::Queue::connect(
        &options.queue_url,
        &format!("runner-host worker {}", options.worker_id),
        options.lease_ttl,
    )
    .await?;
    let models = load_models(
        &run.models,
        run.onnxruntime.as_deref(),
        run.nn_threads,
        run.concurrency,
    )?;
    let mut builder = runner_builder(run, &project_hash, models)?.refresh_every(Some(0));
    for s in &run.stages {
        builder = builder.stage(s.clone());
    }
    let runner = builder.build()?;
    stop_on_signals(runner.stop_handle());
    let end = crate::queue::work(queue, &runner, options).await?;
    print!("{}", end.summary);
    if end.failed_for_good > 0 {
        eprintln!(
            "{} task(s) failed for good: `runner-host queue failed --queue {} --project-hash {project_hash}` lists them",
            end.failed_for_good, args.queue
        );
    }
    Ok(if end.summary.interrupted {
        EXIT_INTERRUPTED
    } else if end.failed_for_good > 0 {
        EXIT_TASKS_FAILED
    } else {
        0
    })
}

/// `runner-host run-task`.
async fn run_task(task_json: &Path, args: RunArgs) -> anyhow::Result<i32> {
    let input = if task_json == Path::new("-") {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .context("cannot read the task JSON from standard input")?;
        s
    } else {
        std::fs::read_to_string(task_json)
            .with_context(|| format!("cannot read --task-json `{}`", task_json.display()))?
    };
    let (tasks, many) = crate::queue::compat::parse_tasks(&input).map_err(anyhow::Error::msg)?;
    let project_hash = match args.project_hashes.as_slice() {
        [one] => one.clone(),
        _ => anyhow::bail!("run-task runs tasks of one project: give --project-hash once"),
    };
    let models = load_models(
        &args.models,
        args.onnxruntime.as_deref(),
        args.nn_threads,
        args.concurrency,
    )?;
    let mut builder = runner_builder(&args, &project_hash, models)?.refresh_every(Some(0));
    for s in &args.stages {
        builder = builder.stage(s.clone());
    }
    let runner = builder.build()?;
    let prepared = runner.prepare_tasks().await?;
    let (answer, all_ok) = crate::queue::compat::run_tasks(&runner, &prepared, tasks, many)
        .await
        .map_err(anyhow::Error::msg)?;
    out!("{answer}");
    Ok(if all_ok { 0 } else { EXIT_TASKS_FAILED })
}

/// `runner-host queue ...`.
async fn queue_command(cmd: QueueCommand) -> anyhow::Result<i32> {
    match cmd {
        QueueCommand::Status {
            queue,
            project_hash,
            json,
        } => {
            let status = crate::queue::admin::status(&queue, &project_hash).await?;
            if json {
                out!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                print!("{status}");
            }
        }
        QueueCommand::Failed {
            queue,
            project_hash,
            json,
        } => {
            let letters = crate::queue::admin::failed(&queue, &project_hash).await?;
            if json {
                out!("{}", serde_json::to_string_pretty(&letters)?);
            } else if letters.is_empty() {
                out!("no failed task");
            } else {
                for d in &letters {
                    out!(
                        "{}  {}  after {} deliveries, {}: {}",
                        d.message.task.uuid,
                        d.message.task.data_title,
                        d.deliveries,
                        d.at,
                        d.error
                    );
                }
            }
        }
        QueueCommand::Retry {
            queue,
            project_hash,
            tasks,
            all: _,
        } => {
            let queued = crate::queue::admin::retry(&queue, &project_hash, &tasks).await?;
            eprintln!("queued {} failed task(s) again", queued.len());
            for t in queued {
                out!("{t}");
            }
        }
    }
    Ok(0)
}

/// The webhook secret: from the file named, else ENCORD_WEBHOOK_SECRET.
/// Never logged.
fn webhook_secret(file: Option<&Path>) -> anyhow::Result<Vec<u8>> {
    let secret = match file {
        Some(f) => std::fs::read_to_string(f)
            .with_context(|| format!("cannot read the webhook secret file `{}`", f.display()))?
            .trim()
            .to_string(),
        None => std::env::var("ENCORD_WEBHOOK_SECRET").unwrap_or_default(),
    };
    if secret.is_empty() {
        anyhow::bail!(
            "no webhook secret to verify Encord's notifications with: set ENCORD_WEBHOOK_SECRET or pass --webhook-secret-file with the secret the Encord app shows for the endpoint"
        );
    }
    Ok(secret.into_bytes())
}

/// `runner-host serve`.
async fn serve(args: ServeArgs) -> anyhow::Result<i32> {
    let secret = webhook_secret(args.webhook_secret_file.as_deref())?;
    let run = Arc::new(args.run);
    if !run.stages.is_empty() {
        anyhow::bail!(
            "--stage does not apply to `serve`: each notification names the stage to drain"
        );
    }
    // A fallback poll, not the runner's: each drain is one pass.
    let poll = run.refresh_every.filter(|s| *s > 0);
    let models = load_models(
        &run.models,
        run.onnxruntime.as_deref(),
        run.nn_threads,
        run.concurrency,
    )?;
    // Every project, component and credential checked before listening,
    // and the stages each project has that the agent serves.
    let mut served = Vec::new();
    for project in &run.project_hashes {
        let stages = runner_builder(&run, project, models.clone())?
            .build()?
            .stages_served()
            .await?;
        let titles: Vec<&str> = stages.iter().map(|(_, t)| t.as_str()).collect();
        tracing::info!("project {project}: serving stage(s) {}", titles.join(", "));
        served.push((
            project.clone(),
            stages.into_iter().map(|(uuid, _)| uuid).collect(),
        ));
    }
    let metrics = Arc::new(crate::service::metrics::Metrics::default());
    let drain: crate::service::DrainFn = {
        let (run, metrics) = (run.clone(), metrics.clone());
        Arc::new(move |project: String, stage: String| {
            let (run, models) = (run.clone(), models.clone());
            let progress = Arc::new(crate::service::metrics::TaskMetrics {
                metrics: metrics.clone(),
                project: project.clone(),
            });
            // On a blocking thread of the runtime: the run's future is not
            // Send (it holds the store across awaits), so it is driven there.
            let handle = tokio::runtime::Handle::current();
            Box::pin(async move {
                tokio::task::spawn_blocking(move || {
                    let runner = runner_builder(&run, &project, models)
                        .map_err(|e| format!("{e:#}"))?
                        // One pass: a drain ends when the stage is empty (an
                        // agent's own refresh_every must not make it poll).
                        .refresh_every(Some(0))
                        .stage(stage)
                        .build()
                        .map_err(|e| format!("{e:#}"))?
                        .with_progress(progress);
                    handle.block_on(runner.run()).map_err(|e| e.to_string())
                })
                .await
                .unwrap_or_else(|e| Err(format!("the drain panicked: {e}")))
            }) as std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send>>
        })
    };
    let svc = crate::service::Service::new(secret, &served, metrics, drain);
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    out!("listening on http://{addr}");
    tracing::info!(
        "serving {} project(s): task-ready webhooks at http://{addr}/encord/task-ready, metrics at /metrics, health at /healthz",
        run.project_hashes.len()
    );
    if let Some(every) = poll {
        // Drains every stage served now and every `every` seconds, through
        // the same one-at-a-time scheduling as the notifications.
        let svc = svc.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(every));
            loop {
                tick.tick().await;
                for (project, stage) in svc.stages() {
                    svc.request_drain(&project, &stage);
                }
            }
        });
    }
    axum::serve(listener, crate::service::router(svc.clone()))
        .with_graceful_shutdown(signal())
        .await?;
    tracing::info!("stopping: waiting for the drains running to end");
    svc.until_idle().await;
    Ok(0)
}

/// This process's resident and peak resident memory, in MiB (Linux).
fn host_memory_mib() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib >> 10)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// Where failed tasks are remembered when `--state` is not given.
fn default_state(store: Option<&Path>) -> Option<PathBuf> {
    if let Some(store) = store {
        return Some(store.join("runner-state.sqlite"));
    }
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local").join("state"))
        })?;
    Some(base.join("runner-host").join("state.sqlite"))
}

/// First Ctrl-C or SIGTERM: stop cleanly. Second: abort at once.
fn stop_on_signals(stop: StopHandle) {
    tokio::spawn(async move {
        signal().await;
        tracing::warn!("stopping: no new task starts; tasks in flight finish and every decided save and move is written (press Ctrl-C again to abort at once)");
        stop.stop();
        signal().await;
        eprintln!("aborted");
        std::process::exit(EXIT_INTERRUPTED);
    });
}

async fn signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn inspect(component: &Path, json: bool, cache: &CacheArgs) -> anyhow::Result<i32> {
    let sandbox = Sandbox {
        cache_dir: cache_dir(cache),
        ..Sandbox::default()
    };
    let agent = LoadedAgent::load(component, &sandbox)?;
    let project = Arc::new(ProjectContext {
        project_hash: String::new(),
        title: String::new(),
        description: String::new(),
        ontology_hash: String::new(),
        ontology_json: r#"{"objects": [], "classifications": []}"#.into(),
    });
    let stages: Vec<StageSpec> = agent.stages(project).await.map_err(|e| {
        anyhow::anyhow!(
            "reading the stages of `{}` failed: {e}",
            component.display()
        )
    })?;
    if json {
        let v: Vec<serde_json::Value> = stages
            .iter()
            .map(|s| {
                serde_json::json!({
                    "stage": s.stage,
                    "handler": s.handler,
                    "needs": s.needs.iter().map(|n| n.name()).collect::<Vec<_>>(),
                    "pathways": s.pathways,
                    "twins": s.twins,
                    "label_row_options": s.label_rows,
                })
            })
            .collect();
        let d = agent.defaults();
        let mut defaults = serde_json::Map::new();
        if let Some(v) = d.refresh_every {
            defaults.insert("refresh_every".into(), serde_json::json!(v));
        }
        if let Some(v) = d.num_retries {
            defaults.insert("num_retries".into(), serde_json::json!(v));
        }
        if let Some(v) = d.task_batch_size {
            defaults.insert("task_batch_size".into(), serde_json::json!(v));
        }
        if let Some(v) = d.max_tasks_per_stage {
            defaults.insert("max_tasks_per_stage".into(), serde_json::json!(v));
        }
        if let Some(v) = d.reuse_instance {
            defaults.insert("reuse_instance".into(), serde_json::json!(v));
        }
        out!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"stages": v, "runner_defaults": defaults})
            )?
        );
    } else {
        out!("{}: {} stage(s)", component.display(), stages.len());
        if *agent.defaults() != Default::default() {
            out!(
                "  runner defaults (stated by the component): {:?}",
                agent.defaults()
            );
        }
        for s in &stages {
            let needs: Vec<&str> = s.needs.iter().map(|n| n.name()).collect();
            out!(
                "  stage `{}` (handler `{}`)\n    needs: {}\n    pathways: {}",
                s.stage,
                s.handler,
                if needs.is_empty() {
                    "nothing".into()
                } else {
                    needs.join(", ")
                },
                if s.pathways.is_empty() {
                    "not declared".into()
                } else {
                    s.pathways.join(", ")
                }
            );
        }
    }
    Ok(0)
}

async fn local_command(cmd: LocalCommand) -> anyhow::Result<i32> {
    match cmd {
        LocalCommand::AddData {
            store,
            project_hash,
            images,
            files,
        } => {
            check_hash(&project_hash)?;
            let images = images.unwrap_or(if files.is_empty() { 1 } else { 0 });
            for title in local::add_data(&store, &project_hash, images, &files)? {
                out!("{title}");
            }
        }
        LocalCommand::Project { store, spec } => {
            let hash = local::create_project(&store, &spec)?;
            eprintln!(
                "created the project of `{}` in store `{}`",
                spec.display(),
                store.display()
            );
            out!("{hash}");
        }
        LocalCommand::Demo {
            store,
            images,
            images_only,
            with_text,
        } => {
            let hash = local::create_demo_with(&store, images, !images_only, with_text)?;
            eprintln!("created the demo project in store `{}`", store.display());
            out!("{hash}");
        }
        LocalCommand::Status {
            store,
            project_hash,
            json,
        } => {
            let s = LocalStore::open(&store)?;
            check_hash(&project_hash)?;
            let counts = local::stage_counts(&s, &project_hash).await?;
            if json {
                let v = serde_json::json!({"project_hash": project_hash, "stages": counts});
                out!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                out!("{:<20} {:<12} {:>6}", "stage", "type", "tasks");
                for c in counts {
                    out!("{:<20} {:<12} {:>6}", c.title, c.stage_type, c.tasks);
                }
            }
        }
        LocalCommand::AddKey { store, public_key } => {
            let s = LocalStore::open(&store)?;
            let text = std::fs::read_to_string(&public_key).with_context(|| {
                format!("cannot read the public key file `{}`", public_key.display())
            })?;
            let key = crate::encord::auth::parse_public_key(&text).map_err(|e| {
                anyhow::anyhow!(
                    "`{}` is {e}: pass the .pub file of an ssh-keygen -t ed25519 key",
                    public_key.display()
                )
            })?;
            let comment = text.split_whitespace().nth(2).unwrap_or("").to_string();
            let id = s.add_public_key(&key, &comment)?;
            out!("{id}");
        }
        LocalCommand::Export {
            store,
            project_hash,
        } => {
            let s = LocalStore::open(&store)?;
            check_hash(&project_hash)?;
            let rows = local::export_label_rows(&s, &project_hash).await?;
            out!("{}", serde_json::to_string_pretty(&rows)?);
        }
    }
    Ok(0)
}

fn check_hash(h: &str) -> anyhow::Result<()> {
    if !crate::runner::validate::is_uuid(h) {
        anyhow::bail!(
            "project hash `{h}` is not a UUID: copy it from `runner-host local demo`'s output"
        );
    }
    Ok(())
}

async fn emulator(args: EmulatorArgs) -> anyhow::Result<i32> {
    let store = LocalStore::open(&args.store)?;
    if !(0.0..=1.0).contains(&args.fault_rate) {
        anyhow::bail!("--fault-rate {} is outside [0, 1]", args.fault_rate);
    }
    let kinds = args
        .faults
        .iter()
        .map(|f| f.parse::<Fault>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::msg)?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let options = EmulatorOptions {
        faults: Faults {
            latency: Duration::from_millis(args.latency_ms),
            rate: args.fault_rate,
            kinds,
            endpoints: args.fault_endpoints,
            retry_after: args.retry_after,
        },
        bearer_token: args.bearer_token,
        // Created before the address is announced: a client never talks
        // to an emulator that cannot record.
        record: match &args.record {
            Some(path) => Some(
                std::fs::File::create(path)
                    .with_context(|| format!("cannot create --record {}", path.display()))?,
            ),
            None => None,
        },
    };
    eprintln!(
        "emulator: serving store `{}` on http://{addr}",
        args.store.display()
    );
    println!("http://{addr}");
    use std::io::Write;
    std::io::stdout().flush().ok();
    crate::emulator::serve(store, listener, options).await?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_version_names_the_wasmtime_it_was_built_with() {
        let lock = include_str!("../../Cargo.lock");
        let at = lock
            .find("name = \"wasmtime\"\n")
            .expect("wasmtime in Cargo.lock");
        let version = lock[at..]
            .lines()
            .nth(1)
            .and_then(|l| l.strip_prefix("version = \""))
            .and_then(|v| v.strip_suffix('"'))
            .expect("its version");
        assert!(
            super::VERSION.contains(&format!("; wasmtime {version};")),
            "{} does not name wasmtime {version}",
            super::VERSION
        );
        assert!(super::VERSION.contains(&format!("ONNX Runtime 1.{}", ort::MINOR_VERSION)));
    }

    #[test]
    fn the_version_names_the_world_the_host_serves() {
        let world = crate::engine::WORLD;
        assert!(
            super::VERSION.contains(&format!("WIT world {world};")),
            "{} does not name {world}",
            super::VERSION
        );
    }
}
