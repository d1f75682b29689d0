//! The runner: validates the agent against the project, then drains each
//! stage in manifest order, batch by batch: bulk-load what the stage
//! declared, run every task in a fresh instance (concurrently), check what
//! each returned, save labels and priorities, and only then move tasks.

mod assets;
mod builder;
mod failures;
mod progress;
mod report;
mod stop;
mod summary;
pub mod validate;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use encord_labels::outcome::{self, RowSave};

use crate::retry::RetryPolicy;
use encord_labels::Ontology;
use futures::{FutureExt, StreamExt};

use crate::engine::{
    CallContext, CallError, Effects, LoadedAgent, Need, ProjectContext, Route, StageContext,
    StageSpec, TaskData, TwinMove, TwinProject, Usage, WitTask,
};
use crate::platform::{
    DataItem, LabelRowQuery, LabelSave, MoveAction, Platform, PlatformError, Project, Task,
    TwinRecord, WorkflowStage,
};

pub use assets::{AssetCache, DEFAULT_CACHE_BYTES};

pub use builder::RunnerBuilder;
pub use failures::FailedTasks;
pub use progress::{LogProgress, Progress};
pub use report::Reporter;
pub use stop::StopHandle;
pub use summary::{StageSummary, Summary};

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

/// One stage to drain: the manifest entry and the workflow stage it names.
struct StagePlan {
    /// How this stage's label rows are loaded.
    query: LabelRowQuery,
    spec: StageSpec,
    stage: WorkflowStage,
    context: Arc<StageContext>,
    labels: bool,
    metadata: bool,
    /// The storage item is loaded (storage-item, asset or frames declared).
    data: bool,
    /// The media is fetched to local disk (asset or frames declared).
    media: bool,
    asset: bool,
    frames: bool,
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
    pathway: Option<(String, String)>,
    save: Option<String>,
    priority: Option<f32>,
    /// (storage item uuid, new client metadata JSON)
    metadata: Option<(String, String)>,
    /// (twin project hash, label row JSON), checked when the agent saved them.
    twin_saves: Vec<(String, String)>,
    /// Twin tasks to move, checked when the agent asked.
    twin_moves: Vec<TwinMove>,
}

pub struct Runner {
    platform: Arc<dyn Platform>,
    agent: Arc<LoadedAgent>,
    options: RunOptions,
    stop: StopHandle,
    reporter: std::sync::OnceLock<Reporter>,
    failures: std::sync::OnceLock<FailedTasks>,
    assets: std::sync::OnceLock<Arc<AssetCache>>,
    /// The twin projects the stages declared, once checked.
    twin_projects: std::sync::OnceLock<Arc<HashMap<String, Arc<TwinProject>>>>,
    progress: Arc<dyn Progress>,
}

