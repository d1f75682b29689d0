//! Frames of a task's data: images decoded in-process (PNG) or by ffmpeg,
//! videos decoded by the system ffmpeg (through `ffmpeg-sidecar`) and
//! streamed one frame at a time, never the whole video in memory. 8-bit
//! 4:2:0 video comes through the pipe as YUV (half the bytes of RGB) and is
//! converted here (`yuv`); anything else comes as ffmpeg's RGB.
//!
//! Frame indices: frame n of a video is the n-th decoded frame; frame n of
//! an image group is child n; an image has frame 0 only. Sampling seeks: a
//! run of wanted frames far from the previous one starts a new ffmpeg at a
//! point half a frame before the first of them, so the first frame it
//! returns is exactly that one.

use std::collections::VecDeque;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use ffmpeg_sidecar::child::FfmpegChild;
use ffmpeg_sidecar::command::FfmpegCommand;
use tokio::sync::mpsc;

use crate::platform::DataItem;

mod decode;
mod encode;
mod probe;
mod yuv;
pub use decode::decode_still;
use decode::*;
pub(crate) use encode::{bilinear_axis, bilinear_rgb};
pub use encode::{encode_image, EncodeOptions, ImageFormat};
pub use probe::{probe, Matrix, VideoInfo, Wire};
pub use yuv::yuv420_to_rgb;

/// One RGB8 frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub index: u32,
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

/// How many decoded frames may wait for the guest: enough to keep ffmpeg
/// busy while the guest works, few enough that memory does not grow with
/// the video.
const QUEUE: usize = 2;

/// The data's frames, as its kind allows.
#[derive(Debug, Clone)]
pub enum Frames {
    /// A single image file.
    Image(PathBuf),
    /// A video or image sequence file.
    Video(PathBuf),
    /// Image files in frame order (an image group).
    Stills(Vec<PathBuf>),
}

impl Frames {
    /// What frames `item` has, with its bytes at `file` (or, for a group,
    /// its children's at `children`). Errors name the kind that has none.
    pub fn of(
        item: &DataItem,
        file: Option<&Path>,
        children: &[PathBuf],
    ) -> Result<Frames, String> {
        let kind = item.item_type.as_str();
        match kind {
            "image" => Ok(Frames::Image(required(file, item)?)),
            "video" | "imageSequence" => Ok(Frames::Video(required(file, item)?)),
            "pdf" => Err("frames of a PDF are not supported".into()),
            "audio" => Err("frames of audio are not supported".into()),
            "plainText" => Err("frames of a text file are not supported".into()),
            "dicomFile" | "dicomSeries" | "nifti" => Err(format!(
                "frames of {kind} data are not supported yet: use the asset (its bytes) instead"
            )),
            _ if item.is_group() && children.is_empty() => {
                Err(format!("image group `{}` has no images", item.name))
            }
            _ if item.is_group() => Ok(Frames::Stills(children.to_vec())),
            other => Err(format!("frames of `{other}` items are not supported")),
        }
    }

    /// Frame 0.
    pub async fn first(&self) -> Result<Frame, String> {
        match self {
            Frames::Image(p) => decode_still_async(p.clone(), 0).await,
            Frames::Stills(list) => decode_still_async(list[0].clone(), 0).await,
            Frames::Video(_) => match self.sample(vec![0])?.next().await? {
                Some(f) => Ok(f),
                None => Err("the video has no frames".into()),
            },
        }
    }

    /// Every frame, in order.
    pub fn all(&self) -> Result<FrameStream, String> {
        match self {
            Frames::Video(p) => {
                let early = Early::start(p);
                let info = probe(p, false)?;
                FrameStream::video(p.clone(), info, vec![Segment::all()], early)
            }
            _ => Ok(FrameStream::stills(self.still_paths(), None)),
        }
    }

    /// These frames (sorted, without repeats), seeking where they are far
    /// apart.
    pub fn sample(&self, mut indices: Vec<u32>) -> Result<FrameStream, String> {
        indices.sort_unstable();
        indices.dedup();
        match self {
            Frames::Video(p) => {
                // The first run starts at frame 0 when its first frame is
                // that close (segments jump only over more than 30 frames).
                let early = match indices.first() {
                    Some(&i) if i <= MIN_GAP => Early::start(p),
                    _ => Early::none(),
                };
                let info = probe(p, false)?;
                let segments = plan_segments(&indices, info.fps);
                FrameStream::video(p.clone(), info, segments, early)
            }
            _ => {
                let paths = self.still_paths();
                if let Some(&last) = indices.last() {
                    if last as usize >= paths.len() {
                        return Err(format!(
                            "frame {last} is past the end ({} frames)",
                            paths.len()
                        ));
                    }
                }
                Ok(FrameStream::stills(paths, Some(indices)))
            }
        }
    }

