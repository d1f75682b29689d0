//! Extractors for the data behind a task: its storage item, its bytes, its
//! frames (one, all of them as an iterator, or a sample), and the same data
//! in twin projects.

use std::marker::PhantomData;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;

use encord_labels::{LabelRow, Ontology};

use crate::context::Source;
use crate::extract::{FromContext, Needs, Task};
use crate::{AgentError, Context};

/// The storage item behind the task's data (encord-agents' `StorageItem`).
#[derive(Clone)]
pub struct StorageItem {
    pub uuid: String,
    pub name: String,
    /// Encord's item type as the API spells it: `image`, `video`,
    /// `imageGroup`, `imageSequence`, ...
    pub item_type: String,
    pub mime_type: Option<String>,
    pub file_size: Option<u64>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub fps: Option<f64>,
    /// Seconds.
    pub duration: Option<f64>,
    pub frame_count: Option<u32>,
    /// The client metadata (a JSON object).
    pub client_metadata: serde_json::Value,
    /// Image groups and sequences: the children's uuids in frame order.
    pub children: Vec<String>,
    source: Rc<dyn Source>,
}

impl std::fmt::Debug for StorageItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageItem")
            .field("uuid", &self.uuid)
            .field("name", &self.name)
            .field("item_type", &self.item_type)
            .field("mime_type", &self.mime_type)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("frame_count", &self.frame_count)
            .field("client_metadata", &self.client_metadata)
            .finish_non_exhaustive()
    }
}

impl StorageItem {
    /// Replaces the item's client metadata with `metadata` (a JSON object),
    /// as `StorageItem.update(client_metadata=...)` does. The host writes it
    /// with the task's labels, and only if the handler succeeds.
    pub fn update_client_metadata(&self, metadata: serde_json::Value) -> Result<(), AgentError> {
        if !metadata.is_object() {
            return Err(AgentError::msg("client metadata must be a JSON object"));
        }
        self.source
            .set_client_metadata(&metadata.to_string())
            .map_err(AgentError::msg)
    }
}

/// What the host says of a storage item (the WIT record).
pub(crate) type ItemInfo = crate::bindings::encord::agent::data::StorageItem;

impl FromContext for StorageItem {
    fn needs(needs: &mut Needs) {
        needs.storage_item = true;
    }
    fn from_context(cx: &mut Context) -> Result<Self, AgentError> {
        cx.cached(|cx| -> Result<StorageItem, AgentError> {
            let i = cx.source().item().map_err(AgentError::msg)?;
            let client_metadata =
                serde_json::from_str(&i.client_metadata).unwrap_or_else(|_| serde_json::json!({}));
            Ok(StorageItem {
                uuid: i.uuid,
                name: i.name,
                item_type: i.item_type,
                mime_type: i.mime_type,
                file_size: i.file_size,
                width: i.width,
                height: i.height,
                fps: i.fps,
                duration: i.duration,
                frame_count: i.frame_count,
                client_metadata,
                children: i.children,
                source: cx.source_rc(),
            })
        })
    }
}

/// The data unit's bytes (for an image group, use [`GroupAssets`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset(pub Vec<u8>);