impl Runner {
    pub fn new(platform: Arc<dyn Platform>, agent: LoadedAgent, options: RunOptions) -> Runner {
        Runner {
            platform,
            agent: Arc::new(agent),
            options,
            stop: StopHandle::default(),
            reporter: std::sync::OnceLock::new(),
            failures: std::sync::OnceLock::new(),
            assets: std::sync::OnceLock::new(),
            twin_projects: std::sync::OnceLock::new(),
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
    /// polls. Returns the summary of all passes.
    pub async fn run(&self) -> Result<Summary, RunError> {
        self.check_options()?;
        let project = self.platform.project(&self.options.project_hash).await?;
        let pcx = Arc::new(ProjectContext {
            project_hash: project.project_hash.clone(),
            title: project.title.clone(),
            description: project.description.clone(),
            ontology_hash: project.ontology_hash.clone(),
            ontology_json: project.ontology_json.clone(),
        });
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
        let twins = self.check_twins(&plans).await?;
        let _ = self.twin_projects.set(Arc::new(twins));
        if plans.iter().any(|p| p.media) {
            let cache = AssetCache::new(
                self.options.media_cache.clone(),
                self.options.media_cache_bytes,
            )
            .map_err(RunError::Option)?;
            let _ = self.assets.set(Arc::new(cache));
        }
        self.agent
            .start(pcx.clone())
            .await
            .map_err(RunError::Start)?;
        if let Some(path) = &self.options.report {
            let reporter = Reporter::create(path).map_err(|e| {
                RunError::Option(format!("cannot write the report `{}`: {e}", path.display()))
            })?;
            let _ = self.reporter.set(reporter);
        }
        if let Some(path) = &self.options.state {
            let failures = FailedTasks::open(path).map_err(RunError::Option)?;
            let _ = self.failures.set(failures);
        }

        let mut summary = Summary::default();
        loop {
            let pass_start = Instant::now();
            for plan in &plans {
                if self.stop.is_stopped() {
                    break;
                }
                let s = self.drain_stage(&project, &pcx, &ontology, plan).await;
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

    /// Matches the manifest to the workflow: every stage must exist, be
    /// served once, need only what this host serves, and declare only
    /// pathways the stage has.
    fn plan(&self, project: &Project, specs: Vec<StageSpec>) -> Result<Vec<StagePlan>, RunError> {
        if specs.is_empty() {
            return Err(RunError::Manifest(
                "the agent serves no stage: add a #[stage(\"...\")] handler to export_agent!"
                    .into(),
            ));
        }
        let mut plans: Vec<StagePlan> = Vec::new();
        for spec in specs {
            let stage = validate::resolve_stage(project, &spec)
                .map_err(RunError::Manifest)?
                .clone();
            if let Some(other) = plans.iter().find(|p| p.stage.uuid == stage.uuid) {
                return Err(RunError::Manifest(format!(
                    "handlers `{}` and `{}` both serve stage `{}`: a stage can have only one handler",
                    other.spec.handler, spec.handler, stage.title
                )));
            }
            for twin in &spec.twins {
                if !validate::is_uuid(&twin.project_hash) {
                    return Err(RunError::Manifest(format!(
                        "handler `{}` declares twin project `{}`, which is not a project hash (a UUID)",
                        spec.handler, twin.project_hash
                    )));
                }
            }
            for p in &spec.pathways {
                validate::resolve_pathway(&stage, p).map_err(|e| {
                    RunError::Manifest(format!(
                        "handler `{}` declares a pathway the workflow lacks: {e}",
                        spec.handler
                    ))
                })?;
            }
            let context = Arc::new(StageContext {
                uuid: stage.uuid.clone(),
                title: stage.title.clone(),
                pathways: stage
                    .pathways()
                    .iter()
                    .map(|p| (p.uuid.clone(), p.title.clone(), p.destination_uuid.clone()))
                    .collect(),
            });
            let o = &spec.label_row_options;
            let query = LabelRowQuery {
                with_labels: spec.needs.contains(&Need::LabelRow),
                include_workflow_graph_node: o.include_workflow_graph_node,
                include_client_metadata: o.include_client_metadata,
                include_images_data: o.include_images_data,
                include_all_label_branches: o.include_all_label_branches,
                branch_name: o.branch_name.clone(),
                include_children: o.include_children,
                include_object_feature_hashes: o.include_object_feature_hashes.clone(),
                include_classification_feature_hashes: o
                    .include_classification_feature_hashes
                    .clone(),
                include_reviews: o.include_reviews,
                include_signed_url: o.include_signed_url,
            };
            let asset = spec.needs.contains(&Need::Asset);
            let frames = spec.needs.contains(&Need::Frames);
            plans.push(StagePlan {
                query,
                labels: spec.needs.contains(&Need::LabelRow),
                metadata: spec.needs.contains(&Need::LabelRowMetadata),
                data: asset || frames || spec.needs.contains(&Need::StorageItem),
                media: asset || frames,
                asset,
                frames,
                spec,
                stage,
                context,
            });
        }
        if !self.options.stages.is_empty() {
            for wanted in &self.options.stages {
                if !plans
                    .iter()
                    .any(|p| &p.stage.title == wanted || p.stage.uuid.eq_ignore_ascii_case(wanted))
                {
                    let served: Vec<&str> = plans.iter().map(|p| p.stage.title.as_str()).collect();
                    return Err(RunError::Option(format!(
                        "--stage `{wanted}` is not served by this agent; it serves: {}",
                        served.join(", ")
                    )));
                }
            }
            plans.retain(|p| {
                self.options
                    .stages
                    .iter()
                    .any(|w| &p.stage.title == w || p.stage.uuid.eq_ignore_ascii_case(w))
            });
        }
        Ok(plans)
    }

    /// Every twin project a stage declares must exist (and be readable),
    /// with an ontology that parses, before any task runs.
    async fn check_twins(
        &self,
        plans: &[StagePlan],
    ) -> Result<HashMap<String, Arc<TwinProject>>, RunError> {
        let mut twins = HashMap::new();
        for plan in plans {
            for twin in &plan.spec.twins {
                if twins.contains_key(&twin.project_hash) {
                    continue;
                }
                let declared = |e: &dyn std::fmt::Display| {
                    RunError::Manifest(format!(
                        "handler `{}` declares twin project `{}`: {e}",
                        plan.spec.handler, twin.project_hash
                    ))
                };
                let p = self
                    .platform
                    .project(&twin.project_hash)
                    .await
                    .map_err(|e| declared(&e))?;
                let ontology = Ontology::parse(&p.ontology_json).map_err(|e| {
                    declared(&format!(
                        "its ontology is not one runner-host can read: {e}"
                    ))
                })?;
                twins.insert(
                    twin.project_hash.clone(),
                    Arc::new(TwinProject {
                        title: p.title,
                        ontology_json: p.ontology_json,
                        ontology: Arc::new(ontology),
                        workflow: p.workflow,
                    }),
                );
            }
        }
        Ok(twins)
    }

    /// One task's storage item, with its media on local disk when the stage
    /// declared `asset` or `frames`. A failure fails only that task.
    async fn task_data(
        &self,
        plan: &StagePlan,
        item: DataItem,
    ) -> (Result<Option<Arc<TaskData>>, String>, Vec<assets::Pin>) {
        let mut pins = Vec::new();
        let mut file = None;
        let mut children = Vec::new();
        if plan.media {
            let cache = self
                .assets
                .get()
                .expect("a media cache for stages with media");
            let fetch = |i: DataItem| async move { cache.fetch(self.platform.as_ref(), &i).await };
            if item.children.is_empty() || item.media.is_some() {
                match fetch(item.clone()).await {
                    Ok((path, pin)) => {
                        file = Some(path);
                        pins.extend(pin);
                    }
                    Err(e) if item.children.is_empty() => {
                        return (Err(format!("fetching `{}` failed: {e}", item.name)), pins)
                    }
                    Err(_) => {}
                }
            }
            for child in &item.children {
                match fetch(child.clone()).await {
                    Ok((path, pin)) => {
                        children.push(path);
                        pins.extend(pin);
                    }
                    Err(e) => {
                        return (
                            Err(format!(
                                "fetching `{}` of `{}` failed: {e}",
                                child.name, item.name
                            )),
                            pins,
                        )
                    }
                }
            }
        }
        let data = TaskData {
            item,
            file,
            children,
            asset: plan.asset,
            frames: plan.frames,
        };
        (Ok(Some(Arc::new(data))), pins)
    }

    /// One pass over one stage, as a pipeline of four steps joined by
    /// bounded channels: task pages are listed, cut into batches and loaded,
    /// run, and written. Against a distant server each step's round trips
    /// overlap the others': the pages are a chain of requests (each needs
    /// the previous token) that never waits for a load, a run or a write.
    async fn drain_stage(
        &self,
        project: &Project,
        pcx: &Arc<ProjectContext>,
        ontology: &Arc<Ontology>,
        plan: &StagePlan,
    ) -> StageSummary {
        use futures::channel::mpsc;
        use futures::SinkExt;

        let started = Instant::now();
        let mut summary = StageSummary::new(&plan.stage.title);
        self.progress.stage_started(&plan.stage.title);
        let (page_tx, page_rx) = mpsc::channel::<Vec<Task>>(PAGES_AHEAD);
        let (loaded_tx, mut loaded_rx) = mpsc::channel::<LoadedBatch>(0);
        let (done_tx, done_rx) = mpsc::channel::<Done>(0);

        let list = async {
            self.list_stage(project, plan, page_tx)
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
                .map(|tasks| self.load_batch(project, plan, tasks))
                .buffered(LOADS_AHEAD);
            let mut loaded = std::pin::pin!(loaded);
            let mut loaded_tx = loaded_tx;
            while let Some(batch) = loaded.next().await {
                if loaded_tx.send(batch).await.is_err() {
                    break;
                }
            }
        };
        let run = async move {
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
                    Done::Ran(self.run_batch(project, pcx, ontology, plan, batch).await)
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
                    Done::Ran(ran) => self.write_ran(project, plan, ran).await,
                    Done::Abandoned(reports) => reports,
                }
            })
            .buffered(WRITES_AHEAD)
            .for_each(|reports| {
                self.finish(&mut summary, reports);
                futures::future::ready(())
            });
        let (errors, (), (), ()) = tokio::join!(list, load, run, write);
        summary.errors.extend(errors);
        summary.duration = started.elapsed();
        self.progress.stage_finished(&summary);
        summary
    }

    /// Counts and reports a batch's tasks.
    fn finish(&self, summary: &mut StageSummary, reports: Vec<TaskReport>) {
        for r in &reports {
            summary.record(r);
        }
        if let Some(reporter) = self.reporter.get() {
            if let Err(e) = reporter.write(&reports) {
                tracing::error!("writing the report failed: {e}");
            }
        }
    }

    /// Lists the stage's task pages into `pages`, never past
    /// `--max-tasks-per-stage`, until the stage has no more, a stop, or the
    /// rest of the pipeline has ended. Returns the listing errors. It runs
    /// as its own task: the pages are a chain of round trips, each waiting
    /// for the token of the one before, and no other step's work (running
    /// or writing a batch) delays the next link.
    fn list_stage(
        &self,
        project: &Project,
        plan: &StagePlan,
        mut pages: futures::channel::mpsc::Sender<Vec<Task>>,
    ) -> tokio::task::JoinHandle<Vec<String>> {
        use futures::SinkExt;

        let platform = self.platform.clone();
        let stop = self.stop.clone();
        let project_hash = project.project_hash.clone();
        let stage_uuid = plan.stage.uuid.clone();
        let stage_title = plan.stage.title.clone();
        let mut left = self.options.max_tasks_per_stage.unwrap_or(usize::MAX);
        tokio::spawn(async move {
            let mut token: Option<String> = None;
            while left > 0 && !stop.is_stopped() {
                match platform
                    .list_tasks(&project_hash, &stage_uuid, token.as_deref())
                    .await
                {
                    Ok(page) => {
                        let mut tasks = page.tasks;
                        tasks.truncate(left);
                        left -= tasks.len();
                        if !tasks.is_empty() && pages.send(tasks).await.is_err() {
                            break;
                        }
                        token = page.next_page_token;
                        if token.is_none() {
                            break;
                        }
                    }
                    Err(e) => {
                        tracing::error!(stage = %stage_title, "listing tasks failed: {e}");
                        return vec![format!("listing tasks failed: {e}")];
                    }
                }
            }
            Vec::new()
        })
    }

    /// Loads what the stage declared for a batch of tasks: one call for the
    /// whole batch per kind.
    async fn load_batch(
        &self,
        project: &Project,
        plan: &StagePlan,
        tasks: Vec<Task>,
    ) -> LoadedBatch {
        // Bulk-load what the stage declared: one call for the whole batch.
        let mut rows: Vec<Option<Arc<str>>> = vec![None; tasks.len()];
        // The storage items the label rows name, so they are not looked up again.
        let mut items: Vec<Option<String>> = Vec::new();
        let mut load_error = None;
        if plan.labels || plan.metadata {
            let hashes: Vec<String> = tasks.iter().map(|t| t.data_hash.clone()).collect();
            match self
                .platform
                .label_rows(&project.project_hash, &hashes, &plan.query)
                .await
            {
                Ok(records) => {
                    for (slot, r) in rows.iter_mut().zip(records) {
                        *slot = r.json.map(Arc::from);
                        items.push(r.item_uuid);
                    }
                }
                Err(e) => load_error = Some(format!("loading label rows failed: {e}")),
            }
        }
        let mut data: Vec<Result<Option<Arc<TaskData>>, String>> = vec![Ok(None); tasks.len()];
        let mut pins = Vec::new();
        if plan.data && load_error.is_none() {
            let hashes: Vec<String> = tasks.iter().map(|t| t.data_hash.clone()).collect();
            match self
                .platform
                .data_items(&project.project_hash, &hashes, &items)
                .await
            {
                Ok(items) => {
                    let loads = tasks.iter().zip(items).map(|(t, item)| async move {
                        let Some(item) = item else {
                            return (
                                Err(format!("data `{}` has no storage item", t.data_hash)),
                                vec![],
                            );
                        };
                        self.task_data(plan, item).await
                    });
                    // Media downloads: a few at a time, results in task order.
                    let loaded: Vec<_> = futures::stream::iter(loads).buffered(4).collect().await;
                    for (slot, (d, p)) in data.iter_mut().zip(loaded) {
                        *slot = d;
                        pins.extend(p);
                    }
                }
                Err(e) => load_error = Some(format!("loading storage items failed: {e}")),
            }
        }
        let mut twins: Vec<HashMap<String, Option<TwinRecord>>> = vec![HashMap::new(); tasks.len()];
        if load_error.is_none() && !plan.spec.twins.is_empty() {
            let hashes: Vec<String> = tasks.iter().map(|t| t.data_hash.clone()).collect();
            for spec in &plan.spec.twins {
                match self
                    .platform
                    .twins(&spec.project_hash, &hashes, spec.include_task)
                    .await
                {
                    Ok(found) => {
                        for (slot, t) in twins.iter_mut().zip(found) {
                            slot.insert(spec.project_hash.clone(), t);
                        }
                    }
                    Err(e) => {
                        load_error = Some(format!(
                            "loading twin project `{}` failed: {e}",
                            spec.project_hash
                        ));
                        break;
                    }
                }
            }
        }
        LoadedBatch {
            tasks,
            rows,
            data,
            twins: if plan.spec.twins.is_empty() {
                // One shared empty map, not one per task.
                vec![Arc::default(); twins.len()]
            } else {
                twins.into_iter().map(Arc::new).collect()
            },
            load_error,
            _pins: pins,
        }
    }

    /// Runs one loaded batch's tasks; [`Runner::write_ran`] then saves and
    /// moves them.
    async fn run_batch(
        &self,
        project: &Project,
        pcx: &Arc<ProjectContext>,
        ontology: &Arc<Ontology>,
        plan: &StagePlan,
        batch: LoadedBatch,
    ) -> Ran {
        if let Some(reason) = batch.load_error {
            return Ran {
                results: batch
                    .tasks
                    .into_iter()
                    .map(|task| {
                        let report =
                            TaskReport::new(task, plan, TaskResult::Failed(reason.clone()));
                        (report, None)
                    })
                    .collect(),
                ..Ran::default()
            };
        }
        // Tasks that failed before on the same data wait for new data. The
        // fingerprint is computed only for tasks that have a record.
        let mut skipped = Vec::new();
        let mut todo = Vec::with_capacity(batch.tasks.len());
        let mut had_record: std::collections::HashSet<String> = std::collections::HashSet::new();
        let LoadedBatch {
            tasks,
            rows,
            data,
            twins,
            _pins,
            ..
        } = batch;
        for (((task, row), data), twins) in tasks.into_iter().zip(rows).zip(data).zip(twins) {
            let record = self
                .failures
                .get()
                .and_then(|f| f.recorded(&project.project_hash, &plan.stage.uuid, &task.uuid));
            if let Some((print, error)) = record {
                let same_data = print
                    == failures::fingerprint(self.agent.digest(), &task.status, row.as_deref());
                if same_data && !self.options.retry_failed {
                    skipped.push(TaskReport::new(
                        task,
                        plan,
                        TaskResult::SkippedFailed(error),
                    ));
                    continue;
                }
                had_record.insert(task.uuid.clone());
            }
            todo.push(Queued {
                task,
                row,
                data,
                twins,
            });
        }
        // Run every task, each in fresh instances, `concurrency` at a time:
        // as many workers, each taking the batch's next task until none is
        // left (one tokio task per worker, not per task: no thread is woken
        // per task to start it).
        let job = Arc::new(TaskJob {
            assets: self.assets.get().cloned(),
            agent: self.agent.clone(),
            pcx: pcx.clone(),
            ontology: ontology.clone(),
            stage: plan.stage.clone(),
            context: plan.context.clone(),
            stage_ident: plan.spec.stage.clone(),
            twin_projects: self.twin_projects.get().cloned().unwrap_or_default(),
            retry: RetryPolicy {
                max_retries: self.options.num_retries,
                base: self.options.retry_delay,
                ..RetryPolicy::AGENT_ATTEMPTS
            },
            stop: self.stop.clone(),
            progress: self.progress.clone(),
        });
        let workers = self.options.concurrency.min(todo.len());
        let queue = Arc::new(std::sync::Mutex::new(VecDeque::from(todo)));
        // Media pins live until every task of the batch has run.
        let _pins = _pins;
        let workers = (0..workers).map(|_| {
            let (queue, job) = (queue.clone(), job.clone());
            tokio::spawn(async move {
                let mut done = Vec::new();
                let mut yielded = Instant::now();
                loop {
                    let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
                    let Some(queued) = next else {
                        break done;
                    };
                    let uuid = queued.task.uuid.clone();
                    // A panic is a host bug: it loses that task's result
                    // (logged; nothing written for it), not the worker's.
                    match std::panic::AssertUnwindSafe(job.run(queued))
                        .catch_unwind()
                        .await
                    {
                        Ok(finished) => done.push(finished),
                        Err(_) => tracing::error!(task = %uuid, "running the task panicked"),
                    }
                    // Let this thread's other tasks in, at most every
                    // millisecond: a guest yields only at an epoch tick
                    // (10 ms), and the stage's task listing (a chain of round
                    // trips) would wait that long for its next page.
                    if yielded.elapsed() >= YIELD_EVERY {
                        tokio::task::yield_now().await;
                        yielded = Instant::now();
                    }
                }
            })
        });
        let mut results: Vec<(TaskReport, Option<Decision>)> = Vec::new();
        let mut failure_prints = HashMap::new();
        for joined in futures::future::join_all(workers).await {
            match joined {
                Ok(finished) => {
                    for (report, decision, print) in finished {
                        if let Some(print) = print {
                            failure_prints.insert(report.task.uuid.clone(), print);
                        }
                        results.push((report, decision));
                    }
                }
                Err(e) => tracing::error!("a task worker died: {e}"),
            }
        }
        Ran {
            results,
            skipped,
            had_record,
            failure_prints,
        }
    }

    /// Saves and moves what a batch's tasks decided, and remembers (or
    /// forgets) their failures.
    async fn write_ran(&self, project: &Project, plan: &StagePlan, ran: Ran) -> Vec<TaskReport> {
        let Ran {
            results,
            skipped,
            had_record,
            failure_prints,
        } = ran;
        let mut reports = self.write_batch(&project.project_hash, plan, results).await;
        if let (Some(f), false) = (self.failures.get(), self.options.dry_run) {
            for r in &reports {
                match &r.result {
                    // Only the agent's own failures are remembered, not failed writes.
                    TaskResult::Failed(e) if failure_prints.contains_key(&r.task.uuid) => f.record(
                        &project.project_hash,
                        &plan.stage.uuid,
                        &r.task.uuid,
                        &failure_prints[&r.task.uuid],
                        r.attempts,
                        e,
                    ),
                    // Only tasks that had a record need a write (no write per task).
                    TaskResult::Moved(_) | TaskResult::Stayed | TaskResult::AlreadyAdvanced(_)
                        if had_record.contains(&r.task.uuid) =>
                    {
                        f.clear(&project.project_hash, &plan.stage.uuid, &r.task.uuid)
                    }
                    _ => {}
                }
            }
        }
        reports.extend(skipped);
        reports
    }

    /// Saves labels and priorities, then moves the tasks whose writes
    /// succeeded. A task whose labels could not be saved is not moved.
    async fn write_batch(
        &self,
        project_hash: &str,
        plan: &StagePlan,
        results: Vec<(TaskReport, Option<Decision>)>,
    ) -> Vec<TaskReport> {
        let mut reports: Vec<TaskReport> = Vec::with_capacity(results.len());
        let mut decisions: Vec<Option<Decision>> = Vec::with_capacity(results.len());
        for (r, d) in results {
            reports.push(r);
            decisions.push(d);
        }

        if self.options.dry_run {
            // Record what would have been written; write nothing.
            for (r, d) in reports.iter_mut().zip(&decisions) {
                let Some(d) = d else { continue };
                r.dry_run = true;
                r.labels_saved = d.save.is_some();
                r.metadata_saved = d.metadata.is_some();
                r.twin_labels_saved = d.twin_saves.iter().map(|(p, _)| p.clone()).collect();
                r.twin_tasks_moved = d
                    .twin_moves
                    .iter()
                    .map(|m| m.project_hash.clone())
                    .collect();
                r.priority = d.priority;
                if let Some((_, name)) = &d.pathway {
                    r.result = TaskResult::Moved(name.clone());
                }
            }
            return reports;
        }

        let fail = |reports: &mut Vec<TaskReport>,
                    decisions: &mut Vec<Option<Decision>>,
                    i: usize,
                    why: String| {
            tracing::warn!(task = %reports[i].task.uuid, stage = %plan.stage.title, "task failed: {why}");
            reports[i].result = TaskResult::Failed(why);
            decisions[i] = None;
        };

        let row = |r: &TaskReport, json: &str| LabelSave {
            data_hash: r.task.data_hash.clone(),
            json: json.to_string(),
        };
        let own: Vec<(usize, LabelSave)> = (0..reports.len())
            .filter_map(|i| Some((i, row(&reports[i], decisions[i].as_ref()?.save.as_deref()?))))
            .collect();
        for (i, saved) in self.save_rows(project_hash, own).await {
            match saved {
                Ok(()) => reports[i].labels_saved = true,
                Err(e) => fail(
                    &mut reports,
                    &mut decisions,
                    i,
                    format!("saving labels failed: {e}"),
                ),
            }
        }

        // Twin saves, per twin project, also before any move: a task whose
        // twin could not be saved fails and does not move.
        let twins: std::collections::BTreeSet<String> = decisions
            .iter()
            .flatten()
            .flat_map(|d| d.twin_saves.iter().map(|(p, _)| p.clone()))
            .collect();
        for twin in twins {
            // Tasks still standing: one whose save failed is left out.
            let rows: Vec<(usize, LabelSave)> = (0..reports.len())
                .filter_map(|i| {
                    let d = decisions[i].as_ref()?;
                    let (_, json) = d.twin_saves.iter().find(|(p, _)| *p == twin)?;
                    Some((i, row(&reports[i], json)))
                })
                .collect();
            for (i, saved) in self.save_rows(&twin, rows).await {
                match saved {
                    Ok(()) => reports[i].twin_labels_saved.push(twin.clone()),
                    Err(e) => fail(
                        &mut reports,
                        &mut decisions,
                        i,
                        format!("saving its label row in twin project `{twin}` failed: {e}"),
                    ),
                }
            }
        }

        // Twin task moves, after every label save and before this project's
        // moves: a task whose twin task could not move fails and stays.
        let mut twin_moves: std::collections::BTreeMap<(String, String), Vec<(usize, MoveAction)>> =
            Default::default();
        for (i, d) in decisions.iter().enumerate() {
            for m in d.iter().flat_map(|d| &d.twin_moves) {
                twin_moves
                    .entry((m.project_hash.clone(), m.stage_uuid.clone()))
                    .or_default()
                    .push((
                        i,
                        MoveAction {
                            task_uuid: m.task_uuid.clone(),
                            pathway_uuid: m.pathway_uuid.clone(),
                        },
                    ));
            }
        }
        for ((twin, stage), actions) in twin_moves {
            for chunk in actions.chunks(MOVE_BUNDLE) {
                let standing: Vec<&(usize, MoveAction)> = chunk
                    .iter()
                    .filter(|(i, _)| decisions[*i].is_some())
                    .collect();
                let bundle: Vec<MoveAction> = standing.iter().map(|(_, a)| a.clone()).collect();
                if bundle.is_empty() {
                    continue;
                }
                let bundled = self.platform.move_tasks(&twin, &stage, &bundle).await;
                for (i, action) in standing {
                    let moved = match &bundled {
                        Ok(()) => Ok(()),
                        Err(_) => {
                            self.platform
                                .move_tasks(&twin, &stage, std::slice::from_ref(action))
                                .await
                        }
                    };
                    match moved {
                        Ok(()) => reports[*i].twin_tasks_moved.push(twin.clone()),
                        Err(e) => fail(
                            &mut reports,
                            &mut decisions,
                            *i,
                            format!("moving its task in twin project `{twin}` failed: {e}"),
                        ),
                    }
                }
            }
        }

        let metas: Vec<usize> = (0..reports.len())
            .filter(|&i| decisions[i].as_ref().is_some_and(|d| d.metadata.is_some()))
            .collect();
        let bundles: Vec<Vec<(String, String)>> = metas
            .chunks(SAVE_BUNDLE)
            .map(|chunk| {
                chunk
                    .iter()
                    .filter_map(|&i| decisions[i].as_ref()?.metadata.clone())
                    .collect()
            })
            .collect();
        let sent = in_flight(bundles.iter().map(|b| self.platform.set_client_metadata(b))).await;
        for (chunk, result) in metas.chunks(SAVE_BUNDLE).zip(sent) {
            if let Err(e) = result {
                for &i in chunk {
                    fail(
                        &mut reports,
                        &mut decisions,
                        i,
                        format!("updating client metadata failed: {e}"),
                    );
                }
            } else {
                for &i in chunk {
                    reports[i].metadata_saved = true;
                }
            }
        }

        let prios: Vec<usize> = (0..reports.len())
            .filter(|&i| decisions[i].as_ref().is_some_and(|d| d.priority.is_some()))
            .collect();
        let bundles: Vec<Vec<(String, f32)>> = prios
            .chunks(SAVE_BUNDLE)
            .map(|chunk| {
                chunk
                    .iter()
                    .filter_map(|&i| {
                        Some((
                            reports[i].task.data_hash.clone(),
                            decisions[i].as_ref()?.priority?,
                        ))
                    })
                    .collect()
            })
            .collect();
        let sent = in_flight(
            bundles
                .iter()
                .map(|b| self.platform.set_priorities(project_hash, b)),
        )
        .await;
        for (chunk, result) in prios.chunks(SAVE_BUNDLE).zip(sent) {
            if let Err(e) = result {
                for &i in chunk {
                    fail(
                        &mut reports,
                        &mut decisions,
                        i,
                        format!("setting the priority failed: {e}"),
                    );
                }
            } else {
                for &i in chunk {
                    reports[i].priority = decisions[i].as_ref().and_then(|d| d.priority);
                }
            }
        }

        // (index, action, pathway name) of every task to move.
        let moves: Vec<(usize, MoveAction, String)> = (0..reports.len())
            .filter_map(|i| {
                let (uuid, name) = decisions[i].as_ref()?.pathway.clone()?;
                let action = MoveAction {
                    task_uuid: reports[i].task.uuid.clone(),
                    pathway_uuid: uuid,
                };
                Some((i, action, name))
            })
            .collect();
        crash_point("before-moves");
        for chunk in moves.chunks(MOVE_BUNDLE) {
            let bundle: Vec<MoveAction> = chunk.iter().map(|(_, a, _)| a.clone()).collect();
            match self
                .platform
                .move_tasks(project_hash, &plan.stage.uuid, &bundle)
                .await
            {
                Ok(()) => {
                    crash_point("after-first-move");
                    for (i, _, name) in chunk {
                        reports[*i].result = TaskResult::Moved(name.clone());
                    }
                    continue;
                }
                Err(e) => {
                    tracing::warn!(stage = %plan.stage.title, "bundled move rejected ({e}); moving tasks one by one")
                }
            }
            for (i, action, name) in chunk {
                let i = *i;
                let moved = self
                    .platform
                    .move_tasks(project_hash, &plan.stage.uuid, std::slice::from_ref(action))
                    .await;
                match self
                    .settle_move(project_hash, plan, &reports[i].task, moved)
                    .await
                {
                    Ok(MoveEnd::Moved) => reports[i].result = TaskResult::Moved(name.clone()),
                    Ok(MoveEnd::AlreadyAdvanced) => {
                        reports[i].result = TaskResult::AlreadyAdvanced(name.clone())
                    }
                    Err(why) => fail(&mut reports, &mut decisions, i, why),
                }
            }
        }
        reports
    }

    /// Saves label rows to `project`, ≤ [`SAVE_BUNDLE`] a request, up to
    /// [`WRITES_IN_FLIGHT`] requests at once; each task index with its
    /// request's result.
    async fn save_rows(
        &self,
        project: &str,
        rows: Vec<(usize, LabelSave)>,
    ) -> Vec<(usize, Result<(), String>)> {
        let (tasks, saves): (Vec<usize>, Vec<LabelSave>) = rows.into_iter().unzip();
        let sent = in_flight(
            saves
                .chunks(SAVE_BUNDLE)
                .map(|b| self.platform.save_labels(project, b)),
        )
        .await;
        tasks
            .chunks(SAVE_BUNDLE)
            .zip(sent)
            .flat_map(|(chunk, result)| {
                let result = result.map_err(|e| e.to_string());
                chunk.iter().map(move |&i| (i, result.clone()))
            })
            .collect()
    }

    /// What one task's own move came to. Only a task that really left the
    /// stage is "already advanced": the platform says so (`NotInStage`), or
    /// it refused the move without saying why (Encord's bare 400) and the
    /// task is no longer listed in the stage. Any other refusal fails the
    /// task with the platform's words, and it stays where it is.
    async fn settle_move(
        &self,
        project_hash: &str,
        plan: &StagePlan,
        task: &Task,
        moved: Result<(), PlatformError>,
    ) -> Result<MoveEnd, String> {
        let stage = &plan.stage.title;
        let why = match moved {
            Ok(()) => return Ok(MoveEnd::Moved),
            Err(PlatformError::NotInStage { .. }) => {
                tracing::info!(task = %task.uuid, %stage, "the task had already left the stage; leaving it where it is");
                return Ok(MoveEnd::AlreadyAdvanced);
            }
            Err(PlatformError::Rejected(why)) => why,
            Err(e) => return Err(format!("moving the task failed: {e}")),
        };
        match self
            .platform
            .task_in_stage(project_hash, &plan.stage.uuid, task)
            .await
        {
            Ok(false) => {
                tracing::info!(task = %task.uuid, %stage, "the move was refused ({why}) and the task is no longer in the stage: it had already left");
                Ok(MoveEnd::AlreadyAdvanced)
            }
            Ok(true) => Err(format!(
                "the move was refused: {why} (the task is still in `{stage}`)"
            )),
            Err(e) => Err(format!(
                "the move was refused: {why} (and whether the task is still in `{stage}` could not be checked: {e})"
            )),
        }
    }
}

/// The crash tests' hook: with `RUNNER_HOST_TEST_CRASH_AT=NAME` set, the
/// process kills itself with SIGKILL (no destructor, no flush: a `kill -9`)
/// the first time it reaches point NAME: `before-moves` (a batch's saves and
/// priorities written, none of its moves sent) or `after-first-move` (the
/// first bundled move accepted). Unset, it is one look at a cached value per
/// batch.
fn crash_point(name: &str) {
    static AT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let at = AT.get_or_init(|| std::env::var("RUNNER_HOST_TEST_CRASH_AT").ok());
    if at.as_deref() == Some(name) {
        eprintln!("runner-host: killing itself at `{name}` (RUNNER_HOST_TEST_CRASH_AT)");
        #[cfg(target_os = "linux")]
        // SAFETY: kill(2) on our own pid with a signal number; no memory is involved.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
        std::process::abort();
    }
}

/// How a task's move ended, when it did not fail.
enum MoveEnd {
    Moved,
    AlreadyAdvanced,
}

/// A batch whose tasks have run: what each decided, not yet written.
#[derive(Default)]
struct Ran {
    results: Vec<(TaskReport, Option<Decision>)>,
    /// Tasks not run: they failed before on the same data.
    skipped: Vec<TaskReport>,
    /// Tasks that had a failure record (cleared once they succeed).
    had_record: std::collections::HashSet<String>,
    /// Tasks whose agent failed, with the fingerprint of the data it failed
    /// on (recorded; failed writes and failed loads are not).
    failure_prints: HashMap<String, String>,
}

/// A batch once past the run step: run, or abandoned by a stop.
enum Done {
    Ran(Ran),
    Abandoned(Vec<TaskReport>),
}

/// A batch with what its stage declared loaded.
struct LoadedBatch {
    tasks: Vec<Task>,
    rows: Vec<Option<Arc<str>>>,
    /// Each task's storage item and media, or why it could not be had.
    data: Vec<Result<Option<Arc<TaskData>>, String>>,
    /// Each task's twins, by project hash.
    twins: Vec<Arc<HashMap<String, Option<TwinRecord>>>>,
    load_error: Option<String>,
    /// Keeps downloaded media from eviction until the batch has run.
    _pins: Vec<assets::Pin>,
}

impl TaskReport {
    fn new(task: Task, plan: &StagePlan, result: TaskResult) -> TaskReport {
        TaskReport {
            task,
            stage: plan.stage.title.clone(),
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
        .map(|t| TaskReport::new(t, plan, TaskResult::Abandoned))
        .collect()
}

/// One task of a batch and what was loaded for it, waiting for a worker.
struct Queued {
    task: Task,
    row: Option<Arc<str>>,
    data: Result<Option<Arc<TaskData>>, String>,
    twins: Arc<HashMap<String, Option<TwinRecord>>>,
}

/// What every task of a batch runs with, shared by the batch's workers.
struct TaskJob {
    assets: Option<Arc<AssetCache>>,
    agent: Arc<LoadedAgent>,
    pcx: Arc<ProjectContext>,
    ontology: Arc<Ontology>,
    stage: WorkflowStage,
    context: Arc<StageContext>,
    stage_ident: String,
    twin_projects: Arc<HashMap<String, Arc<TwinProject>>>,
    /// How a failed agent attempt is retried.
    retry: RetryPolicy,
    stop: StopHandle,
    progress: Arc<dyn Progress>,
}

impl TaskJob {
    /// Runs one task (see [`TaskJob::attempt`]); where it failed, also the
    /// fingerprint of the status and row it failed on, for its record.
    async fn run(&self, queued: Queued) -> (TaskReport, Option<Decision>, Option<String>) {
        let failed_on = queued.row.clone();
        let (report, decision) = self.attempt(queued).await;
        let print =
            (decision.is_none() && matches!(report.result, TaskResult::Failed(_))).then(|| {
                failures::fingerprint(
                    self.agent.digest(),
                    &report.task.status,
                    failed_on.as_deref(),
                )
            });
        (report, decision, print)
    }

    /// Runs one task with retries, each attempt in a fresh instance, and
    /// checks what it returned. Returns the report and, on success, the
    /// decision. A task not yet started when the run is stopped is abandoned.
    async fn attempt(
        &self,
        Queued {
            task,
            row,
            data,
            twins,
        }: Queued,
    ) -> (TaskReport, Option<Decision>) {
        let started = Instant::now();
        let started_at = chrono::Utc::now();
        let report = |result, attempts, usage| TaskReport {
            task: task.clone(),
            stage: self.stage.title.clone(),
            result,
            attempts,
            started_at,
            duration: started.elapsed(),
            usage,
            labels_saved: false,
            priority: None,
            metadata_saved: false,
            twin_labels_saved: Vec::new(),
            twin_tasks_moved: Vec::new(),
            dry_run: false,
        };
        if self.stop.is_stopped() {
            return (report(TaskResult::Abandoned, 0, None), None);
        }
        let data = match data {
            Ok(d) => d,
            Err(why) => {
                tracing::warn!(task = %task.uuid, stage = %self.stage.title, "task failed: {why}");
                return (report(TaskResult::Failed(why), 0, None), None);
            }
        };
        // The asset as a file: a directory of its own, for this task only.
        let mut asset_dir = None;
        let mut _task_dir = None;
        if let (Some(d), Some(cache)) = (&data, &self.assets) {
            if let (true, Some(file)) = (d.asset, &d.file) {
                let name = format!(
                    "{}.{}",
                    d.item.uuid,
                    crate::media::extension(d.item.mime_type.as_deref(), &d.item.name)
                );
                match cache.task_dir(file, &name) {
                    Ok(dir) => {
                        asset_dir = Some((dir.dir.clone(), name));
                        _task_dir = Some(dir);
                    }
                    Err(why) => return (report(TaskResult::Failed(why), 0, None), None),
                }
            }
        }
        let mut effects = Effects::default();
        let mut usage;
        let mut attempts = 0;
        let outcome = loop {
            attempts += 1;
            let mut cx =
                CallContext::new(self.pcx.clone(), Some(self.context.clone()), row.clone());
            cx.task_uuid = Some(task.uuid.clone());
            cx.data_hash = Some(task.data_hash.clone());
            cx.task = Some(Arc::new(task.clone()));
            cx.data = data.clone();
            cx.asset_dir = asset_dir.clone();
            cx.twins = twins.clone();
            cx.twin_projects = self.twin_projects.clone();
            let attempt_effects = cx.effects.clone();
            let wit_task = WitTask {
                uuid: task.uuid.clone(),
                data_hash: task.data_hash.clone(),
                data_title: task.data_title.clone(),
                label_branch_name: task.label_branch_name.clone(),
                status: task.status.clone(),
            };
            let ran = self.agent.run(cx, self.stage_ident.clone(), wit_task).await;
            let after = std::mem::take(&mut *attempt_effects.lock().expect("effects lock"));
            usage = Some(after.usage);
            match ran {
                Ok(o) => {
                    effects = after;
                    break Ok(o);
                }
                Err(e) if self.retry.allows_retry(attempts) && !self.stop.is_stopped() => {
                    tracing::warn!(task = %task.uuid, stage = %self.stage.title, "[attempt {attempts}/{}] agent failed: {e}", self.retry.max_retries + 1);
                    tokio::select! {
                        _ = tokio::time::sleep(self.retry.backoff(attempts)) => {}
                        _ = self.stop.stopped() => {}
                    }
                }
                Err(e) => break Err(e.to_string()),
            }
        };
        self.progress.task_finished(&self.stage.title);
        let item = data.as_ref().map(|d| d.item.uuid.clone());
        let checked = outcome.and_then(|o| check_outcome(&self.stage, &self.ontology, &task, o));
        match checked {
            Ok(mut d) => {
                d.metadata = item.zip(effects.client_metadata);
                d.twin_saves = effects.twin_saves;
                d.twin_moves = effects.twin_moves;
                (report(TaskResult::Stayed, attempts, usage), Some(d))
            }
            Err(why) => {
                tracing::warn!(task = %task.uuid, stage = %self.stage.title, "task failed: {why}");
                (report(TaskResult::Failed(why), attempts, usage), None)
            }
        }
    }
}

/// Checks an outcome before anything is written: the pathway exists, the
/// priority is in [0, 1], the label row is this task's and matches the
/// ontology.
fn check_outcome(
    stage: &WorkflowStage,
    ontology: &Arc<Ontology>,
    task: &Task,
    o: crate::engine::Outcome,
) -> Result<Decision, String> {
    let pathway = match &o.route {
        Route::Stay => None,
        Route::Pathway(p) => {
            let p = validate::resolve_pathway(stage, p)?;
            Some((p.uuid.clone(), p.title.clone()))
        }
    };
    if let Some(p) = o.priority {
        outcome::check_priority(p)?;
    }
    if let Some(json) = &o.label_row {
        outcome::check_label_row(json, ontology.clone(), &task.data_hash, RowSave::Returned)?;
    }
    Ok(Decision {
        pathway,
        save: o.label_row,
        priority: o.priority,
        metadata: None,
        twin_saves: Vec::new(),
        twin_moves: Vec::new(),
    })
}

/// Runs `requests` with up to [`WRITES_IN_FLIGHT`] at once; their results
/// in the order given.
async fn in_flight<F: std::future::Future>(requests: impl Iterator<Item = F>) -> Vec<F::Output> {
    futures::stream::iter(requests)
        .buffered(WRITES_IN_FLIGHT)
        .collect()
        .await
}
