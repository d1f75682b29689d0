//! Ordered writes: a batch's label saves, twin saves, client metadata and
//! priorities land before any of its tasks move; moves are bundled, and a
//! refused bundle is replayed task by task.

use super::*;

impl Runner {
    /// Saves and moves what a batch's tasks decided, and remembers (or
    /// forgets) their failures.
    pub(super) async fn write_ran(
        &self,
        run: &RunState,
        plan: &StagePlan,
        ran: Ran,
    ) -> Vec<TaskReport> {
        let Ran {
            results,
            skipped,
            had_record,
            failure_prints,
        } = ran;
        let project = &run.project;
        let mut reports = self.write_batch(&project.project_hash, plan, results).await;
        if let (Some(f), false) = (&run.failures, self.options.dry_run) {
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
    pub(super) async fn write_batch(
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
                r.twin_labels_saved = d
                    .twin_saves
                    .iter()
                    .map(|s| s.project_hash.clone())
                    .collect();
                r.twin_tasks_moved = d
                    .twin_moves
                    .iter()
                    .map(|m| m.project_hash.clone())
                    .collect();
                r.priority = d.priority;
                if let Some(p) = &d.pathway {
                    r.result = TaskResult::Moved(p.name.clone());
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
            .flat_map(|d| d.twin_saves.iter().map(|s| s.project_hash.clone()))
            .collect();
        for twin in twins {
            // Tasks still standing: one whose save failed is left out.
            let rows: Vec<(usize, LabelSave)> = (0..reports.len())
                .filter_map(|i| {
                    let d = decisions[i].as_ref()?;
                    let save = d.twin_saves.iter().find(|s| s.project_hash == twin)?;
                    Some((i, row(&reports[i], &save.label_row)))
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

        // (index, (storage item uuid, JSON)) of every metadata update.
        let metas: Vec<(usize, (String, String))> = (0..reports.len())
            .filter_map(|i| {
                let m = decisions[i].as_ref()?.metadata.as_ref()?;
                Some((i, (m.item_uuid.clone(), m.json.clone())))
            })
            .collect();
        let sent = bundled(metas, |b| async move {
            self.platform.set_client_metadata(&b).await
        });
        for (i, result) in sent.await {
            match result {
                Ok(()) => reports[i].metadata_saved = true,
                Err(e) => fail(
                    &mut reports,
                    &mut decisions,
                    i,
                    format!("updating client metadata failed: {e}"),
                ),
            }
        }

        let prios: Vec<(usize, (String, f32))> = (0..reports.len())
            .filter_map(|i| {
                let p = decisions[i].as_ref()?.priority?;
                Some((i, (reports[i].task.data_hash.clone(), p)))
            })
            .collect();
        let sent = bundled(prios, |b| async move {
            self.platform.set_priorities(project_hash, &b).await
        });
        for (i, result) in sent.await {
            match result {
                Ok(()) => reports[i].priority = decisions[i].as_ref().and_then(|d| d.priority),
                Err(e) => fail(
                    &mut reports,
                    &mut decisions,
                    i,
                    format!("setting the priority failed: {e}"),
                ),
            }
        }

        // (index, action, pathway name) of every task to move.
        let moves: Vec<(usize, MoveAction, String)> = (0..reports.len())
            .filter_map(|i| {
                let p = decisions[i].as_ref()?.pathway.as_ref()?;
                let action = MoveAction {
                    task_uuid: reports[i].task.uuid.clone(),
                    pathway_uuid: p.uuid.clone(),
                };
                Some((i, action, p.name.clone()))
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
    pub(super) async fn save_rows(
        &self,
        project: &str,
        rows: Vec<(usize, LabelSave)>,
    ) -> Vec<(usize, Result<(), String>)> {
        bundled(rows, |b| async move {
            self.platform.save_labels(project, &b).await
        })
        .await
    }

    /// What one task's own move came to. Only a task that really left the
    /// stage is "already advanced": the platform says so (`NotInStage`), or
    /// it refused the move without saying why (Encord's bare 400) and the
    /// task is no longer listed in the stage. Any other refusal fails the
    /// task with the platform's words, and it stays where it is.
    pub(super) async fn settle_move(
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
pub(crate) fn crash_point(name: &str) {
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
pub(super) enum MoveEnd {
    Moved,
    AlreadyAdvanced,
}

/// Runs `requests` with up to [`WRITES_IN_FLIGHT`] at once; their results
/// in the order given.
pub(super) async fn in_flight<F: std::future::Future>(
    requests: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    futures::stream::iter(requests)
        .buffered(WRITES_IN_FLIGHT)
        .collect()
        .await
}

/// The one bundled write: `items` (task index, what to write for it) sent in
/// bundles of ≤ [`SAVE_BUNDLE`], up to [`WRITES_IN_FLIGHT`] bundles at once;
/// each task index with its bundle's result. Label saves, client metadata
/// and priorities all go this way.
pub(super) async fn bundled<T, Fut>(
    items: Vec<(usize, T)>,
    send: impl Fn(Vec<T>) -> Fut,
) -> Vec<(usize, Result<(), String>)>
where
    Fut: std::future::Future<Output = Result<(), PlatformError>>,
{
    let (tasks, items): (Vec<usize>, Vec<T>) = items.into_iter().unzip();
    let mut items = items.into_iter();
    let bundles: Vec<Vec<T>> = tasks
        .chunks(SAVE_BUNDLE)
        .map(|chunk| items.by_ref().take(chunk.len()).collect())
        .collect();
    let sent = in_flight(bundles.into_iter().map(send)).await;
    tasks
        .chunks(SAVE_BUNDLE)
        .zip(sent)
        .flat_map(|(chunk, result)| {
            let result = result.map_err(|e| e.to_string());
            chunk.iter().map(move |&i| (i, result.clone()))
        })
        .collect()
}
