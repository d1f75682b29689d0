//! Decoding: ffmpeg processes started at a segment's first frame and read
//! frame by frame (YUV converted here, RGB as ffmpeg made it), and stills
//! (PNG in-process, anything else through ffmpeg).

use super::*;

/// Starts ffmpeg decoding `path` from frame `start` (seeking when above 0,
/// at `fps`) into raw `pix_fmt` frames on its stdout.
pub(super) fn spawn_ffmpeg(
    path: &Path,
    start: u32,
    fps: f64,
    pix_fmt: &str,
) -> Result<FfmpegChild, String> {
    let mut cmd = FfmpegCommand::new();
    cmd.args(["-hide_banner", "-nostdin", "-nostats", "-loglevel", "error"]);
    cmd.arg("-noautorotate");
    if start > 0 {
        // Half a frame before `start`: the first frame at or after that
        // time is exactly frame `start` (ffmpeg seeks accurately, decoding
        // from the keyframe before and dropping what precedes).
        let at = (f64::from(start) - 0.5) / fps;
        cmd.args(["-ss", &format!("{at:.6}")]);
    }
    cmd.arg("-i").arg(path);
    cmd.args([
        "-map",
        "0:v:0",
        "-fps_mode",
        "passthrough",
        "-f",
        "rawvideo",
        "-pix_fmt",
        pix_fmt,
        "pipe:1",
    ]);
    cmd.spawn()
        .map_err(|e| format!("cannot run ffmpeg ({e}): install ffmpeg (scripts/setup.sh does, or `apt install ffmpeg`)"))
}

/// Stops an ffmpeg that is not wanted any more (and reaps it).
pub(super) fn stop(child: Option<FfmpegChild>) {
    if let Some(mut c) = child {
        let _ = c.kill();
        let _ = c.wait();
    }
}

/// An ffmpeg started from frame 0 on the YUV wire before ffprobe answers,
/// betting on the common case (8-bit 4:2:0 video): each takes ~0.1 s to
/// start (loading ffmpeg's libraries), and they start side by side. Where
/// the probe says otherwise, it is stopped and a new one starts on RGB.
pub(super) struct Early(pub(super) Option<FfmpegChild>);

impl Early {
    pub(super) fn none() -> Early {
        Early(None)
    }

    pub(super) fn start(path: &Path) -> Early {
        // The fps only matters when seeking; this one starts at frame 0.
        Early(spawn_ffmpeg(path, 0, 0.0, "yuv420p").ok())
    }

    /// Kept if it decodes on `wire`; else stopped.
    pub(super) fn on(mut self, wire: Wire) -> Early {
        if wire == Wire::Rgb24 {
            stop(self.0.take());
        }
        self
    }
}

impl Drop for Early {
    fn drop(&mut self) {
        stop(self.0.take());
    }
}

/// Runs one ffmpeg over a segment (or takes over `started`, an ffmpeg on
/// this segment's wire from frame 0). `Ok(false)`: the receiver is gone.
pub(super) fn decode_segment(
    path: &Path,
    info: &VideoInfo,
    seg: &Segment,
    tx: &mpsc::Sender<Result<Frame, String>>,
    started: Option<FfmpegChild>,
) -> Result<bool, String> {
    let (pix_fmt, size) = info.wire.format(info.width, info.height);
    let mut child = match started {
        Some(child) => child,
        None => spawn_ffmpeg(path, seg.start, info.fps, pix_fmt)?,
    };
    let mut stdout = child.take_stdout().ok_or("ffmpeg has no stdout")?;
    widen_pipe(&stdout, size);
    // Keep the tail of stderr to explain a failure, without ever blocking ffmpeg.
    let stderr = child.take_stderr();
    let errors = std::thread::spawn(move || {
        let mut tail = Vec::new();
        if let Some(mut e) = stderr {
            let mut buf = [0u8; 4096];
            while let Ok(n) = e.read(&mut buf) {
                if n == 0 {
                    break;
                }
                tail.extend_from_slice(&buf[..n]);
                if tail.len() > 8192 {
                    tail.drain(..tail.len() - 4096);
                }
            }
        }
        String::from_utf8_lossy(&tail).trim().to_string()
    });
    let mut wanted: VecDeque<u32> = seg.wanted.clone().unwrap_or_default().into();
    let all = seg.wanted.is_none();
    let mut index = seg.start;
    let mut alive = true;
    let mut yuv = Vec::with_capacity(match info.wire {
        Wire::Rgb24 => 0,
        Wire::Yuv420(_) => size,
    });
    loop {
        if !all && wanted.is_empty() {
            break;
        }
        // RGB is read straight into the frame; YUV into a buffer kept
        // across frames, converted only for frames that are kept.
        let mut rgb = Vec::new();
        let buf = match info.wire {
            Wire::Rgb24 => {
                rgb.reserve_exact(size);
                &mut rgb
            }
            Wire::Yuv420(_) => {
                yuv.clear();
                &mut yuv
            }
        };
        match read_frame(&mut stdout, buf, size) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                stop(Some(child));
                return Err(format!("reading frames from ffmpeg failed: {e}"));
            }
        }
        let keep = all || wanted.front() == Some(&index);
        if keep {
            wanted.pop_front();
            if let Wire::Yuv420(matrix) = info.wire {
                rgb = match yuv420_to_rgb(&yuv, info.width, info.height, matrix) {
                    Ok(rgb) => rgb,
                    Err(e) => {
                        stop(Some(child));
                        return Err(e);
                    }
                };
            }
            let frame = Frame {
                index,
                width: info.width,
                height: info.height,
                rgb,
            };
            if tx.blocking_send(Ok(frame)).is_err() {
                alive = false;
                break;
            }
        }
        index += 1;
    }
    let _ = child.kill();
    let status = child.wait();
    let stderr = errors.join().unwrap_or_default();
    if !alive {
        return Ok(false);
    }
    if let Some(missing) = wanted.front() {
        if index == seg.start && !stderr.is_empty() {
            return Err(format!("ffmpeg cannot decode the video: {stderr}"));
        }
        return Err(if seg.start == 0 {
            format!("frame {missing} is past the end of the video ({index} frames)")
        } else {
            format!("frame {missing} is past the end of the video")
        });
    }
    if all && !matches!(status, Ok(s) if s.success()) && !stderr.is_empty() {
        return Err(format!("ffmpeg failed decoding the video: {stderr}"));
    }
    Ok(true)
}

