//! The runner: validates the agent against the project, then drains each
//! stage in manifest order, batch by batch: bulk-load what the stage
//! declared, run every task in a fresh instance (concurrently), check what
//! each returned, save labels and priorities, and only then move tasks.

mod summary;
pub mod validate;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use encord_labels::{LabelRow, Ontology};
use futures::StreamExt;

use crate::engine::{
    CallContext, CallError, LoadedAgent, Need, ProjectContext, Route, StageContext, StageSpec,
    WitTask,
};
use crate::platform::{
    LabelSave, MoveAction, Platform, PlatformError, Project, Task, WorkflowStage,
};

pub use summary::{StageSummary, Summary};

/// Most label rows saved, or priorities set, per request.
pub const SAVE_BUNDLE: usize = 100;
/// Most pathway actions per request.
pub const MOVE_BUNDLE: usize = 1000;

/// The runner's options, named as encord-agents names them.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub project_hash: String,
    /// Re-poll every N seconds, measured from pass start; `None` or 0: one pass.
    pub refresh_every: Option<u64>,
    pub num_retries: u32,
    pub task_batch_size: usize,
    pub max_tasks_per_stage: Option<usize>,
    /// Tasks in flight at once.
    pub concurrency: usize,
    /// Only these stages (title or uuid), if any.
    pub stages: Vec<String>,
}

impl RunOptions {
    pub fn new(project_hash: impl Into<String>) -> RunOptions {
        RunOptions {
            project_hash: project_hash.into(),
            refresh_every: None,
            num_retries: 3,
            task_batch_size: 300,
            max_tasks_per_stage: None,
            concurrency: std::thread::available_parallelism().map_or(2, |n| n.get()),
            stages: vec![],
        }
    }
}

/// Why a run could not start or go on. Each is one line naming the fix.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Option(String),
    #[error("{0}")]
    Platform(#[from] PlatformError),
    #[error("{0}")]
    Manifest(String),
    #[error("the agent's start hook failed: {0}")]
    Start(CallError),
}

/// One stage to drain: the manifest entry and the workflow stage it names.
struct StagePlan {
    spec: StageSpec,
    stage: WorkflowStage,
    context: Arc<StageContext>,
    labels: bool,
    metadata: bool,
}

