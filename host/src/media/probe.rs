//! ffprobe: a video's size, rate, frame count and how its frames will
//! cross the pipe from ffmpeg.

use super::*;

/// What ffprobe says of a video stream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VideoInfo {
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    /// Counted from the packets (only when asked: it reads the whole file).
    pub frames: Option<u32>,
    /// How its frames come through the pipe from ffmpeg.
    pub wire: Wire,
}

/// How decoded frames cross the pipe from ffmpeg.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Wire {
    /// RGB8, converted by ffmpeg: any pixel format.
    Rgb24,
    /// The decoder's own 8-bit 4:2:0 limited-range planes, half the bytes of
    /// RGB, converted here with the stream's matrix as ffmpeg would (BT.709
    /// when tagged so, else BT.601; each chroma sample covers its 2x2 block).
    Yuv420(Matrix),
}

/// The YUV-to-RGB matrix of a stream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Matrix {
    Bt601,
    Bt709,
}

impl Wire {
    /// The wire for a stream ffprobe describes: YUV only where this host
    /// converts exactly the way ffmpeg does (8-bit 4:2:0, even dimensions,
    /// limited range, BT.601 or BT.709); RGB from ffmpeg for the rest.
    pub fn for_stream(pix_fmt: &str, range: &str, space: &str, width: u32, height: u32) -> Wire {
        let even = width.is_multiple_of(2) && height.is_multiple_of(2);
        let limited = matches!(range, "" | "unknown" | "tv");
        let matrix = match space {
            "" | "unknown" | "bt470bg" | "smpte170m" => Some(Matrix::Bt601),
            "bt709" => Some(Matrix::Bt709),
            _ => None,
        };
        match matrix {
            Some(m) if pix_fmt == "yuv420p" && even && limited => Wire::Yuv420(m),
            _ => Wire::Rgb24,
        }
    }

    /// ffmpeg's `-pix_fmt` for this wire, and the bytes of one frame on it.
    pub(super) fn format(self, width: u32, height: u32) -> (&'static str, usize) {
        let px = width as usize * height as usize;
        match self {
            Wire::Rgb24 => ("rgb24", px * 3),
            Wire::Yuv420(_) => ("yuv420p", px * 3 / 2),
        }
    }
}

/// Probes the first video stream of `path` with ffprobe.
pub fn probe(path: &Path, count: bool) -> Result<VideoInfo, String> {
    let mut cmd = Command::new(ffmpeg_sidecar::ffprobe::ffprobe_path());
    cmd.args(["-v", "error", "-select_streams", "v:0"]);
    if count {
        cmd.arg("-count_packets");
    }
    cmd.args([
        "-show_entries",
        "stream=width,height,r_frame_rate,avg_frame_rate,nb_read_packets,pix_fmt,color_range,color_space",
        "-of",
        "json",
    ])
    .arg(path);
    let out = cmd.output().map_err(|e| {
        format!("cannot run ffprobe ({e}): install ffmpeg (scripts/setup.sh does, or `apt install ffmpeg`)")
    })?;
    if !out.status.success() {
        return Err(format!(
            "ffprobe cannot read the video: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("ffprobe's answer is not JSON: {e}"))?;
    let s = v
        .get("streams")
        .and_then(|s| s.get(0))
        .ok_or("the file has no video stream")?;
    let dim = |k: &str| {
        s.get(k)
            .and_then(serde_json::Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("ffprobe gives no {k} for the video"))
    };
    let rate = |k: &str| -> Option<f64> {
        let r = s.get(k)?.as_str()?;
        let (n, d) = r.split_once('/').unwrap_or((r, "1"));
        let (n, d): (f64, f64) = (n.parse().ok()?, d.parse().ok()?);
        (n > 0.0 && d > 0.0).then_some(n / d)
    };
    let text = |k: &str| s.get(k).and_then(serde_json::Value::as_str).unwrap_or("");
    let (width, height) = (dim("width")?, dim("height")?);
    Ok(VideoInfo {
        width,
        height,
        wire: Wire::for_stream(
            text("pix_fmt"),
            text("color_range"),
            text("color_space"),
            width,
            height,
        ),
        fps: rate("r_frame_rate")
            .or_else(|| rate("avg_frame_rate"))
            .unwrap_or(25.0),
        frames: s
            .get("nb_read_packets")
            .and_then(|n| n.as_str()?.parse().ok()),
    })
}
