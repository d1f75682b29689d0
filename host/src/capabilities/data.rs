//! `encord:agent/data`: the task's storage item, its bytes and its frames.
//! Everything was loaded before the call; decoding streams from ffmpeg.

use std::sync::Arc;

use wasmtime::component::{HasData, Resource, ResourceTable};

use crate::engine::bindings::wit::data::{Frame, Host, HostFrames, StorageItem};
use crate::engine::{AssetDir, TaskData};
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

/// What a call may read of its data, and the client metadata it set.
pub(crate) struct Data {
    data: Option<Arc<TaskData>>,
    /// The task's asset, mounted read-only in the sandbox.
    asset_dir: Option<AssetDir>,
    /// The instance's memory cap: no asset larger is copied in.
    memory_cap: usize,
    /// New client metadata (a JSON object) for the storage item.
    pub(crate) client_metadata: Option<String>,
}

impl Data {
    pub(crate) fn new(
        data: Option<Arc<TaskData>>,
        asset_dir: Option<AssetDir>,
        memory_cap: usize,
    ) -> Data {
        Data {
            data,
            asset_dir,
            memory_cap,
            client_metadata: None,
        }
    }
}

/// The data capability's view of a store: its state and the resource
/// table its frame streams live in.
pub(crate) struct DataView<'a> {
    pub(crate) data: &'a mut Data,
    pub(crate) table: &'a mut ResourceTable,
}

/// Links `data` with [`DataView`] (see `wasmtime_wasi_http::WasiHttp`).
pub(crate) struct DataCap;

impl HasData for DataCap {
    type Data<'a> = DataView<'a>;
}

