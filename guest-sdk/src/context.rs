use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::rc::Rc;

use crate::data::{FrameSource, ItemInfo, Selection, TwinInfo, TwinStage};
use crate::extract::{ProjectInfo, Stage, Task, TaskDetails};

/// Where a handler's inputs come from: the host's imports inside a
/// component, or given values in a native test.
pub(crate) trait Source {
    fn label_row(&self) -> Result<String, String>;
    fn ontology(&self) -> String;
    fn project(&self) -> ProjectInfo;
    fn stage(&self) -> Option<Stage>;
    fn item(&self) -> Result<ItemInfo, String>;
    fn set_client_metadata(&self, json: &str) -> Result<(), String>;
    fn asset_bytes(&self, frame: Option<u32>) -> Result<Vec<u8>, String>;
    fn asset_path(&self) -> Result<String, String>;
    fn first_frame(&self) -> Result<crate::data::Frame, String>;
    fn frames(&self, which: Selection) -> Result<Box<dyn FrameSource>, String>;
    fn twin(&self, project_hash: &str) -> Result<Option<TwinInfo>, String>;
    fn twin_ontology(&self, project_hash: &str) -> Result<String, String>;
    fn save_twin(&self, project_hash: &str, label_row_json: &str) -> Result<(), String>;
    fn task_details(&self, task_uuid: &str) -> Result<TaskDetails, String>;
    fn twin_stage(&self, project_hash: &str) -> Result<Option<TwinStage>, String>;
    fn twin_proceed(&self, project_hash: &str, pathway: &str) -> Result<(), String>;
}

/// Everything an extractor can draw on for one task. Values computed by
/// extractors are cached here, so a dependency shared by two parameters is
/// resolved once per task.
pub struct Context {
    task: Task,
    source: Rc<dyn Source>,
    cache: HashMap<TypeId, Box<dyn Any>>,
}

impl Context {
    pub(crate) fn new(task: Task, source: Box<dyn Source>) -> Context {
        Context {
            task,
            source: Rc::from(source),
            cache: HashMap::new(),
        }
    }

    /// The task being handled.
    pub fn task(&self) -> &Task {
        &self.task
    }

    pub(crate) fn source(&self) -> &dyn Source {
        self.source.as_ref()
    }

    pub(crate) fn source_rc(&self) -> Rc<dyn Source> {
        self.source.clone()
    }

    /// Returns the cached value of type `T`, computing it with `make` the
    /// first time in this task.
    pub fn cached<T, E>(&mut self, make: impl FnOnce(&mut Context) -> Result<T, E>) -> Result<T, E>
    where
        T: Clone + 'static,
    {
        if let Some(v) = self.cache.get(&TypeId::of::<T>()) {
            return Ok(v.downcast_ref::<T>().expect("cache keyed by type").clone());
        }
        let v = make(self)?;
        self.cache.insert(TypeId::of::<T>(), Box::new(v.clone()));
        Ok(v)
    }
}
