//! Loading: a stage's tasks listed page by page and cut into batches, and
//! what the stage declared (label rows, metadata, storage items, media)
//! loaded for each batch in bulk.

use super::*;

impl Runner {
    /// One task's storage item, with its media on local disk when the stage
    /// declared `asset` or `frames`. A failure fails only that task.
    pub(super) async fn task_data(
        &self,
        run: &RunState,
        plan: &StagePlan,
        item: DataItem,
    ) -> (Result<Option<Arc<TaskData>>, String>, Vec<assets::Pin>) {
        let mut pins = Vec::new();
        let mut file = None;
        let mut children = Vec::new();
        if plan.spec.loads_media() {
            let Some(cache) = run.assets.as_ref() else {
                return (Err("no media cache was made for this run".into()), pins);
            };
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
            asset: plan.spec.needs(Need::Asset),
            frames: plan.spec.needs(Need::Frames),
        };
        (Ok(Some(Arc::new(data))), pins)
    }

    /// Lists the stage's task pages into `pages`, never past
    /// `--max-tasks-per-stage`, until the stage has no more, a stop, or the
    /// rest of the pipeline has ended. Returns the listing errors. It runs
    /// as its own task: the pages are a chain of round trips, each waiting
    /// for the token of the one before, and no other step's work (running
    /// or writing a batch) delays the next link.
    pub(super) fn list_stage(
        &self,
        run: &RunState,
        plan: &StagePlan,
        mut pages: futures::channel::mpsc::Sender<Vec<Task>>,
    ) -> tokio::task::JoinHandle<Vec<String>> {
        use futures::SinkExt;

        let platform = self.platform.clone();
        let stop = self.stop.clone();
        let project_hash = run.project.project_hash.clone();
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
    pub(super) async fn load_batch(
        &self,
        run: &RunState,
        plan: &StagePlan,
        tasks: Vec<Task>,
    ) -> LoadedBatch {
        // Bulk-load what the stage declared: one call for the whole batch.
        let mut rows: Vec<Option<Arc<str>>> = vec![None; tasks.len()];
        // The storage items the label rows name, so they are not looked up again.
        let mut items: Vec<Option<String>> = Vec::new();
        let mut load_error = None;
        if plan.spec.needs(Need::LabelRow) || plan.spec.needs(Need::LabelRowMetadata) {
            let hashes: Vec<String> = tasks.iter().map(|t| t.data_hash.clone()).collect();
            match self
                .platform
                .label_rows(&run.project.project_hash, &hashes, &plan.query)
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
        if plan.spec.loads_item() && load_error.is_none() {
            let hashes: Vec<String> = tasks.iter().map(|t| t.data_hash.clone()).collect();
            match self
                .platform
                .data_items(&run.project.project_hash, &hashes, &items)
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
                        self.task_data(run, plan, item).await
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
}

/// A batch with what its stage declared loaded.
pub(super) struct LoadedBatch {
    pub(super) tasks: Vec<Task>,
    pub(super) rows: Vec<Option<Arc<str>>>,
    /// Each task's storage item and media, or why it could not be had.
    pub(super) data: Vec<Result<Option<Arc<TaskData>>, String>>,
    /// Each task's twins, by project hash.
    pub(super) twins: Vec<Arc<HashMap<String, Option<TwinRecord>>>>,
    pub(super) load_error: Option<String>,
    /// Keeps downloaded media from eviction until the batch has run.
    pub(super) _pins: Vec<assets::Pin>,
}