    /// Frames `floor(k / rate)` below the frame count, `rate` in (0, 1].
    pub fn sample_rate(&self, rate: f64, frame_count: Option<u32>) -> Result<FrameStream, String> {
        check_rate(rate)?;
        let count = match (self, frame_count) {
            (Frames::Video(_), Some(n)) => n,
            (Frames::Video(p), None) => probe(p, true)?.frames.unwrap_or(0),
            _ => self.still_paths().len() as u32,
        };
        self.sample(rate_indices(rate, count))
    }

    fn still_paths(&self) -> Vec<PathBuf> {
        match self {
            Frames::Image(p) => vec![p.clone()],
            Frames::Stills(list) => list.clone(),
            Frames::Video(_) => vec![],
        }
    }
}

fn required(file: Option<&Path>, item: &DataItem) -> Result<PathBuf, String> {
    file.map(Path::to_path_buf)
        .ok_or_else(|| format!("`{}` has no media file", item.name))
}

/// A sampling rate must be in (0, 1].
pub fn check_rate(rate: f64) -> Result<(), String> {
    if rate.is_finite() && rate > 0.0 && rate <= 1.0 {
        Ok(())
    } else {
        Err(format!(
            "sample rate {rate} is outside (0, 1]: give a fraction of the frames, e.g. 0.5 for every other frame, or a list of frame indices"
        ))
    }
}

/// The frames a rate picks: `floor(k / rate)` for k = 0, 1, ... below `count`.
pub fn rate_indices(rate: f64, count: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut k = 0u64;
    loop {
        let i = (k as f64 / rate).floor();
        if i >= f64::from(count) {
            break;
        }
        out.push(i as u32);
        k += 1;
    }
    out
}

/// One ffmpeg run: start at frame `start` (seeking when above 0) and keep
/// the frames in `wanted` (all when `None`).
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub start: u32,
    pub wanted: Option<Vec<u32>>,
}

impl Segment {
    fn all() -> Segment {
        Segment {
            start: 0,
            wanted: None,
        }
    }
}

/// Frames closer than this to the last wanted one are always decoded
/// through, never sought.
const MIN_GAP: u32 = 30;

/// Splits sorted frame indices into ffmpeg runs: a gap longer than about
/// two seconds is cheaper to seek across than to decode through.
pub fn plan_segments(indices: &[u32], fps: f64) -> Vec<Segment> {
    let gap = ((fps * 2.0).ceil() as u32).max(MIN_GAP);
    let mut segments: Vec<Segment> = Vec::new();
    for &i in indices {
        match segments.last_mut() {
            Some(s)
                if i - s
                    .wanted
                    .as_ref()
                    .and_then(|w| w.last())
                    .copied()
                    .unwrap_or(s.start)
                    <= gap =>
            {
                s.wanted.get_or_insert_with(Vec::new).push(i)
            }
            _ => segments.push(Segment {
                start: if i <= gap { 0 } else { i },
                wanted: Some(vec![i]),
            }),
        }
    }
    segments
}

/// Frames delivered one at a time.
pub enum FrameStream {
    Video {
        rx: mpsc::Receiver<Result<Frame, String>>,
    },
    Stills {
        paths: Vec<PathBuf>,
        todo: VecDeque<u32>,
    },
}

impl std::fmt::Debug for FrameStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FrameStream")
    }
}

impl FrameStream {
    fn stills(paths: Vec<PathBuf>, indices: Option<Vec<u32>>) -> FrameStream {
        let todo = indices.unwrap_or_else(|| (0..paths.len() as u32).collect());
        FrameStream::Stills {
            paths,
            todo: todo.into(),
        }
    }

    /// Starts decoding `segments` of the video at `path` on a thread of its
    /// own; frames wait in a short queue until the guest takes them.
    fn video(
        path: PathBuf,
        info: VideoInfo,
        segments: Vec<Segment>,
        early: Early,
    ) -> Result<FrameStream, String> {
        let (tx, rx) = mpsc::channel(QUEUE);
        // Used by the first segment when it starts at frame 0 on the wire
        // the probe chose; else stopped.
        let mut early = early.on(info.wire);
        std::thread::Builder::new()
            .name("ffmpeg-frames".into())
            .spawn(move || {
                for seg in segments {
                    let started = if seg.start == 0 { early.0.take() } else { None };
                    stop(early.0.take());
                    match decode_segment(&path, &info, &seg, &tx, started) {
                        Ok(true) => {}
                        Ok(false) => return, // the reader went away
                        Err(e) => {
                            let _ = tx.blocking_send(Err(e));
                            return;
                        }
                    }
                }
            })
            .map_err(|e| format!("cannot start a decoder thread: {e}"))?;
        Ok(FrameStream::Video { rx })
    }

