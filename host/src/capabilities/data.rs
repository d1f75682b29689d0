//! `encord:agent/data`: the task's storage item, its bytes and its frames.
//! Everything was loaded before the call; decoding streams from ffmpeg.

use wasmtime::component::Resource;

use crate::engine::encord::agent::data::{Frame, Host, HostFrames, StorageItem};
use crate::engine::{TaskData, TaskState};
use crate::media::{self, FrameStream, Frames};

/// A client-metadata object larger than this is refused.
const MAX_METADATA_BYTES: usize = 1 << 20;

fn wit_frame(f: media::Frame) -> Frame {
    Frame {
        index: f.index,
        width: f.width,
        height: f.height,
        rgb: f.rgb,
    }
}

impl TaskState {
    fn data(&self, need: &str) -> Result<&TaskData, String> {
        self.cx.data.as_deref().ok_or_else(|| {
            format!("no storage item was loaded for this task: the stage must declare the `{need}` need")
        })
    }

    fn frames_of(&self) -> Result<Frames, String> {
        let d = self.data("frames")?;
        if !d.frames {
            return Err("frames were not loaded for this task: the stage must declare the `frames` need (take a frames parameter)".into());
        }
        Frames::of(&d.item, d.file.as_deref(), &d.children)
    }

    fn push_frames(&mut self, stream: FrameStream) -> Result<Resource<FrameStream>, String> {
        self.table
            .push(stream)
            .map_err(|e| format!("too many frame streams open: {e}"))
    }
}

impl Host for TaskState {
    fn item(&mut self) -> Result<StorageItem, String> {
        let i = &self.data("storage-item")?.item;
        Ok(StorageItem {
            uuid: i.uuid.clone(),
            name: i.name.clone(),
            item_type: i.item_type.clone(),
            mime_type: i.mime_type.clone(),
            file_size: i.file_size,
            width: i.width,
            height: i.height,
            fps: i.fps,
            duration: i.duration,
            frame_count: i.frame_count,
            client_metadata: i.client_metadata.clone(),
            children: i.children.iter().map(|c| c.uuid.clone()).collect(),
        })
    }

    fn set_client_metadata(&mut self, json: String) -> Result<(), String> {
        self.data("storage-item")?;
        if json.len() > MAX_METADATA_BYTES {
            return Err(format!(
                "client metadata of {} KiB is over the {} KiB limit",
                json.len() >> 10,
                MAX_METADATA_BYTES >> 10
            ));
        }
        match serde_json::from_str::<serde_json::Value>(&json) {
            Ok(v) if v.is_object() => {
                self.cx
                    .effects
                    .lock()
                    .expect("effects lock")
                    .client_metadata = Some(v.to_string());
                Ok(())
            }
            Ok(_) => Err("client metadata must be a JSON object".into()),
            Err(e) => Err(format!("client metadata is not JSON: {e}")),
        }
    }

    async fn asset_bytes(&mut self, frame: Option<u32>) -> Result<Vec<u8>, String> {
        let d = self.data("asset")?;
        if !d.asset {
            return Err("the asset was not loaded for this task: the stage must declare the `asset` need (take an Asset parameter)".into());
        }
        let path = match (frame, d.children.is_empty()) {
            (Some(n), false) => d.children.get(n as usize).cloned().ok_or_else(|| {
                format!("frame {n} is past the end ({} images)", d.children.len())
            })?,
            (None, false) => {
                return Err(format!(
                    "`{}` is an image group: ask for one frame's bytes",
                    d.item.name
                ))
            }
            (Some(n), true) if n > 0 && d.item.item_type == "image" => {
                return Err(format!("an image has only frame 0, not frame {n}"))
            }
            (_, true) => d
                .file
                .clone()
                .ok_or_else(|| format!("`{}` has no file", d.item.name))?,
        };
        // The memory limit bounds what the guest can take; refuse early
        // rather than trap half-way through a copy.
        let size = tokio::fs::metadata(&path)
            .await
            .map_err(|e| format!("cannot read the asset: {e}"))?
            .len();
        let cap = self.memory_cap() as u64;
        if size >= cap {
            return Err(format!(
                "the asset is {} MiB, over this task's memory limit ({} MiB): use asset-path and read it in parts",
                size >> 20,
                cap >> 20
            ));
        }
        tokio::fs::read(&path)
            .await
            .map_err(|e| format!("cannot read the asset: {e}"))
    }

    fn asset_path(&mut self) -> Result<String, String> {
        let d = self.data("asset")?;
        if !d.asset {
            return Err("the asset was not loaded for this task: the stage must declare the `asset` need (take an AssetPath parameter)".into());
        }
        match &self.cx.asset_dir {
            Some((_, name)) => Ok(format!("{}/{name}", crate::engine::ASSET_DIR)),
            None if !d.children.is_empty() => Err(format!(
                "`{}` is an image group and has no single file: read its images with asset-bytes(frame) or frames",
                d.item.name
            )),
            None => Err(format!("`{}` has no file", d.item.name)),
        }
    }

    async fn first_frame(&mut self) -> Result<Frame, String> {
        let frames = self.frames_of()?;
        frames.first().await.map(wit_frame)
    }

    async fn all_frames(&mut self) -> Result<Resource<FrameStream>, String> {
        let frames = self.frames_of()?;
        let stream = tokio::task::spawn_blocking(move || frames.all())
            .await
            .map_err(|e| e.to_string())??;
        self.push_frames(stream)
    }

    async fn sample_rate(&mut self, rate: f64) -> Result<Resource<FrameStream>, String> {
        media::check_rate(rate)?;
        let frames = self.frames_of()?;
        let count = self.data("frames")?.item.frame_count;
        let stream = tokio::task::spawn_blocking(move || frames.sample_rate(rate, count))
            .await
            .map_err(|e| e.to_string())??;
        self.push_frames(stream)
    }

    async fn sample_frames(&mut self, indices: Vec<u32>) -> Result<Resource<FrameStream>, String> {
        let frames = self.frames_of()?;
        let stream = tokio::task::spawn_blocking(move || frames.sample(indices))
            .await
            .map_err(|e| e.to_string())??;
        self.push_frames(stream)
    }
}

impl HostFrames for TaskState {
    async fn next(&mut self, this: Resource<FrameStream>) -> Result<Option<Frame>, String> {
        let stream = self
            .table
            .get_mut(&this)
            .map_err(|e| format!("no such frame stream: {e}"))?;
        Ok(stream.next().await?.map(wit_frame))
    }

    fn drop(&mut self, this: Resource<FrameStream>) -> wasmtime::Result<()> {
        // Dropping the stream drops its queue; the decoder thread sees that
        // and stops ffmpeg.
        self.table.delete(this)?;
        Ok(())
    }
}
