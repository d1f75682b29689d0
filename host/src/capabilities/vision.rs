//! `encord:agent/vision`: frames to tensors and model outputs to regions
//! and boxes, in the host (`nn::vision`), on a blocking thread where the
//! work grows with the image.

use wasmtime::component::Resource;

use super::nn::NnView;
use crate::engine::bindings::wit::vision::{
    BoundingBox, ChannelOrder, Detection, EncodeOptions, EncodedImage, Frame, Host, ImageFormat,
    ImageMask, Layout, Placement, Point, Prepared, Region, RegionOptions, Resize, TensorOptions,
    YoloFormat, YoloOptions,
};
use crate::nn::vision as v;
use crate::nn::Tensor;

fn placement_in(p: &Placement) -> v::Placement {
    v::Placement {
        image_width: p.image_width,
        image_height: p.image_height,
        tensor_width: p.tensor_width,
        tensor_height: p.tensor_height,
        scale_x: p.scale_x,
        scale_y: p.scale_y,
        offset_x: p.offset_x,
        offset_y: p.offset_y,
    }
}

fn placement_out(p: v::Placement) -> Placement {
    Placement {
        image_width: p.image_width,
        image_height: p.image_height,
        tensor_width: p.tensor_width,
        tensor_height: p.tensor_height,
        scale_x: p.scale_x,
        scale_y: p.scale_y,
        offset_x: p.offset_x,
        offset_y: p.offset_y,
    }
}

fn bounding_box([x, y, w, h]: [f32; 4]) -> BoundingBox {
    BoundingBox { x, y, w, h }
}

/// A map's height and width from its dimensions.
fn map_size(what: &str, dims: &[u32]) -> Result<(usize, usize), String> {
    match dims {
        [1, 1, h, w] | [1, h, w] | [h, w] => Ok((*h as usize, *w as usize)),
        _ => Err(format!(
            "a {what} is [1, 1, H, W], [1, H, W] or [H, W]; got {dims:?}"
        )),
    }
}

/// The f32 values of a tensor the guest lent, with its dimensions.
fn values(view: &NnView<'_>, t: &Resource<Tensor>) -> Result<(Vec<f32>, Vec<u32>), String> {
    let t = view.table.get(t).map_err(|e| e.to_string())?;
    Ok((
        t.f32s().map_err(|e| e.message)?.into_owned(),
        t.dims.clone(),
    ))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| format!("vision: {e}"))?
}

impl Host for NnView<'_> {
    async fn frame_tensor(&mut self, frame: Frame, o: TensorOptions) -> Result<Prepared, String> {
        let options = v::TensorOptions {
            width: o.width,
            height: o.height,
            resize: match o.resize {
                Resize::Stretch => v::Resize::Stretch,
                Resize::Letterbox => v::Resize::Letterbox,
                Resize::FitTopLeft => v::Resize::FitTopLeft,
            },
            layout: match o.layout {
                Layout::Nchw => v::Layout::Nchw,
                Layout::Nhwc => v::Layout::Nhwc,
            },
            bgr: matches!(o.channels, ChannelOrder::Bgr),
            mean: [o.mean.0, o.mean.1, o.mean.2],
            std: [o.std.0, o.std.1, o.std.2],
            pad: o.pad,
        };
        let dims = match options.layout {
            v::Layout::Nchw => vec![1, 3, o.height, o.width],
            v::Layout::Nhwc => vec![1, o.height, o.width, 3],
        };
        let (values, placement) =
            blocking(move || v::frame_tensor(frame.width, frame.height, &frame.rgb, &options))
                .await?;
        let tensor = Tensor::from_f32(dims, values).map_err(|e| e.message)?;
        let tensor = self.push_tensor(tensor).map_err(|e| e.message)?;
        Ok(Prepared {
            tensor,
            placement: placement_out(placement),
        })
    }

    async fn probability_regions(
        &mut self,
        probabilities: Resource<Tensor>,
        placement: Placement,
        o: RegionOptions,
    ) -> Result<Vec<Region>, String> {
        let (values, dims) = values(self, &probabilities)?;
        let (h, w) = match dims.as_slice() {
            [1, 1, h, w] | [1, h, w] | [h, w] => (*h as usize, *w as usize),
            _ => {
                return Err(format!(
                    "a probability map is [1, 1, H, W], [1, H, W] or [H, W]; got {dims:?}"
                ))
            }
        };
        let placement = placement_in(&placement);
        let options = v::RegionOptions {
            threshold: o.threshold,
            box_threshold: o.box_threshold,
            unclip_ratio: o.unclip_ratio,
            min_side: o.min_side,
            max_regions: o.max_regions,
        };
        let regions =
            blocking(move || v::probability_regions(&values, w, h, &placement, &options)).await?;
        Ok(regions
            .into_iter()
            .map(|r| Region {
                polygon: r.polygon.into_iter().map(|(x, y)| Point { x, y }).collect(),
                bounding_box: bounding_box(r.bounding_box),
                score: r.score,
            })
            .collect())
    }

    fn yolo_detections(
        &mut self,
        output: Resource<Tensor>,
        placement: Placement,
        o: YoloOptions,
    ) -> Result<Vec<Detection>, String> {
        let (values, dims) = values(self, &output)?;
        let options = v::YoloOptions {
            format: match o.format {
                YoloFormat::V5 => v::YoloFormat::V5,
                YoloFormat::V8 => v::YoloFormat::V8,
                YoloFormat::Yolox => v::YoloFormat::Yolox,
            },
            score_threshold: o.score_threshold,
            iou_threshold: o.iou_threshold,
            max_detections: o.max_detections,
        };
        let found = v::yolo_detections(&values, &dims, &placement_in(&placement), &options)?;
        Ok(found
            .into_iter()
            .map(|d| Detection {
                bounding_box: bounding_box(d.bounding_box),
                score: d.score,
                class_index: d.class_index,
            })
            .collect())
    }

    async fn mask_bitmask(
        &mut self,
        mask: Resource<Tensor>,
        placement: Placement,
        threshold: f32,
    ) -> Result<ImageMask, String> {
        let (values, dims) = values(self, &mask)?;
        let (h, w) = map_size("mask", &dims)?;
        let placement = placement_in(&placement);
        let m = blocking(move || v::mask_bitmask(&values, w, h, &placement, threshold)).await?;
        Ok(ImageMask {
            width: m.width,
            height: m.height,
            rle: m.rle,
        })
    }

    async fn encode_image(
        &mut self,
        frame: Frame,
        o: EncodeOptions,
    ) -> Result<EncodedImage, String> {
        use crate::media::{self, ImageFormat as F};
        let (format, media_type) = match o.format {
            ImageFormat::Png => (F::Png, "image/png"),
            ImageFormat::Jpeg => (F::Jpeg, "image/jpeg"),
        };
        let options = media::EncodeOptions {
            format,
            quality: o.quality,
            crop: o.crop.map(|b| [b.x, b.y, b.w, b.h]),
            padding: o.padding,
            max_side: o.max_side,
        };
        let (bytes, width, height) =
            blocking(move || media::encode_image(frame.width, frame.height, &frame.rgb, &options))
                .await?;
        Ok(EncodedImage {
            bytes,
            media_type: media_type.into(),
            width,
            height,
        })
    }
}