/// Reads one frame of `size` bytes into `buf` (its spare capacity, never
/// zeroed first); `Ok(false)` at a clean end of stream before any byte.
pub(super) fn read_frame(
    r: &mut impl Read,
    buf: &mut Vec<u8>,
    size: usize,
) -> std::io::Result<bool> {
    let got = r.take(size as u64).read_to_end(buf)?;
    match got {
        0 => Ok(false),
        n if n == size => Ok(true),
        _ => Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "a frame was cut short",
        )),
    }
}

/// Frames are megabytes: a pipe that holds a whole frame (up to 16 MiB)
/// lets ffmpeg write it while the guest works on the one before; where that
/// is over the system's cap (`/proc/sys/fs/pipe-max-size`, 1 MiB unless
/// raised), 1 MiB still cuts the context switches per frame by 16.
#[cfg(target_os = "linux")]
pub(super) fn widen_pipe(pipe: &std::process::ChildStdout, frame: usize) {
    use std::os::fd::AsRawFd;
    let whole = frame.next_power_of_two().clamp(1 << 20, 16 << 20);
    for size in [whole, 1 << 20] {
        // SAFETY: F_SETPIPE_SZ on a pipe we own; failure leaves the size as it was.
        if unsafe { libc::fcntl(pipe.as_raw_fd(), libc::F_SETPIPE_SZ, size as libc::c_int) } >= 0 {
            return;
        }
    }
}

#[cfg(not(target_os = "linux"))]
pub(super) fn widen_pipe(_pipe: &std::process::ChildStdout, _frame: usize) {}

pub(super) async fn decode_still_async(path: PathBuf, index: u32) -> Result<Frame, String> {
    tokio::task::spawn_blocking(move || decode_still(&path, index))
        .await
        .map_err(|e| format!("decoding an image failed: {e}"))?
}

/// Decodes one image: PNG in-process, anything else with ffmpeg.
pub fn decode_still(path: &Path, index: u32) -> Result<Frame, String> {
    let mut magic = [0u8; 8];
    let is_png = std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == *b"\x89PNG\r\n\x1a\n";
    if is_png {
        return decode_png(path, index);
    }
    let info = probe(path, false)?;
    let (tx, mut rx) = mpsc::channel(1);
    let seg = Segment {
        start: 0,
        wanted: Some(vec![0]),
    };
    decode_segment(path, &info, &seg, &tx, None)?;
    drop(tx);
    match rx.try_recv() {
        Ok(f) => f.map(|f| Frame { index, ..f }),
        Err(_) => Err("the image has no frame".into()),
    }
}

pub(super) fn decode_png(path: &Path, index: u32) -> Result<Frame, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read the image: {e}"))?;
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder
        .read_info()
        .map_err(|e| format!("the PNG is invalid: {e}"))?;
    let mut buf = vec![0u8; reader.output_buffer_size()];
    let info = reader
        .next_frame(&mut buf)
        .map_err(|e| format!("the PNG is invalid: {e}"))?;
    let px = info.width as usize * info.height as usize;
    let rgb = match info.color_type {
        png::ColorType::Rgb => {
            buf.truncate(px * 3);
            buf
        }
        png::ColorType::Rgba => buf[..px * 4]
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect(),
        png::ColorType::Grayscale => buf[..px].iter().flat_map(|&g| [g, g, g]).collect(),
        png::ColorType::GrayscaleAlpha => buf[..px * 2]
            .chunks_exact(2)
            .flat_map(|p| [p[0], p[0], p[0]])
            .collect(),
        png::ColorType::Indexed => return Err("the PNG's palette was not expanded".into()),
    };
    Ok(Frame {
        index,
        width: info.width,
        height: info.height,
        rgb,
    })
}