    /// The next frame; `None` after the last.
    pub async fn next(&mut self) -> Result<Option<Frame>, String> {
        match self {
            FrameStream::Video { rx } => rx.recv().await.transpose(),
            FrameStream::Stills { paths, todo } => match todo.pop_front() {
                None => Ok(None),
                Some(i) => {
                    let path = paths[i as usize].clone();
                    decode_still_async(path, i).await.map(Some)
                }
            },
        }
    }
}

/// Media files runner-host knows: (extension, MIME type, Encord item type).
/// The first extension of a MIME type is the one files get.
pub const MEDIA_TYPES: &[(&str, &str, &str)] = &[
    ("png", "image/png", "image"),
    ("jpg", "image/jpeg", "image"),
    ("jpeg", "image/jpeg", "image"),
    ("webp", "image/webp", "image"),
    ("mp4", "video/mp4", "video"),
    ("m4v", "video/mp4", "video"),
    ("webm", "video/webm", "video"),
    ("mov", "video/quicktime", "video"),
    ("mkv", "video/x-matroska", "video"),
    ("avi", "video/x-msvideo", "video"),
    ("y4m", "video/x-yuv4mpeg", "video"),
    ("pdf", "application/pdf", "pdf"),
    ("mp3", "audio/mpeg", "audio"),
    ("txt", "text/plain", "plainText"),
];

