//! The runner: validates the agent against the project, then drains each
//! stage in manifest order, batch by batch: bulk-load what the stage
//! declared, run every task in a fresh instance (concurrently), check what
//! each returned, save labels and priorities, and only then move tasks.

mod assets;
mod builder;
mod checks;
mod failures;
mod job;
mod load;
mod plan;
mod progress;
mod report;
mod stop;
mod summary;
mod tasks;
pub mod validate;
mod write;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use encord_labels::outcome::{self, RowSave};
use encord_labels::Ontology;
use futures::{FutureExt, StreamExt};

use crate::retry::RetryPolicy;

use crate::engine::{
    AssetDir, CallContext, CallError, LoadedAgent, Need, Outcome, ProjectContext, Route,
    StageContext, StageSpec, TaskData, TwinMove, TwinProject, TwinSave, Usage,
};
use crate::platform::{
    DataItem, LabelRowQuery, LabelSave, MoveAction, Pathway, Platform, PlatformError, Project,
    Task, TwinRecord, WorkflowStage,
};

pub use assets::{AssetCache, DEFAULT_CACHE_BYTES};

pub use builder::RunnerBuilder;
pub use failures::FailedTasks;
pub use progress::{LogProgress, Progress};
pub use report::Reporter;
pub use stop::StopHandle;
pub use summary::{StageSummary, Summary};
pub use tasks::Prepared;
pub(crate) use write::crash_point;

// The pipeline's parts, seen by each other through `use super::*`.
use checks::check_outcome;
use job::{Done, Ran};
use load::LoadedBatch;

/// Most label rows saved, or priorities set, per request.
pub const SAVE_BUNDLE: usize = 100;
/// Most pathway actions per request.
pub const MOVE_BUNDLE: usize = 1000;
/// Write requests of one kind (label saves, metadata, priorities) in flight
/// at once: a batch's bundles go together, not one round trip after another.
const WRITES_IN_FLIGHT: usize = 4;
/// Task pages listed ahead of the batch being cut and loaded.
const PAGES_AHEAD: usize = 30;
/// Batches loaded at once, ahead of the one running.
const LOADS_AHEAD: usize = 2;
/// Batches whose writes are in flight at once (reported in batch order).
const WRITES_AHEAD: usize = 2;
/// How long a task worker runs tasks back to back before it lets the other
/// tasks of its thread (task listing, loads, writes) take their turn.
const YIELD_EVERY: Duration = Duration::from_millis(1);

/// The runner's options, named as encord-agents names them.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub project_hash: String,
    /// Re-poll every N seconds, measured from pass start; `None` or 0: one pass.
    pub refresh_every: Option<u64>,
    pub num_retries: u32,
    /// The wait before an agent attempt's first retry; it doubles per retry
    /// (see [`crate::retry::RetryPolicy::AGENT_ATTEMPTS`]).
    pub retry_delay: Duration,
    pub task_batch_size: usize,
    pub max_tasks_per_stage: Option<usize>,
    /// Tasks in flight at once.
    pub concurrency: usize,
    /// Only these stages (title or uuid), if any.
    pub stages: Vec<String>,
    /// Run the agents but write nothing: every intended save and move goes to
    /// the report instead.
    pub dry_run: bool,
    /// One JSON record per task.
    pub report: Option<std::path::PathBuf>,
    /// Where tasks that exhausted their retries are remembered (none: not
    /// remembered beyond this pass).
    pub state: Option<std::path::PathBuf>,
    /// Run tasks again even if they failed before on the same data.
    pub retry_failed: bool,
    /// Where downloaded media is cached (none: a temporary directory).
    pub media_cache: Option<std::path::PathBuf>,
    /// The media cache's bound, in bytes.
    pub media_cache_bytes: u64,
}

impl RunOptions {
    pub fn new(project_hash: impl Into<String>) -> RunOptions {
        RunOptions {
            project_hash: project_hash.into(),
            refresh_every: None,
            num_retries: RetryPolicy::AGENT_ATTEMPTS.max_retries,
            retry_delay: RetryPolicy::AGENT_ATTEMPTS.base,
            task_batch_size: 300,
            max_tasks_per_stage: None,
            concurrency: std::thread::available_parallelism().map_or(2, |n| n.get()),
            stages: vec![],
            dry_run: false,
            report: None,
            state: None,
            retry_failed: false,
            media_cache: None,
            media_cache_bytes: DEFAULT_CACHE_BYTES,
        }
    }
}

