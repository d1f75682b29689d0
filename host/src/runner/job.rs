//! Jobs: a batch's tasks run `--concurrency` at a time, each attempt in a
//! fresh instance, retried by the agent-attempt retry policy.

use super::*;

impl Runner {
    /// Runs one loaded batch's tasks; [`Runner::write_ran`] then saves and
    /// moves them.
    pub(super) async fn run_batch(
        &self,
        run: &RunState,
        plan: &StagePlan,
        batch: LoadedBatch,
    ) -> Ran {
        if let Some(reason) = batch.load_error {
            return Ran {
                results: batch
                    .tasks
                    .into_iter()
                    .map(|task| {
                        let report = TaskReport::new(
                            task,
                            &plan.stage.title,
                            TaskResult::Failed(reason.clone()),
                        );
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
            let record = run
                .failures
                .as_ref()
                .and_then(|f| f.recorded(&run.project.project_hash, &plan.stage.uuid, &task.uuid));
            if let Some((print, error)) = record {
                let same_data = print
                    == failures::fingerprint(self.agent.digest(), &task.status, row.as_deref());
                if same_data && !self.options.retry_failed {
                    skipped.push(TaskReport::new(
                        task,
                        &plan.stage.title,
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
            assets: run.assets.clone(),
            agent: self.agent.clone(),
            pcx: run.pcx.clone(),
            ontology: run.ontology.clone(),
            stage: plan.stage.clone(),
            context: plan.context.clone(),
            stage_ident: plan.spec.stage.clone(),
            twin_projects: run.twin_projects.clone(),
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
}

/// A batch whose tasks have run: what each decided, not yet written.
#[derive(Default)]
pub(super) struct Ran {
    pub(super) results: Vec<(TaskReport, Option<Decision>)>,
    /// Tasks not run: they failed before on the same data.
    pub(super) skipped: Vec<TaskReport>,
    /// Tasks that had a failure record (cleared once they succeed).
    pub(super) had_record: std::collections::HashSet<String>,
    /// Tasks whose agent failed, with the fingerprint of the data it failed
    /// on (recorded; failed writes and failed loads are not).
    pub(super) failure_prints: HashMap<String, String>,
}

/// A batch once past the run step: run, or abandoned by a stop.
pub(super) enum Done {
    Ran(Ran),
    Abandoned(Vec<TaskReport>),
}

/// One task of a batch and what was loaded for it, waiting for a worker.
pub(super) struct Queued {
    pub(super) task: Task,
    pub(super) row: Option<Arc<str>>,
    pub(super) data: Result<Option<Arc<TaskData>>, String>,
    pub(super) twins: Arc<HashMap<String, Option<TwinRecord>>>,
}

/// What every task of a batch runs with, shared by the batch's workers.
pub(super) struct TaskJob {
    pub(super) assets: Option<Arc<AssetCache>>,
    pub(super) agent: Arc<LoadedAgent>,
    pub(super) pcx: Arc<ProjectContext>,
    pub(super) ontology: Arc<Ontology>,
    pub(super) stage: WorkflowStage,
    pub(super) context: Arc<StageContext>,
    pub(super) stage_ident: String,
    pub(super) twin_projects: Arc<HashMap<String, Arc<TwinProject>>>,
    /// How a failed agent attempt is retried.
    pub(super) retry: RetryPolicy,
    pub(super) stop: StopHandle,
    pub(super) progress: Arc<dyn Progress>,
}

impl TaskJob {
    /// Runs one task (see [`TaskJob::attempt`]); where it failed, also the
    /// fingerprint of the status and row it failed on, for its record.
    pub(super) async fn run(
        &self,
        queued: Queued,
    ) -> (TaskReport, Option<Decision>, Option<String>) {
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
    pub(super) async fn attempt(
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
            attempts,
            started_at,
            duration: started.elapsed(),
            usage,
            ..TaskReport::new(task.clone(), &self.stage.title, result)
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
                        asset_dir = Some(AssetDir {
                            dir: dir.dir.clone(),
                            file_name: name,
                        });
                        _task_dir = Some(dir);
                    }
                    Err(why) => return (report(TaskResult::Failed(why), 0, None), None),
                }
            }
        }
        let cx = CallContext {
            stage: Some(self.context.clone()),
            label_row: row,
            task: Some(Arc::new(task.clone())),
            data: data.clone(),
            asset_dir,
            twins,
            twin_projects: self.twin_projects.clone(),
            ..CallContext::new(self.pcx.clone())
        };
        let mut attempts = 0;
        let (outcome, effects) = loop {
            attempts += 1;
            let call = self.agent.run(cx.clone(), &self.stage_ident).await;
            match call.outcome {
                Ok(o) => break (Ok(o), call.effects),
                Err(e) if self.retry.allows_retry(attempts) && !self.stop.is_stopped() => {
                    let wait = self.retry.backoff(attempts);
                    tracing::warn!(task = %task.uuid, stage = %self.stage.title, "[attempt {attempts}/{}] agent failed: {e}; retrying in {} ms", self.retry.max_retries + 1, wait.as_millis());
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = self.stop.stopped() => {}
                    }
                }
                Err(e) => break (Err(e.to_string()), call.effects),
            }
        };
        let usage = Some(effects.usage);
        self.progress.task_finished(&self.stage.title);
        let item = data.as_ref().map(|d| d.item.uuid.clone());
        let checked = outcome.and_then(|o| check_outcome(&self.stage, &self.ontology, &task, o));
        match checked {
            Ok(mut d) => {
                d.metadata = item
                    .zip(effects.client_metadata)
                    .map(|(item_uuid, json)| MetadataSave { item_uuid, json });
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
