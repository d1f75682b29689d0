//! Tasks handed to the runner from outside (a queue worker): everything a
//! run checks and builds is prepared once, then any batch of a served
//! stage's tasks goes through the same load → run → write pipeline as a
//! listed batch, with one more gate before the writes (`may_write`: a worker
//! that lost its hold on the batch writes nothing).

use super::*;

/// A runner made ready to run handed tasks: the project, the agent's stages
/// matched to its workflow, the twins, the media cache and the report, and
/// the start hook called, as [`Runner::run`] does before its first pass.
pub struct Prepared {
    run: RunState,
    plans: Vec<StagePlan>,
}

impl Prepared {
    /// The stages served, in manifest order, as (uuid, title).
    pub fn stages(&self) -> Vec<(String, String)> {
        self.plans
            .iter()
            .map(|p| (p.stage.uuid.clone(), p.stage.title.clone()))
            .collect()
    }

    pub fn project_hash(&self) -> &str {
        &self.run.project.project_hash
    }

    /// The uuid of the pathway `name` out of a served stage.
    pub fn pathway_uuid(&self, stage_uuid: &str, name: &str) -> Option<String> {
        self.plan(stage_uuid)?
            .stage
            .pathways()
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.uuid.clone())
    }

    fn plan(&self, stage_uuid: &str) -> Option<&StagePlan> {
        self.plans.iter().find(|p| p.stage.uuid == stage_uuid)
    }
}

impl Runner {
    /// Checks and prepares everything a run would before its first task.
    /// Failures are not remembered across runs here (`--state`): a queue
    /// keeps its own dead letters.
    pub async fn prepare_tasks(&self) -> Result<Prepared, RunError> {
        let (mut run, plans) = self.prepare().await?;
        run.failures = None;
        Ok(Prepared { run, plans })
    }

    /// One page of a served stage's tasks, oldest first.
    pub async fn list_page(
        &self,
        prepared: &Prepared,
        stage_uuid: &str,
        page_token: Option<&str>,
    ) -> Result<crate::platform::TaskPage, PlatformError> {
        self.platform
            .list_tasks(prepared.project_hash(), stage_uuid, page_token)
            .await
    }

    /// Those of `tasks` still sitting in `stage_uuid`, as the platform has
    /// them now (a task that left the stage is not run again).
    pub async fn still_in_stage(
        &self,
        prepared: &Prepared,
        stage_uuid: &str,
        tasks: &[Task],
    ) -> Result<Vec<Task>, PlatformError> {
        self.platform
            .tasks_in_stage(prepared.project_hash(), stage_uuid, tasks)
            .await
    }

    /// Runs `tasks` of the served stage `stage_uuid` as one batch: loads what
    /// the stage declared, runs each task, then, if `may_write()` still
    /// holds, saves and moves as a listed batch does (saves before moves);
    /// otherwise every task is reported abandoned and nothing is written.
    /// Each report reaches `--report` and the progress hooks. With `gate`,
    /// the run step holds one of its permits: batches in flight at once
    /// overlap their loads and writes, never their runs (`--concurrency`
    /// stays the bound on instances).
    pub async fn run_tasks(
        &self,
        prepared: &Prepared,
        stage_uuid: &str,
        tasks: Vec<Task>,
        gate: Option<&tokio::sync::Semaphore>,
        may_write: impl Fn() -> bool,
    ) -> Vec<TaskReport> {
        let Some(plan) = prepared.plan(stage_uuid) else {
            return tasks
                .into_iter()
                .map(|t| {
                    TaskReport::new(
                        t,
                        stage_uuid,
                        TaskResult::Failed(format!(
                            "stage `{stage_uuid}` is not one this agent serves"
                        )),
                    )
                })
                .collect();
        };
        let run = &prepared.run;
        self.progress
            .batch_started(&plan.stage.title, 1, tasks.len());
        let batch = self.load_batch(run, plan, tasks).await;
        let permit = match gate {
            Some(g) => g.acquire().await.ok(),
            None => None,
        };
        let ran = self.run_batch(run, plan, batch).await;
        drop(permit);
        let reports = if may_write() {
            self.write_ran(run, plan, ran).await
        } else {
            let tasks = ran
                .results
                .into_iter()
                .map(|(r, _)| r.task)
                .chain(ran.skipped.into_iter().map(|r| r.task))
                .collect();
            abandoned(plan, tasks)
        };
        self.record(prepared, &reports);
        reports
    }

    /// Hands settled tasks' reports to the progress hooks and `--report`.
    pub fn record(&self, prepared: &Prepared, reports: &[TaskReport]) {
        if reports.is_empty() {
            return;
        }
        for r in reports {
            self.progress.task_reported(r);
        }
        if let Some(reporter) = &prepared.run.reporter {
            if let Err(e) = reporter.write(reports) {
                tracing::error!("writing the report failed: {e}");
            }
        }
    }
}