/// Why a run could not start or go on. Each is one line naming the fix.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Option(String),
    #[error(transparent)]
    Platform(#[from] PlatformError),
    #[error("{0}")]
    Manifest(String),
    #[error("the agent's start hook failed: {0}")]
    Start(CallError),
}

/// One stage to drain: the manifest entry (what it needs is asked of
/// `spec`) and the workflow stage it names.
struct StagePlan {
    spec: StageSpec,
    stage: WorkflowStage,
    context: Arc<StageContext>,
    /// How this stage's label rows are loaded (from `spec`).
    query: LabelRowQuery,
}

/// What happened to one task.
#[derive(Debug, Clone)]
pub struct TaskReport {
    pub task: Task,
    pub stage: String,
    pub result: TaskResult,
    pub attempts: u32,
    /// When its first attempt started (or, for a task not run, when it was
    /// set aside).
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub duration: Duration,
    /// What its last attempt's instance used (none for a task not run).
    pub usage: Option<Usage>,
    /// Labels were saved (or, in a dry run, would have been).
    pub labels_saved: bool,
    /// The priority set (or, in a dry run, that would have been).
    pub priority: Option<f32>,
    /// The storage item's client metadata was replaced (or would have been).
    pub metadata_saved: bool,
    /// The twin projects whose label row of this data was saved (or would
    /// have been).
    pub twin_labels_saved: Vec<String>,
    /// The twin projects whose task of this data was moved along a pathway.
    pub twin_tasks_moved: Vec<String>,
    pub dry_run: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TaskResult {
    /// Moved along this pathway (its name).
    Moved(String),
    /// The move was refused because the task had already left the stage.
    AlreadyAdvanced(String),
    Stayed,
    Failed(String),
    /// Not run: the run was stopped before the task started.
    Abandoned,
    /// Not run: it failed before on the same data (see `--retry-failed`).
    SkippedFailed(String),
}

/// The handler's decision, checked, before anything is written.
struct Decision {
    /// The pathway to move the task along (none: it stays).
    pathway: Option<Pathway>,
    save: Option<String>,
    priority: Option<f32>,
    metadata: Option<MetadataSave>,
    /// Checked when the agent saved them.
    twin_saves: Vec<TwinSave>,
    /// Twin tasks to move, checked when the agent asked.
    twin_moves: Vec<TwinMove>,
}

/// New client metadata for a task's storage item.
struct MetadataSave {
    item_uuid: String,
    /// A JSON object.
    json: String,
}

pub struct Runner {
    platform: Arc<dyn Platform>,
    agent: Arc<LoadedAgent>,
    options: RunOptions,
    stop: StopHandle,
    progress: Arc<dyn Progress>,
}

/// What one [`Runner::run`] builds before any task and its stages share.
struct RunState {
    project: Project,
    pcx: Arc<ProjectContext>,
    ontology: Arc<Ontology>,
    /// The twin projects the stages declared, checked.
    twin_projects: Arc<HashMap<String, Arc<TwinProject>>>,
    /// Made when a stage loads media.
    assets: Option<Arc<AssetCache>>,
    reporter: Option<Reporter>,
    failures: Option<FailedTasks>,
}

impl Runner {
    pub fn new(platform: Arc<dyn Platform>, agent: LoadedAgent, options: RunOptions) -> Runner {
        Runner {
            platform,
            agent: Arc::new(agent),
            options,
            stop: StopHandle::default(),
            progress: Arc::new(LogProgress),
        }
    }

    /// Reports progress to `progress` instead of log lines.
    pub fn with_progress(mut self, progress: Arc<dyn Progress>) -> Runner {
        self.progress = progress;
        self
    }

    /// Starts building a runner (the library's equivalent of the CLI).
    pub fn builder() -> RunnerBuilder {
        RunnerBuilder::default()
    }

    /// A handle that stops the run cleanly (what Ctrl-C does).
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    /// Checks the options that need no network.
    fn check_options(&self) -> Result<(), RunError> {
        let o = &self.options;
        if !validate::is_uuid(&o.project_hash) {
            return Err(RunError::Option(format!(
                "project hash `{}` is not a UUID: copy it from the project's URL in Encord (or from `runner-host local demo`'s output)",
                o.project_hash
            )));
        }
        if o.task_batch_size == 0 {
            return Err(RunError::Option(
                "--task-batch-size must be at least 1".into(),
            ));
        }
        if o.max_tasks_per_stage == Some(0) {
            return Err(RunError::Option(
                "--max-tasks-per-stage must be at least 1".into(),
            ));
        }
        if o.concurrency == 0 {
            return Err(RunError::Option("--concurrency must be at least 1".into()));
        }
        Ok(())
    }

