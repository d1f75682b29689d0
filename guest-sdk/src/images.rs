//! Frames as images for model APIs, encoded in the host: a frame or a crop
//! of it (an object's box, with padding) as PNG or JPEG, and the shapes the
//! APIs take — base64, a data URL, an OpenAI or Anthropic message part
//! (encord-agents' `Frame.b64_encoding`).
//!
//! ```no_run
//! use encord_agent_sdk::images::ImageOptions;
//! use encord_agent_sdk::prelude::*;
//!
//! # fn f(frame: Frame) -> Result<(), AgentError> {
//! let part = frame.encode(&ImageOptions::jpeg(85).max_side(1024))?.openai_part();
//! # Ok(()) }
//! ```

use base64::Engine;
use serde_json::{json, Value};

use crate::bindings::encord::agent::vision as wit;
use crate::{AgentError, BoundingBox, Frame};

pub use crate::bindings::encord::agent::vision::ImageFormat;

/// How a frame becomes an image file.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImageOptions {
    pub format: ImageFormat,
    /// JPEG quality, 1 to 100.
    pub quality: u8,
    /// Only this part of the frame, grown by `padding` of its size on each side.
    pub crop: Option<BoundingBox>,
    pub padding: f32,
    /// Scaled down, aspect kept, so the longer side is at most this.
    pub max_side: Option<u32>,
}

impl ImageOptions {
    pub fn png() -> ImageOptions {
        ImageOptions {
            format: ImageFormat::Png,
            quality: 90,
            crop: None,
            padding: 0.0,
            max_side: None,
        }
    }

    pub fn jpeg(quality: u8) -> ImageOptions {
        ImageOptions {
            format: ImageFormat::Jpeg,
            quality,
            ..ImageOptions::png()
        }
    }

    /// Only `region` (an object's box), grown by `padding` of its size.
    pub fn crop(mut self, region: BoundingBox, padding: f32) -> ImageOptions {
        self.crop = Some(region);
        self.padding = padding;
        self
    }

    pub fn max_side(mut self, side: u32) -> ImageOptions {
        self.max_side = Some(side);
        self
    }
}

/// An encoded image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedImage {
    pub bytes: Vec<u8>,
    /// `image/png` or `image/jpeg`.
    pub media_type: String,
    pub width: u32,
    pub height: u32,
}

impl EncodedImage {
    pub fn base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.bytes)
    }

    pub fn data_url(&self) -> String {
        format!("data:{};base64,{}", self.media_type, self.base64())
    }

    /// `{"type": "image_url", "image_url": {"url": <data URL>}}`
    pub fn openai_part(&self) -> Value {
        json!({"type": "image_url", "image_url": {"url": self.data_url()}})
    }

    /// `{"type": "image", "source": {"type": "base64", "media_type", "data"}}`
    pub fn anthropic_part(&self) -> Value {
        json!({"type": "image", "source": {"type": "base64", "media_type": self.media_type, "data": self.base64()}})
    }
}

impl Frame {
    /// The frame (or a crop of it) as a PNG or JPEG file, made in the host.
    pub fn encode(&self, options: &ImageOptions) -> Result<EncodedImage, AgentError> {
        if !cfg!(target_arch = "wasm32") {
            return Err(AgentError::msg(
                "images are encoded by runner-host: build the agent for wasm32-wasip2",
            ));
        }
        let o = wit::EncodeOptions {
            format: options.format,
            quality: options.quality,
            crop: options.crop.map(|b| wit::BoundingBox {
                x: b.x as f32,
                y: b.y as f32,
                w: b.w as f32,
                h: b.h as f32,
            }),
            padding: options.padding,
            max_side: options.max_side,
        };
        let e = wit::encode_image(&self.to_wit(), o).map_err(AgentError::msg)?;
        Ok(EncodedImage {
            bytes: e.bytes,
            media_type: e.media_type,
            width: e.width,
            height: e.height,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_shapes_carry_the_bytes_as_base64() {
        let e = EncodedImage {
            bytes: vec![0x89, b'P', b'N', b'G'],
            media_type: "image/png".into(),
            width: 1,
            height: 1,
        };
        assert_eq!(e.base64(), "iVBORw==");
        assert_eq!(e.data_url(), "data:image/png;base64,iVBORw==");
        assert_eq!(
            e.openai_part()["image_url"]["url"],
            "data:image/png;base64,iVBORw=="
        );
        assert_eq!(e.anthropic_part()["source"]["media_type"], "image/png");
        assert_eq!(e.anthropic_part()["source"]["data"], "iVBORw==");
    }
}