impl std::ops::Deref for Asset {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl FromContext for Asset {
    fn needs(needs: &mut Needs) {
        needs.asset = true;
    }
    fn from_context(cx: &mut Context) -> Result<Self, AgentError> {
        cx.source()
            .asset_bytes(None)
            .map(Asset)
            .map_err(AgentError::msg)
    }
}

/// The data unit as a read-only file inside the sandbox, named
/// `{item uuid}.{extension}` (encord-agents' `dep_asset`). Open it with
/// `std::fs`; it is removed after the task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetPath(pub PathBuf);

impl std::ops::Deref for AssetPath {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl FromContext for AssetPath {
    fn needs(needs: &mut Needs) {
        needs.asset = true;
    }
    fn from_context(cx: &mut Context) -> Result<Self, AgentError> {
        cx.source()
            .asset_path()
            .map(|p| AssetPath(PathBuf::from(p)))
            .map_err(AgentError::msg)
    }
}

/// The images of an image group, by frame.
#[derive(Clone)]
pub struct GroupAssets {
    source: Rc<dyn Source>,
}

impl GroupAssets {
    /// The bytes of image `frame`.
    pub fn bytes(&self, frame: u32) -> Result<Vec<u8>, AgentError> {
        self.source
            .asset_bytes(Some(frame))
            .map_err(AgentError::msg)
    }
}

impl FromContext for GroupAssets {
    fn needs(needs: &mut Needs) {
        needs.asset = true;
    }
    fn from_context(cx: &mut Context) -> Result<Self, AgentError> {
        Ok(GroupAssets {
            source: cx.source_rc(),
        })
    }
}

/// One decoded frame: RGB8, row-major (`width * height * 3` bytes). As a
/// parameter: frame 0 of an image, video, image group or image sequence
/// (encord-agents' `dep_single_frame`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The frame's index in the data.
    pub index: u32,
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

impl Frame {
    /// The host's record of this frame, for the host's helpers to read
    /// (`nn::frame_tensor`, `Frame::encode`).
    pub(crate) fn to_wit(&self) -> crate::bindings::encord::agent::data::Frame {
        crate::bindings::encord::agent::data::Frame {
            index: self.index,
            width: self.width,
            height: self.height,
            rgb: self.rgb.clone(),
        }
    }

    /// The (r, g, b) of pixel (x, y).
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let i = (y as usize * self.width as usize + x as usize) * 3;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }

    /// Mean brightness (luma, BT.601) in [0, 255].
    pub fn mean_brightness(&self) -> f64 {
        let px = (self.width as usize * self.height as usize).max(1);
        let sum: u64 = self
            .rgb
            .chunks_exact(3)
            .map(|p| 299 * u64::from(p[0]) + 587 * u64::from(p[1]) + 114 * u64::from(p[2]))
            .sum();
        sum as f64 / 1000.0 / px as f64
    }

    /// The pixels inside a normalised box (x, y, w, h in [0, 1]), as a new
    /// frame of the same index.
    pub fn crop(&self, x: f64, y: f64, w: f64, h: f64) -> Frame {
        let (fw, fh) = (f64::from(self.width), f64::from(self.height));
        let x0 = ((x * fw).floor().max(0.0) as u32).min(self.width);
        let y0 = ((y * fh).floor().max(0.0) as u32).min(self.height);
        let x1 = (((x + w) * fw).ceil() as u32).clamp(x0, self.width);
        let y1 = (((y + h) * fh).ceil() as u32).clamp(y0, self.height);
        let mut rgb = Vec::with_capacity(((x1 - x0) * (y1 - y0) * 3) as usize);
        for row in y0..y1 {
            let start = (row as usize * self.width as usize + x0 as usize) * 3;
            let end = (row as usize * self.width as usize + x1 as usize) * 3;
            rgb.extend_from_slice(&self.rgb[start..end]);
        }
        Frame {
            index: self.index,
            width: x1 - x0,
            height: y1 - y0,
            rgb,
        }
    }
}

impl FromContext for Frame {
    fn needs(needs: &mut Needs) {
        needs.frames = true;
    }
    fn from_context(cx: &mut Context) -> Result<Self, AgentError> {
        cx.cached(|cx| cx.source().first_frame().map_err(AgentError::msg))
    }
}

/// Which frames to decode.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Selection {
    All,
    Rate(f64),
    Indices(Vec<u32>),
}

/// Frames delivered one at a time by the host (never the whole video in
/// memory).
pub(crate) trait FrameSource {
    fn next_frame(&mut self) -> Result<Option<Frame>, String>;
}

/// Every frame of a video, image sequence or image group, in order
/// (encord-agents' `dep_video_iterator`): an iterator of
/// `Result<Frame, AgentError>`. Decoding happens as you iterate.
pub struct VideoFrames {
    inner: Box<dyn FrameSource>,
    done: bool,
}

impl std::fmt::Debug for VideoFrames {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VideoFrames")
    }
}

impl Iterator for VideoFrames {
    type Item = Result<Frame, AgentError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.inner.next_frame() {
            Ok(Some(f)) => Some(Ok(f)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(AgentError::msg(e)))
            }
        }
    }
}