    /// Validates everything, calls the start hook, then runs one pass or
    /// polls. Returns the summary of all passes. Each call builds its own
    /// [`RunState`]: a second `run()` starts afresh.
    pub async fn run(&self) -> Result<Summary, RunError> {
        let (run, plans) = self.prepare().await?;
        let mut summary = Summary::default();
        loop {
            let pass_start = Instant::now();
            for plan in &plans {
                if self.stop.is_stopped() {
                    break;
                }
                let s = self.drain_stage(&run, plan).await;
                summary.add(s);
            }
            let Some(every) = self.options.refresh_every.filter(|s| *s > 0) else {
                break;
            };
            if self.stop.is_stopped() {
                break;
            }
            let next = pass_start + Duration::from_secs(every);
            let now = Instant::now();
            if next > now {
                tracing::info!(
                    "sleeping {:.0} s until the next pass",
                    (next - now).as_secs_f64()
                );
                tokio::select! {
                    _ = tokio::time::sleep(next - now) => {}
                    _ = self.stop.stopped() => break,
                }
            }
        }
        summary.interrupted = self.stop.is_stopped();
        summary.dry_run = self.options.dry_run;
        Ok(summary)
    }

    /// The agent stages this runner drains, as (uuid, title): the project's
    /// workflow matched with the agent's stages (and `--stage`). Runs nothing.
    pub async fn stages_served(&self) -> Result<Vec<(String, String)>, RunError> {
        self.check_options()?;
        let project = self.platform.project(&self.options.project_hash).await?;
        let pcx = context_of(&project);
        let specs =
            self.agent.stages(pcx).await.map_err(|e| {
                RunError::Manifest(format!("reading the agent's stages failed: {e}"))
            })?;
        Ok(self
            .plan(&project, specs)?
            .into_iter()
            .map(|p| (p.stage.uuid.clone(), p.stage.title.clone()))
            .collect())
    }

    /// Everything checked before a task is touched, and the run's state:
    /// the project, the agent's stages matched to its workflow, the twin
    /// projects, the media cache, the start hook, the report and the
    /// failure record.
    async fn prepare(&self) -> Result<(RunState, Vec<StagePlan>), RunError> {
        self.check_options()?;
        let project = self.platform.project(&self.options.project_hash).await?;
        let pcx = context_of(&project);
        let ontology = Arc::new(Ontology::parse(&project.ontology_json).map_err(|e| {
            RunError::Platform(PlatformError::Store(format!(
                "project `{}`: {e}",
                project.project_hash
            )))
        })?);
        let specs =
            self.agent.stages(pcx.clone()).await.map_err(|e| {
                RunError::Manifest(format!("reading the agent's stages failed: {e}"))
            })?;
        let plans = self.plan(&project, specs)?;
        let twin_projects = Arc::new(self.check_twins(&plans).await?);
        let assets = if plans.iter().any(|p| p.spec.loads_media()) {
            let cache = AssetCache::new(
                self.options.media_cache.clone(),
                self.options.media_cache_bytes,
            )
            .map_err(RunError::Option)?;
            Some(Arc::new(cache))
        } else {
            None
        };
        self.agent
            .start(pcx.clone())
            .await
            .map_err(RunError::Start)?;
        let reporter = match &self.options.report {
            Some(path) => Some(Reporter::create(path).map_err(|e| {
                RunError::Option(format!("cannot write the report `{}`: {e}", path.display()))
            })?),
            None => None,
        };
        let failures = match &self.options.state {
            Some(path) => Some(FailedTasks::open(path).map_err(RunError::Option)?),
            None => None,
        };
        let run = RunState {
            project,
            pcx,
            ontology,
            twin_projects,
            assets,
            reporter,
            failures,
        };
        Ok((run, plans))
    }

