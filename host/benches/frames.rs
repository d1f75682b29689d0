//! Frames delivered into a guest, against ffmpeg alone.
//!
//! `scripts/bench-frames.sh` builds the guest and runs this. For a 720p and a
//! 1080p H.264 clip (made here with ffmpeg's `testsrc2`), it prints:
//! - ffmpeg alone: `ffmpeg -i clip -f rawvideo -pix_fmt rgb24 -y /dev/null`,
//!   frames per second (wall time);
//! - runner-host: the `touch` guest takes every frame through the
//!   `VideoFrames` iterator and reads every byte, frames per second, and the
//!   ratio to ffmpeg alone;
//! - the host process's peak RSS during the guest run, for the clip and for
//!   one three times longer (it should not grow with the video's length).
//! - the host's YUV 4:2:0 to RGB conversion alone, per 1080p frame (8-bit
//!   4:2:0 video crosses the pipe from ffmpeg as YUV; see `media::yuv`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use runner_host::engine::{
    CallContext, LoadedAgent, ProjectContext, Sandbox, StageContext, TaskData,
};
use runner_host::platform::DataItem;

fn make_clip(dir: &Path, name: &str, size: &str, frames: u32) -> PathBuf {
    let path = dir.join(name);
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc2=size={size}:rate=30"))
        .args(["-frames:v", &frames.to_string(), "-pix_fmt", "yuv420p"])
        .args(["-c:v", "libx264", "-preset", "veryfast", "-g", "60"])
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

/// Best of `runs` wall times of ffmpeg decoding to raw RGB into /dev/null.
fn ffmpeg_alone(clip: &Path, runs: usize) -> f64 {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            let ok = Command::new("ffmpeg")
                .args(["-v", "error", "-nostdin", "-i"])
                .arg(clip)
                .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-y", "/dev/null"])
                .status()
                .expect("ffmpeg runs")
                .success();
            assert!(ok);
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// Resets the peak-RSS mark of this process (Linux `clear_refs`).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Peak RSS of this process since the last reset, in MiB.
fn peak_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Best of `runs` wall times of the guest taking every frame; and the peak
/// RSS of the last run.
async fn through_guest(agent: &LoadedAgent, clip: &Path, frames: u32, runs: usize) -> (f64, f64) {
    let project = Arc::new(ProjectContext {
        project_hash: "00000000-0000-4000-8000-000000000000".into(),
        title: "bench".into(),
        description: String::new(),
        ontology_hash: String::new(),
        ontology_json: r#"{"objects": [], "classifications": []}"#.into(),
    });
    let stage = Arc::new(StageContext {
        uuid: "s".into(),
        title: "pre-label".into(),
        pathways: vec![],
    });
    let item = DataItem {
        uuid: "i".into(),
        name: clip.file_name().unwrap().to_string_lossy().into(),
        item_type: "video".into(),
        mime_type: Some("video/mp4".into()),
        file_size: None,
        width: None,
        height: None,
        fps: Some(30.0),
        duration: None,
        frame_count: Some(frames),
        client_metadata: "{}".into(),
        media: None,
        children: vec![],
    };
    let data = Arc::new(TaskData {
        item,
        file: Some(clip.to_path_buf()),
        children: vec![],
        asset: false,
        frames: true,
    });
    let mut best = f64::INFINITY;
    let mut peak = 0.0;
    for _ in 0..runs {
        let task = runner_host::platform::Task {
            uuid: "t".into(),
            data_hash: "d".into(),
            data_title: "clip".into(),
            label_branch_name: "main".into(),
            status: "NEW".into(),
            ..Default::default()
        };
        let cx = CallContext {
            stage: Some(stage.clone()),
            task: Some(Arc::new(task)),
            data: Some(data.clone()),
            ..CallContext::new(project.clone())
        };
        reset_peak();
        let t = Instant::now();
        agent
            .run(cx, "pre-label")
            .await
            .outcome
            .expect("the touch guest runs");
        best = best.min(t.elapsed().as_secs_f64());
        peak = peak_mib();
    }
    (best, peak)
}

/// The host's 4:2:0-to-RGB conversion alone: best of 200 conversions of a
/// 1080p frame (already in memory; the output is new memory each time, as
/// for frames delivered to a guest).
fn conversion_speed() -> String {
    use runner_host::media::{yuv420_to_rgb, Matrix};
    let (w, h) = (1920u32, 1080u32);
    let frame: Vec<u8> = (0..w * h * 3 / 2).map(|i| (i * 7 % 251) as u8).collect();
    let mut best = f64::INFINITY;
    for _ in 0..200 {
        let t = Instant::now();
        let rgb = yuv420_to_rgb(&frame, w, h, Matrix::Bt709).expect("converts");
        best = best.min(t.elapsed().as_secs_f64());
        std::hint::black_box(rgb);
    }
    format!(
        "YUV 4:2:0 -> RGB in the host: {:.2} ms per 1080p frame",
        best * 1e3
    )
}

#[tokio::main]
async fn main() {
    let wasm = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/guests/wasm32-wasip2/guest/guest_touch.wasm"
    ));
    assert!(
        wasm.exists(),
        "build the guest first: scripts/build-guests.sh guest-touch"
    );
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let frames: u32 = std::env::var("BENCH_FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let dir = tempfile::tempdir().expect("temp dir");
    let agent = LoadedAgent::load(&wasm, &Sandbox::default()).expect("the guest loads");
    println!(
        "{frames}-frame H.264 clips (testsrc2, 30 fps); best of {runs} runs; {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{:<8} {:>14} {:>18} {:>7} {:>16} {:>20}",
        "clip", "ffmpeg fps", "guest fps", "ratio", "host peak RSS", "peak RSS, 3x longer"
    );
    for (name, size) in [("720p", "1280x720"), ("1080p", "1920x1080")] {
        let clip = make_clip(dir.path(), &format!("{name}.mp4"), size, frames);
        let long = make_clip(dir.path(), &format!("{name}-long.mp4"), size, frames * 3);
        let alone = ffmpeg_alone(&clip, runs);
        let (guest, peak) = through_guest(&agent, &clip, frames, runs).await;
        let (_, peak_long) = through_guest(&agent, &long, frames * 3, 1).await;
        let (f_fps, g_fps) = (f64::from(frames) / alone, f64::from(frames) / guest);
        println!(
            "{:<8} {:>14.1} {:>18.1} {:>6.0}% {:>12.0} MiB {:>16.0} MiB",
            name,
            f_fps,
            g_fps,
            100.0 * g_fps / f_fps,
            peak,
            peak_long
        );
    }
    // Last: its frames would otherwise count in the peak RSS above.
    println!("{}", conversion_speed());
}