/// What happened to one task.
#[derive(Debug, Clone)]
pub struct TaskReport {
    pub task: Task,
    pub stage: String,
    pub result: TaskResult,
    pub attempts: u32,
    pub duration: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TaskResult {
    /// Moved along this pathway (its name).
    Moved(String),
    /// The move was refused because the task had already left the stage.
    AlreadyAdvanced(String),
    Stayed,
    Failed(String),
}

/// The handler's decision, checked, before anything is written.
struct Decision {
    pathway: Option<(String, String)>,
    save: Option<String>,
    priority: Option<f32>,
}

pub struct Runner {
    platform: Arc<dyn Platform>,
    agent: Arc<LoadedAgent>,
    options: RunOptions,
}

impl Runner {
    pub fn new(platform: Arc<dyn Platform>, agent: LoadedAgent, options: RunOptions) -> Runner {
        Runner {
            platform,
            agent: Arc::new(agent),
            options,
        }
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
        self.agent
            .start(pcx.clone())
            .await
            .map_err(RunError::Start)?;

        let mut summary = Summary::default();
        loop {
            let pass_start = Instant::now();
            for plan in &plans {
                let s = self.drain_stage(&project, &pcx, &ontology, plan).await;
                summary.add(s);
            }
            let Some(every) = self.options.refresh_every.filter(|s| *s > 0) else {
                break;
            };
            let next = pass_start + Duration::from_secs(every);
            let now = Instant::now();
            if next > now {
                tracing::info!(
                    "sleeping {:.0} s until the next pass",
                    (next - now).as_secs_f64()
                );
                tokio::time::sleep(next - now).await;
            }
        }
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
            if let Some(need) = validate::unsupported_need(&spec) {
                return Err(RunError::Manifest(format!(
                    "stage `{}` (handler `{}`) needs `{need}`, which this runner-host does not serve yet",
                    stage.title, spec.handler
                )));
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
            plans.push(StagePlan {
                labels: spec.needs.contains(&Need::LabelRow),
                metadata: spec.needs.contains(&Need::LabelRowMetadata),
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

    /// One pass over one stage.
    async fn drain_stage(
        &self,
        project: &Project,
        pcx: &Arc<ProjectContext>,
        ontology: &Arc<Ontology>,
        plan: &StagePlan,
    ) -> StageSummary {
        let started = Instant::now();
        let mut summary = StageSummary::new(&plan.stage.title);
        let mut buffer: VecDeque<Task> = VecDeque::new();
        let mut token: Option<String> = None;
        let mut exhausted = false;
        let mut taken = 0usize;
        loop {
            let want = match self.options.max_tasks_per_stage {
                Some(max) => self.options.task_batch_size.min(max - taken),
                None => self.options.task_batch_size,
            };
            if want == 0 {
                break;
            }
            while buffer.len() < want && !exhausted {
                match self
                    .platform
                    .list_tasks(&project.project_hash, &plan.stage.uuid, token.as_deref())
                    .await
                {
                    Ok(page) => {
                        buffer.extend(page.tasks);
                        token = page.next_page_token;
                        exhausted = token.is_none();
                    }
                    Err(e) => {
                        tracing::error!(stage = %plan.stage.title, "listing tasks failed: {e}");
                        summary.errors.push(format!("listing tasks failed: {e}"));
                        exhausted = true;
                    }
                }
            }
            if buffer.is_empty() {
                break;
            }
            let batch: Vec<Task> = buffer.drain(..want.min(buffer.len())).collect();
            taken += batch.len();
            let reports = self.run_batch(project, pcx, ontology, plan, batch).await;
            for r in reports {
                summary.record(&r);
            }
        }
        summary.duration = started.elapsed();
        summary
    }

    /// Loads, runs, saves and moves one batch.
    async fn run_batch(
        &self,
        project: &Project,
        pcx: &Arc<ProjectContext>,
        ontology: &Arc<Ontology>,
        plan: &StagePlan,
        batch: Vec<Task>,
    ) -> Vec<TaskReport> {
        let project_hash = project.project_hash.as_str();
        // Bulk-load what the stage declared: one call for the whole batch.
        let mut rows: Vec<Option<Arc<str>>> = vec![None; batch.len()];
        if plan.labels || plan.metadata {
            let hashes: Vec<String> = batch.iter().map(|t| t.data_hash.clone()).collect();
            match self
                .platform
                .label_rows(project_hash, &hashes, plan.labels)
                .await
            {
                Ok(records) => {
                    for (slot, r) in rows.iter_mut().zip(records) {
                        *slot = r.json.map(Arc::from);
                    }
                }
                Err(e) => {
                    let reason = format!("loading label rows failed: {e}");
                    return batch
                        .into_iter()
                        .map(|task| TaskReport {
                            task,
                            stage: plan.stage.title.clone(),
                            result: TaskResult::Failed(reason.clone()),
                            attempts: 0,
                            duration: Duration::ZERO,
                        })
                        .collect();
                }
            }
        }

        // Run every task, each in fresh instances, `concurrency` at a time.
        let jobs = batch.into_iter().zip(rows).map(|(task, row)| {
            let agent = self.agent.clone();
            let pcx = pcx.clone();
            let ontology = ontology.clone();
            let stage = plan.stage.clone();
            let context = plan.context.clone();
            let stage_ident = plan.spec.stage.clone();
            let retries = self.options.num_retries;
            tokio::spawn(async move {
                run_task(
                    agent,
                    pcx,
                    ontology,
                    stage,
                    context,
                    stage_ident,
                    task,
                    row,
                    retries,
                )
                .await
            })
        });
        let results: Vec<(TaskReport, Option<Decision>)> = futures::stream::iter(jobs)
            .buffer_unordered(self.options.concurrency)
            .filter_map(|joined| async move {
                match joined {
                    Ok(r) => Some(r),
                    Err(e) => {
                        tracing::error!("a task's worker died: {e}");
                        None
                    }
                }
            })
            .collect()
            .await;
        self.write_batch(project_hash, plan, results).await
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

        let fail = |reports: &mut Vec<TaskReport>,
                    decisions: &mut Vec<Option<Decision>>,
                    i: usize,
                    why: String| {
            tracing::warn!(task = %reports[i].task.uuid, stage = %plan.stage.title, "task failed: {why}");
            reports[i].result = TaskResult::Failed(why);
            decisions[i] = None;
        };

        let saves: Vec<usize> = (0..reports.len())
            .filter(|&i| decisions[i].as_ref().is_some_and(|d| d.save.is_some()))
            .collect();
        for chunk in saves.chunks(SAVE_BUNDLE) {
            let bundle: Vec<LabelSave> = chunk
                .iter()
                .map(|&i| LabelSave {
                    data_hash: reports[i].task.data_hash.clone(),
                    json: decisions[i]
                        .as_ref()
                        .and_then(|d| d.save.clone())
                        .unwrap_or_default(),
                })
                .collect();
            if let Err(e) = self.platform.save_labels(project_hash, &bundle).await {
                for &i in chunk {
                    fail(
                        &mut reports,
                        &mut decisions,
                        i,
                        format!("saving labels failed: {e}"),
                    );
                }
            }
        }

        let prios: Vec<usize> = (0..reports.len())
            .filter(|&i| decisions[i].as_ref().is_some_and(|d| d.priority.is_some()))
            .collect();
        for chunk in prios.chunks(SAVE_BUNDLE) {
            let bundle: Vec<(String, f32)> = chunk
                .iter()
                .filter_map(|&i| {
                    Some((
                        reports[i].task.data_hash.clone(),
                        decisions[i].as_ref()?.priority?,
                    ))
                })
                .collect();
            if let Err(e) = self.platform.set_priorities(project_hash, &bundle).await {
                for &i in chunk {
                    fail(
                        &mut reports,
                        &mut decisions,
                        i,
                        format!("setting the priority failed: {e}"),
                    );
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
        for chunk in moves.chunks(MOVE_BUNDLE) {
            let bundle: Vec<MoveAction> = chunk.iter().map(|(_, a, _)| a.clone()).collect();
            match self
                .platform
                .move_tasks(project_hash, &plan.stage.uuid, &bundle)
                .await
            {
                Ok(()) => {
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
                match self
                    .platform
                    .move_tasks(project_hash, &plan.stage.uuid, std::slice::from_ref(action))
                    .await
                {
                    Ok(()) => reports[i].result = TaskResult::Moved(name.clone()),
                    Err(PlatformError::Rejected(why)) => {
                        tracing::info!(task = %reports[i].task.uuid, "task already left the stage: {why}");
                        reports[i].result = TaskResult::AlreadyAdvanced(name.clone());
                    }
                    Err(e) => fail(
                        &mut reports,
                        &mut decisions,
                        i,
                        format!("moving the task failed: {e}"),
                    ),
                }
            }
        }
        reports
    }
}

/// Runs one task with retries, each attempt in a fresh instance, and checks
/// what it returned. Returns the report and, on success, the decision.
#[allow(clippy::too_many_arguments)]
async fn run_task(
    agent: Arc<LoadedAgent>,
    pcx: Arc<ProjectContext>,
    ontology: Arc<Ontology>,
    stage: WorkflowStage,
    context: Arc<StageContext>,
    stage_ident: String,
    task: Task,
    row: Option<Arc<str>>,
    retries: u32,
) -> (TaskReport, Option<Decision>) {
    let started = Instant::now();
    let mut attempts = 0;
    let outcome = loop {
        attempts += 1;
        let mut cx = CallContext::new(pcx.clone(), Some(context.clone()), row.clone());
        cx.task_uuid = Some(task.uuid.clone());
        let wit_task = WitTask {
            uuid: task.uuid.clone(),
            data_hash: task.data_hash.clone(),
            data_title: task.data_title.clone(),
            label_branch_name: task.label_branch_name.clone(),
            status: task.status.clone(),
        };
        match agent.run(cx, stage_ident.clone(), wit_task).await {
            Ok(o) => break Ok(o),
            Err(e) if attempts <= retries => {
                tracing::warn!(task = %task.uuid, stage = %stage.title, "[attempt {attempts}/{}] agent failed: {e}", retries + 1);
                tokio::time::sleep(backoff(attempts)).await;
            }
            Err(e) => break Err(e.to_string()),
        }
    };
    let checked = outcome.and_then(|o| check_outcome(&stage, &ontology, &task, o));
    let report = |result| TaskReport {
        task: task.clone(),
        stage: stage.title.clone(),
        result,
        attempts,
        duration: started.elapsed(),
    };
    match checked {
        Ok(d) => (report(TaskResult::Stayed), Some(d)),
        Err(why) => {
            tracing::warn!(task = %task.uuid, stage = %stage.title, "task failed: {why}");
            (report(TaskResult::Failed(why)), None)
        }
    }
}

/// Exponential backoff with jitter between attempts: ~100 ms, 200 ms, ...
/// up to 5 s.
fn backoff(attempt: u32) -> Duration {
    let base = 100u64
        .saturating_mul(1 << attempt.min(6).saturating_sub(1))
        .min(5_000);
    let jitter = rand::random_range(0..=base / 2);
    Duration::from_millis(base + jitter)
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
        if !p.is_finite() || !(0.0..=1.0).contains(&p) {
            return Err(format!("priority {p} is outside [0, 1]"));
        }
    }
    if let Some(json) = &o.label_row {
        let row = LabelRow::parse(json, ontology.clone())
            .map_err(|e| format!("the label row returned is invalid: {e}"))?;
        if row.data_hash() != task.data_hash {
            return Err(format!(
                "the label row returned is for data `{}`, not this task's data `{}`",
                row.data_hash(),
                task.data_hash
            ));
        }
        row.validate()
            .map_err(|e| format!("the label row returned was not saved: {e}"))?;
    }
    Ok(Decision {
        pathway,
        save: o.label_row,
        priority: o.priority,
    })
}