impl FromContext for VideoFrames {
    fn needs(needs: &mut Needs) {
        needs.frames = true;
    }
    fn from_context(cx: &mut Context) -> Result<Self, AgentError> {
        let inner = cx
            .source()
            .frames(Selection::All)
            .map_err(AgentError::msg)?;
        Ok(VideoFrames { inner, done: false })
    }
}

/// Picks frames of a video (encord-agents' `dep_video_sampler`): by rate,
/// or by index; the host seeks instead of decoding everything.
#[derive(Clone)]
pub struct VideoSampler {
    source: Rc<dyn Source>,
}

impl std::fmt::Debug for VideoSampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VideoSampler")
    }
}

impl VideoSampler {
    /// Frames `floor(k / rate)` for k = 0, 1, ... below the frame count;
    /// `rate` must be in (0, 1] (0.5: every other frame).
    pub fn rate(&self, rate: f64) -> Result<VideoFrames, AgentError> {
        let inner = self
            .source
            .frames(Selection::Rate(rate))
            .map_err(AgentError::msg)?;
        Ok(VideoFrames { inner, done: false })
    }

    /// These frames, in increasing order, each once.
    pub fn frames(&self, indices: &[u32]) -> Result<VideoFrames, AgentError> {
        let inner = self
            .source
            .frames(Selection::Indices(indices.to_vec()))
            .map_err(AgentError::msg)?;
        Ok(VideoFrames { inner, done: false })
    }
}

impl FromContext for VideoSampler {
    fn needs(needs: &mut Needs) {
        needs.frames = true;
    }
    fn from_context(cx: &mut Context) -> Result<Self, AgentError> {
        Ok(VideoSampler {
            source: cx.source_rc(),
        })
    }
}

/// A twin project: another project with the same data. Implement it on a
/// marker type and take a [`Twin<ThatType>`] parameter. Give the hash as a
/// constant, or override [`TwinProject::project_hash`] to read it when the
/// agent loads (e.g. from a variable granted with `--env`):
///
/// ```
/// use encord_agent_sdk::prelude::*;
///
/// struct GroundTruth;
/// impl TwinProject for GroundTruth {
///     const PROJECT_HASH: &'static str = "00000000-0000-4000-8000-00000000aaaa";
///     const INCLUDE_TASK: bool = true;
/// }
///
/// #[stage("pre-label")]
/// fn copy(twin: Option<Twin<GroundTruth>>) -> &'static str {
///     if twin.is_some() { "annotate" } else { "skip" }
/// }
/// ```
pub trait TwinProject: 'static {
    /// The twin project's hash.
    const PROJECT_HASH: &'static str = "";
    /// Also find the twin's workflow task (default: no).
    const INCLUDE_TASK: bool = false;
    /// The twin project's hash (default: [`TwinProject::PROJECT_HASH`]).
    fn project_hash() -> String {
        Self::PROJECT_HASH.to_string()
    }
}

/// The workflow stage a twin task sits in.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TwinStage {
    pub uuid: String,
    pub title: String,
    /// Encord's stage type: `AGENT`, `ANNOTATION`, `REVIEW`, `DONE`, ...
    pub stage_type: String,
    /// The stage's pathways (agent stages only).
    pub pathways: Vec<crate::extract::Pathway>,
}

/// What the host returns for one twin.
#[derive(Debug, Clone, PartialEq)]
pub struct TwinInfo {
    pub label_row: String,
    pub task: Option<Task>,
    pub stage_uuid: Option<String>,
}

/// The same data in the twin project `P` (encord-agents'
/// `dep_twin_label_row`), loaded in bulk for the whole batch. Take
/// `Option<Twin<P>>` to get `None` where the twin has no such data.
///
/// [`Twin::label_row`] reads the twin's row with the twin project's own
/// ontology; [`Twin::save`] writes it back to the twin project, as
/// encord-agents' `twin.label_row.save()` does.
pub struct Twin<P: TwinProject> {
    /// The twin's label row JSON.
    pub label_row_json: String,
    /// The twin's workflow task, when `P::INCLUDE_TASK` and there is one.
    pub task: Option<Task>,
    /// The uuid of the stage the twin task sits in.
    pub stage_uuid: Option<String>,
    source: Rc<dyn Source>,
    ontology: std::cell::OnceCell<Arc<Ontology>>,
    _project: PhantomData<P>,
}