/// The file extension for a media type, as encord-agents picks it: from
/// the MIME type first, then the item's name, else `bin`.
pub fn extension(mime: Option<&str>, name: &str) -> String {
    let known = mime.and_then(|m| MEDIA_TYPES.iter().find(|(_, t, _)| *t == m));
    let from_name = || {
        Path::new(name)
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_lowercase)
    };
    let from_subtype = || {
        mime.and_then(|m| m.split('/').nth(1))
            .map(|sub| sub.trim_start_matches("x-").to_string())
    };
    known
        .map(|(e, _, _)| e.to_string())
        .or_else(from_name)
        .or_else(from_subtype)
        .filter(|e| !e.is_empty() && e.chars().all(|c| c.is_ascii_alphanumeric()))
        .unwrap_or_else(|| "bin".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuv_crosses_the_pipe_only_where_this_host_converts_as_ffmpeg_does() {
        let yuv601 = Wire::Yuv420(Matrix::Bt601);
        assert_eq!(Wire::for_stream("yuv420p", "", "", 1280, 720), yuv601);
        assert_eq!(
            Wire::for_stream("yuv420p", "tv", "smpte170m", 640, 480),
            yuv601
        );
        assert_eq!(
            Wire::for_stream("yuv420p", "tv", "bt709", 1920, 1080),
            Wire::Yuv420(Matrix::Bt709)
        );
        for (fmt, range, space, w, h) in [
            ("yuvj420p", "pc", "bt470bg", 640, 480), // JPEG: full range
            ("yuv420p", "pc", "bt709", 640, 480),
            ("yuv420p", "tv", "bt2020nc", 3840, 2160),
            ("yuv420p10le", "tv", "bt709", 1920, 1080),
            ("yuv444p", "tv", "bt709", 640, 480),
            ("yuv420p", "tv", "bt709", 161, 120), // odd width
            ("rgb24", "", "", 64, 64),
        ] {
            assert_eq!(
                Wire::for_stream(fmt, range, space, w, h),
                Wire::Rgb24,
                "{fmt} {range} {space} {w}x{h}"
            );
        }
    }

    /// A 10-frame clip of ffmpeg's `testsrc2`, encoded with `args`.
    fn clip(dir: &Path, name: &str, size: &str, args: &[&str]) -> PathBuf {
        let path = dir.join(name);
        let out = Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
            .arg(format!("testsrc2=size={size}:rate=25"))
            .args(["-frames:v", "10"])
            .args(args)
            .arg(&path)
            .output()
            .expect("ffmpeg runs (scripts/setup.sh installs it)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        path
    }

    /// Every frame as runner-host delivers it, concatenated.
    fn host_rgb(path: &Path) -> Vec<u8> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut stream = Frames::Video(path.to_path_buf()).all().unwrap();
            let mut all = Vec::new();
            let mut index = 0;
            while let Some(f) = stream.next().await.unwrap() {
                assert_eq!(f.index, index);
                assert_eq!(f.rgb.len(), (f.width * f.height * 3) as usize);
                all.extend_from_slice(&f.rgb);
                index += 1;
            }
            assert_eq!(index, 10);
            all
        })
    }

    /// Every frame as ffmpeg alone decodes it to RGB.
    fn ffmpeg_rgb(path: &Path) -> Vec<u8> {
        let out = Command::new("ffmpeg")
            .args(["-v", "error", "-i"])
            .arg(path)
            .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
            .output()
            .expect("ffmpeg runs");
        assert!(out.status.success());
        out.stdout
    }

    #[test]
    fn frames_are_ffmpegs_rgb_on_either_wire() {
        let dir = tempfile::tempdir().unwrap();
        // Converted here: within ffmpeg's own rounding of the same planes
        // (its fast converter is up to 3 levels off the exact BT.601/709
        // arithmetic, ours 1). A wrong matrix is ~9 levels off on average.
        for (name, args, matrix) in [
            (
                "601.mp4",
                &["-c:v", "libx264", "-pix_fmt", "yuv420p"][..],
                Matrix::Bt601,
            ),
            (
                "709.mp4",
                &[
                    "-c:v",
                    "libx264",
                    "-pix_fmt",
                    "yuv420p",
                    "-colorspace",
                    "bt709",
                ][..],
                Matrix::Bt709,
            ),
        ] {
            let path = clip(dir.path(), name, "320x240", args);
            assert_eq!(probe(&path, false).unwrap().wire, Wire::Yuv420(matrix));
            let (ours, theirs) = (host_rgb(&path), ffmpeg_rgb(&path));
            assert_eq!(ours.len(), theirs.len());
            let diffs: Vec<u8> = ours
                .iter()
                .zip(&theirs)
                .map(|(a, b)| a.abs_diff(*b))
                .collect();
            let mean = diffs.iter().map(|&d| f64::from(d)).sum::<f64>() / diffs.len() as f64;
            let worst = diffs.iter().max().copied().unwrap_or(0);
            assert!(
                mean < 1.0,
                "{name}: mean difference {mean} from ffmpeg's RGB"
            );
            assert!(worst <= 4, "{name}: a value {worst} levels off ffmpeg's");
        }
        // Converted by ffmpeg: exactly its RGB.
        for (name, size, args) in [
            (
                "444.mp4",
                "320x240",
                &["-c:v", "libx264", "-pix_fmt", "yuv444p"][..],
            ),
            // Odd dimensions (testsrc2 rounds its size down to even).
            (
                "odd.mkv",
                "320x240",
                &[
                    "-vf",
                    "scale=161:121",
                    "-c:v",
                    "ffv1",
                    "-pix_fmt",
                    "yuv420p",
                ][..],
            ),
        ] {
            let path = clip(dir.path(), name, size, args);
            assert_eq!(probe(&path, false).unwrap().wire, Wire::Rgb24, "{name}");
            assert!(
                host_rgb(&path) == ffmpeg_rgb(&path),
                "{name} differs from ffmpeg's RGB"
            );
        }
    }

    #[test]
    fn rates_pick_floor_k_over_rate() {
        assert_eq!(rate_indices(0.5, 7), vec![0, 2, 4, 6]);
        assert_eq!(rate_indices(1.0, 3), vec![0, 1, 2]);
        assert_eq!(rate_indices(0.3, 10), vec![0, 3, 6]);
        assert!(check_rate(0.0).is_err());
        assert!(check_rate(1.5).is_err());
        assert!(check_rate(f64::NAN).is_err());
        assert!(check_rate(1.0).is_ok());
    }

    #[test]
    fn far_frames_get_their_own_segment() {
        let s = plan_segments(&[0, 5, 200, 210, 1000], 25.0);
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].start, 0);
        assert_eq!(s[1].start, 200);
        assert_eq!(s[1].wanted, Some(vec![200, 210]));
        assert_eq!(s[2].start, 1000);
    }

    #[test]
    fn extensions_follow_the_mime_type() {
        assert_eq!(extension(Some("image/jpeg"), "a.jpeg"), "jpg");
        assert_eq!(extension(Some("video/mp4"), "clip"), "mp4");
        assert_eq!(extension(Some("video/x-yuv4mpeg"), "walk.y4m"), "y4m");
        assert_eq!(extension(None, "scan.PNG"), "png");
        assert_eq!(extension(None, "noext"), "bin");
    }
}