    /// One pass over one stage, as a pipeline of four steps joined by
    /// bounded channels: task pages are listed, cut into batches and loaded,
    /// run, and written. Against a distant server each step's round trips
    /// overlap the others': the pages are a chain of requests (each needs
    /// the previous token) that never waits for a load, a run or a write.
    async fn drain_stage(&self, run: &RunState, plan: &StagePlan) -> StageSummary {
        use futures::channel::mpsc;
        use futures::SinkExt;

        let started = Instant::now();
        let mut summary = StageSummary::new(&plan.stage.title);
        self.progress.stage_started(&plan.stage.title);
        let (page_tx, page_rx) = mpsc::channel::<Vec<Task>>(PAGES_AHEAD);
        let (loaded_tx, mut loaded_rx) = mpsc::channel::<LoadedBatch>(0);
        let (done_tx, done_rx) = mpsc::channel::<Done>(0);

        let list = async {
            self.list_stage(run, plan, page_tx)
                .await
                .unwrap_or_else(|e| vec![format!("listing tasks failed: {e}")])
        };
        // Batches of `--task-batch-size` (the last one may be short), loaded
        // a few at once and handed on in order.
        let load = async move {
            let batches = futures::stream::unfold(
                (page_rx, VecDeque::<Task>::new()),
                |(mut pages, mut buffer)| async move {
                    let size = self.options.task_batch_size;
                    while buffer.len() < size {
                        match pages.next().await {
                            Some(page) => buffer.extend(page),
                            None => break,
                        }
                    }
                    if buffer.is_empty() || self.stop.is_stopped() {
                        return None;
                    }
                    let tasks: Vec<Task> = buffer.drain(..size.min(buffer.len())).collect();
                    Some((tasks, (pages, buffer)))
                },
            );
            let loaded = batches
                .map(|tasks| self.load_batch(run, plan, tasks))
                .buffered(LOADS_AHEAD);
            let mut loaded = std::pin::pin!(loaded);
            let mut loaded_tx = loaded_tx;
            while let Some(batch) = loaded.next().await {
                if loaded_tx.send(batch).await.is_err() {
                    break;
                }
            }
        };
        let run_batches = async move {
            let mut done_tx = done_tx;
            let mut index = 0;
            while let Some(batch) = loaded_rx.next().await {
                index += 1;
                self.progress
                    .batch_started(&plan.stage.title, index, batch.tasks.len());
                // A stop abandons the batches not started; what ran is
                // still written.
                let done = if self.stop.is_stopped() {
                    Done::Abandoned(abandoned(plan, batch.tasks))
                } else {
                    Done::Ran(self.run_batch(run, plan, batch).await)
                };
                if done_tx.send(done).await.is_err() {
                    break;
                }
            }
        };
        // Writes in batch order, a few batches' at once.
        let write = done_rx
            .map(|done| async move {
                match done {
                    Done::Ran(ran) => self.write_ran(run, plan, ran).await,
                    Done::Abandoned(reports) => reports,
                }
            })
            .buffered(WRITES_AHEAD)
            .for_each(|reports| {
                self.finish(run, &mut summary, reports);
                futures::future::ready(())
            });
        let (errors, (), (), ()) = tokio::join!(list, load, run_batches, write);
        summary.errors.extend(errors);
        summary.duration = started.elapsed();
        self.progress.stage_finished(&summary);
        summary
    }

    /// Counts and reports a batch's tasks.
    fn finish(&self, run: &RunState, summary: &mut StageSummary, reports: Vec<TaskReport>) {
        for r in &reports {
            summary.record(r);
            self.progress.task_reported(r);
        }
        if let Some(reporter) = &run.reporter {
            if let Err(e) = reporter.write(&reports) {
                tracing::error!("writing the report failed: {e}");
            }
        }
    }
}

impl TaskReport {
    /// A report of a task not (yet) run in stage `stage`: nothing written.
    pub(crate) fn new(task: Task, stage: &str, result: TaskResult) -> TaskReport {
        TaskReport {
            task,
            stage: stage.to_string(),
            result,
            attempts: 0,
            started_at: chrono::Utc::now(),
            duration: Duration::ZERO,
            usage: None,
            labels_saved: false,
            priority: None,
            metadata_saved: false,
            twin_labels_saved: Vec::new(),
            twin_tasks_moved: Vec::new(),
            dry_run: false,
        }
    }
}

fn abandoned(plan: &StagePlan, tasks: Vec<Task>) -> Vec<TaskReport> {
    tasks
        .into_iter()
        .map(|t| TaskReport::new(t, &plan.stage.title, TaskResult::Abandoned))
        .collect()
}

/// What the agent is told of its project.
fn context_of(project: &crate::platform::Project) -> Arc<ProjectContext> {
    Arc::new(ProjectContext {
        project_hash: project.project_hash.clone(),
        title: project.title.clone(),
        description: project.description.clone(),
        ontology_hash: project.ontology_hash.clone(),
        ontology_json: project.ontology_json.clone(),
    })
}