impl<P: TwinProject> Clone for Twin<P> {
    fn clone(&self) -> Self {
        Twin {
            label_row_json: self.label_row_json.clone(),
            task: self.task.clone(),
            stage_uuid: self.stage_uuid.clone(),
            source: self.source.clone(),
            ontology: self.ontology.clone(),
            _project: PhantomData,
        }
    }
}

impl<P: TwinProject> std::fmt::Debug for Twin<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Twin")
            .field("project", &P::project_hash())
            .field("task", &self.task)
            .finish_non_exhaustive()
    }
}

impl<P: TwinProject> Twin<P> {
    /// The twin project's ontology.
    pub fn ontology(&self) -> Result<Arc<Ontology>, AgentError> {
        if let Some(o) = self.ontology.get() {
            return Ok(o.clone());
        }
        let json = self
            .source
            .twin_ontology(&P::project_hash())
            .map_err(AgentError::msg)?;
        let o = Arc::new(Ontology::parse(&json)?);
        Ok(self.ontology.get_or_init(|| o).clone())
    }

    /// The twin's label row, read with the twin project's ontology.
    pub fn label_row(&self) -> Result<LabelRow, AgentError> {
        self.label_row_with(self.ontology()?)
    }

    /// The twin's label row, read with another ontology.
    pub fn label_row_with(&self, ontology: Arc<Ontology>) -> Result<LabelRow, AgentError> {
        Ok(LabelRow::parse(&self.label_row_json, ontology)?)
    }

    /// Saves `row` as this data's label row in the twin project. The host
    /// checks it now against the twin's ontology (an error says why) and
    /// writes it with the batch's label saves, before any task moves, only
    /// if the handler succeeds; if that write fails, the task fails and does
    /// not move.
    pub fn save(&self, row: &LabelRow) -> Result<(), AgentError> {
        self.source
            .save_twin(&P::project_hash(), &row.to_json())
            .map_err(AgentError::msg)
    }

    /// Who and when of the twin's task (`P::INCLUDE_TASK`).
    pub fn task_details(&self) -> Result<Option<crate::TaskDetails>, AgentError> {
        let Some(task) = &self.task else {
            return Ok(None);
        };
        self.source
            .task_details(&task.uuid)
            .map(Some)
            .map_err(AgentError::msg)
    }

    /// The stage the twin's task sits in (`P::INCLUDE_TASK`), or `None`
    /// without a twin task.
    pub fn stage(&self) -> Result<Option<TwinStage>, AgentError> {
        self.source
            .twin_stage(&P::project_hash())
            .map_err(AgentError::msg)
    }

    /// Moves the twin's task along `pathway` (name or uuid) of the agent
    /// stage it sits in, as encord-agents' `twin.task.proceed(...)` does. The
    /// host checks the pathway now (an error says why) and moves the task
    /// after the batch's label saves, before this project's moves, only if
    /// the handler succeeds; if that move fails, the task fails and stays.
    pub fn proceed(&self, pathway: &str) -> Result<(), AgentError> {
        self.source
            .twin_proceed(&P::project_hash(), pathway)
            .map_err(AgentError::msg)
    }
}

impl<P: TwinProject> FromContext for Twin<P> {
    fn needs(needs: &mut Needs) {
        needs.add_twin(P::project_hash(), P::INCLUDE_TASK);
    }
    fn from_context(cx: &mut Context) -> Result<Self, AgentError> {
        Self::from_context_optional(cx)?.ok_or_else(|| {
            AgentError::msg(format!(
                "data `{}` has no label row in twin project `{}`",
                cx.task().data_hash,
                P::project_hash()
            ))
        })
    }
    /// `None` where the twin project has no label row for this data; a
    /// failed lookup still fails the task.
    fn from_context_optional(cx: &mut Context) -> Result<Option<Self>, AgentError> {
        let found = cx
            .source()
            .twin(&P::project_hash())
            .map_err(AgentError::msg)?;
        let Some(t) = found else {
            return Ok(None);
        };
        Ok(Some(Twin {
            label_row_json: t.label_row,
            task: t.task,
            stage_uuid: t.stage_uuid,
            source: cx.source_rc(),
            ontology: std::cell::OnceCell::new(),
            _project: PhantomData,
        }))
    }
}