impl DataView<'_> {
    fn data(&self, need: &str) -> Result<&TaskData, String> {
        self.data.data.as_deref().ok_or_else(|| {
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

impl Host for DataView<'_> {
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
                self.data.client_metadata = Some(v.to_string());
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
        let cap = self.data.memory_cap as u64;
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
        match &self.data.asset_dir {
            Some(mounted) => Ok(format!(
                "{}/{}",
                crate::engine::ASSET_DIR,
                mounted.file_name
            )),
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

impl HostFrames for DataView<'_> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::DataItem;

    fn item(item_type: &str, children: Vec<DataItem>) -> DataItem {
        DataItem {
            uuid: "u1".into(),
            name: "street-01.png".into(),
            item_type: item_type.into(),
            mime_type: Some("image/png".into()),
            file_size: Some(4),
            width: Some(2),
            height: Some(1),
            fps: None,
            duration: None,
            frame_count: None,
            client_metadata: r#"{"a":1}"#.into(),
            media: None,
            children,
        }
    }

    /// An image whose bytes are `bytes`, loaded with `asset` declared.
    fn image(dir: &std::path::Path, bytes: &[u8], asset: bool) -> Arc<TaskData> {
        let file = dir.join("u1.png");
        std::fs::write(&file, bytes).unwrap();
        Arc::new(TaskData {
            item: item("image", vec![]),
            file: Some(file),
            children: vec![],
            asset,
            frames: false,
        })
    }

    fn view<'a>(data: &'a mut Data, table: &'a mut ResourceTable) -> DataView<'a> {
        DataView { data, table }
    }

    #[test]
    fn without_the_need_nothing_is_served_and_the_need_is_named() {
        let (mut d, mut table) = (Data::new(None, None, 1 << 20), ResourceTable::new());
        let mut v = view(&mut d, &mut table);
        let err = v.item().unwrap_err();
        assert!(err.contains("declare the `storage-item` need"), "{err}");
        let err = v.asset_path().unwrap_err();
        assert!(err.contains("declare the `asset` need"), "{err}");
        let err = v.set_client_metadata("{}".into()).unwrap_err();
        assert!(err.contains("`storage-item`"), "{err}");
        assert!(d.client_metadata.is_none());
    }

    #[test]
    fn client_metadata_must_be_one_bounded_json_object() {
        let dir = tempfile::tempdir().unwrap();
        let mut d = Data::new(Some(image(dir.path(), b"png!", false)), None, 1 << 20);
        let mut table = ResourceTable::new();
        let mut v = view(&mut d, &mut table);
        assert_eq!(v.item().unwrap().client_metadata, r#"{"a":1}"#);
        assert_eq!(
            v.set_client_metadata("[1]".into()).unwrap_err(),
            "client metadata must be a JSON object"
        );
        let err = v.set_client_metadata("{".into()).unwrap_err();
        assert!(err.starts_with("client metadata is not JSON"), "{err}");
        let big = format!(r#"{{"k":"{}"}}"#, "x".repeat(MAX_METADATA_BYTES));
        let err = v.set_client_metadata(big).unwrap_err();
        assert!(err.contains("over the 1024 KiB limit"), "{err}");
        v.set_client_metadata(r#"{ "b" : 2 }"#.into()).unwrap();
        assert_eq!(d.client_metadata.as_deref(), Some(r#"{"b":2}"#));
    }

    #[tokio::test]
    async fn asset_bytes_are_read_within_the_memory_cap() {
        let dir = tempfile::tempdir().unwrap();
        let mut table = ResourceTable::new();
        let mut d = Data::new(Some(image(dir.path(), b"png!", true)), None, 1 << 20);
        let mut v = view(&mut d, &mut table);
        assert_eq!(v.asset_bytes(None).await.unwrap(), b"png!");
        let err = v.asset_bytes(Some(1)).await.unwrap_err();
        assert_eq!(err, "an image has only frame 0, not frame 1");
        let err = v.asset_path().unwrap_err();
        assert_eq!(err, "`street-01.png` has no file");

        let mut small = Data::new(Some(image(dir.path(), b"png!", true)), None, 4);
        let err = view(&mut small, &mut table)
            .asset_bytes(None)
            .await
            .unwrap_err();
        assert!(err.contains("over this task's memory limit"), "{err}");

        let mut undeclared = Data::new(Some(image(dir.path(), b"png!", false)), None, 1 << 20);
        let err = view(&mut undeclared, &mut table)
            .asset_bytes(None)
            .await
            .unwrap_err();
        assert!(err.contains("declare the `asset` need"), "{err}");
    }

    #[test]
    fn the_asset_path_is_inside_the_sandboxs_mount() {
        let dir = tempfile::tempdir().unwrap();
        let mount = AssetDir {
            dir: dir.path().to_path_buf(),
            file_name: "u1.png".into(),
        };
        let mut d = Data::new(Some(image(dir.path(), b"png!", true)), Some(mount), 1 << 20);
        let mut table = ResourceTable::new();
        assert_eq!(
            view(&mut d, &mut table).asset_path().unwrap(),
            "/asset/u1.png"
        );
    }

    #[tokio::test]
    async fn an_image_group_serves_one_child_per_frame() {
        let dir = tempfile::tempdir().unwrap();
        let children: Vec<std::path::PathBuf> = (0..2)
            .map(|i| {
                let p = dir.path().join(format!("c{i}.png"));
                std::fs::write(&p, format!("child {i}")).unwrap();
                p
            })
            .collect();
        let group = Arc::new(TaskData {
            item: item(
                "imageGroup",
                vec![item("image", vec![]), item("image", vec![])],
            ),
            file: None,
            children,
            asset: true,
            frames: false,
        });
        let mut d = Data::new(Some(group), None, 1 << 20);
        let mut table = ResourceTable::new();
        let mut v = view(&mut d, &mut table);
        assert_eq!(v.asset_bytes(Some(1)).await.unwrap(), b"child 1");
        let err = v.asset_bytes(Some(2)).await.unwrap_err();
        assert_eq!(err, "frame 2 is past the end (2 images)");
        let err = v.asset_bytes(None).await.unwrap_err();
        assert!(
            err.contains("is an image group: ask for one frame's bytes"),
            "{err}"
        );
        assert_eq!(v.item().unwrap().children, vec!["u1", "u1"]);
    }
}
