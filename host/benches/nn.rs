//! The PP-OCRv4 text detector on a 640×480 image: native ONNX Runtime from
//! Rust against the same model run by an agent through wasi:nn.
//!
//! `scripts/bench-nn.sh` builds the `text-regions` guest and runs this. Per
//! thread count (1 and 2), images per second of:
//! - native: PNG decode, the frame to a normalised tensor, an `ort` session
//!   run (same session options as the host's), the probability map to
//!   regions — the same helpers the host serves, called directly;
//! - agent: the `text-regions` component in a fresh instance per image
//!   (frame from the host, `frame-tensor`, `compute`, `probability-regions`,
//!   a label row edited and serialised), in this process;
//!
//! and the ratio agent ÷ native. The two alternate image by image, and
//! each rate is one over the median time per image.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use ort::session::Session;
use runner_host::engine::{
    CallContext, Grants, LoadedAgent, ProjectContext, Sandbox, StageContext, TaskData,
};
use runner_host::local::text_image::{render, TEXT_HEIGHT, TEXT_IMAGES, TEXT_WIDTH};
use runner_host::nn::vision::{self, Layout, RegionOptions, Resize, TensorOptions};
use runner_host::nn::{ModelGrant, Models};
use runner_host::platform::DataItem;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn write_png(path: &std::path::Path, rgb: &[u8]) {
    let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut enc = png::Encoder::new(file, TEXT_WIDTH, TEXT_HEIGHT);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut w = enc.write_header().unwrap();
    w.write_image_data(rgb).unwrap();
    w.finish().unwrap();
}

fn decode_png(path: &std::path::Path) -> (u32, u32, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

const OPTIONS: TensorOptions = TensorOptions {
    width: 640,
    height: 480,
    resize: Resize::Stretch,
    layout: Layout::Nchw,
    bgr: false,
    mean: [0.5; 3],
    std: [0.5; 3],
    pad: 0.0,
};

const REGIONS: RegionOptions = RegionOptions {
    threshold: 0.3,
    box_threshold: 0.6,
    unclip_ratio: 1.5,
    min_side: 3.0,
    max_regions: 1000,
};

struct Native {
    session: Session,
    image: PathBuf,
}

impl Native {
    fn new(model: &std::path::Path, image: &std::path::Path, threads: usize) -> Native {
        let session = Session::builder()
            .unwrap()
            .with_intra_threads(threads)
            .unwrap()
            .with_inter_threads(1)
            .unwrap()
            .with_intra_op_spinning(false)
            .unwrap()
            .commit_from_file(model)
            .unwrap();
        Native {
            session,
            image: image.to_path_buf(),
        }
    }

    /// One image: decode, tensor, inference, regions. Returns the regions.
    fn once(&mut self) -> usize {
        let (w, h, rgb) = decode_png(&self.image);
        let (values, placement) = vision::frame_tensor(w, h, &rgb, &OPTIONS).unwrap();
        let input = ort::value::Tensor::from_array(([1usize, 3, 480, 640], values)).unwrap();
        let outputs = self.session.run(ort::inputs!["x" => input]).unwrap();
        let (shape, map) = outputs[0].try_extract_tensor::<f32>().unwrap();
        let (mh, mw) = (shape[2] as usize, shape[3] as usize);
        vision::probability_regions(map, mw, mh, &placement, &REGIONS)
            .unwrap()
            .len()
    }
}

/// The text-regions component, a fresh instance per image.
struct Agent {
    agent: LoadedAgent,
    project: Arc<ProjectContext>,
    stage: Arc<StageContext>,
    data: Arc<TaskData>,
    row: Arc<str>,
}

impl Agent {
    fn new(wasm: &std::path::Path, models: Arc<Models>, image: &std::path::Path) -> Agent {
        let sandbox = Sandbox {
            grants: Grants {
                models: Some(models),
                ..Grants::default()
            },
            ..Sandbox::default()
        };
        let agent = LoadedAgent::load(wasm, &sandbox).expect("text-regions loads");
        let project = Arc::new(ProjectContext {
            project_hash: "00000000-0000-4000-8000-000000000000".into(),
            title: "bench".into(),
            description: String::new(),
            ontology_hash: String::new(),
            ontology_json: include_str!("../../examples/demo-ontology.json").into(),
        });
        let stage = Arc::new(StageContext {
            uuid: "s".into(),
            title: "pre-label".into(),
            pathways: vec![],
        });
        let data = Arc::new(TaskData {
            item: DataItem {
                uuid: "i".into(),
                name: "text-01.png".into(),
                item_type: "image".into(),
                mime_type: Some("image/png".into()),
                file_size: None,
                width: Some(TEXT_WIDTH),
                height: Some(TEXT_HEIGHT),
                fps: None,
                duration: None,
                frame_count: Some(1),
                client_metadata: "{}".into(),
                media: None,
                children: vec![],
            },
            file: Some(image.to_path_buf()),
            children: vec![],
            asset: false,
            frames: true,
        });
        let row: Arc<str> = Arc::from(
            serde_json::json!({
                "data_hash": "d", "data_title": "text-01.png", "data_type": "image",
                "object_answers": {}, "classification_answers": {}, "object_actions": {},
                "data_units": {"d": {"data_hash": "d", "data_type": "image/png", "data_sequence": 0,
                    "width": TEXT_WIDTH, "height": TEXT_HEIGHT,
                    "labels": {"objects": [], "classifications": []}}}
            })
            .to_string(),
        );
        Agent {
            agent,
            project,
            stage,
            data,
            row,
        }
    }

    /// One task: returns the Region objects the agent wrote.
    async fn once(&self) -> usize {
        let task = runner_host::platform::Task {
            uuid: "t".into(),
            data_hash: "d".into(),
            data_title: "text-01.png".into(),
            label_branch_name: "main".into(),
            status: "NEW".into(),
            ..Default::default()
        };
        let cx = CallContext {
            stage: Some(self.stage.clone()),
            task: Some(Arc::new(task)),
            data: Some(self.data.clone()),
            label_row: Some(self.row.clone()),
            ..CallContext::new(self.project.clone())
        };
        let out = self
            .agent
            .run(cx, "pre-label")
            .await
            .outcome
            .expect("text-regions runs");
        let saved = out.label_row.expect("a label row");
        saved.matches("\"Region\"").count()
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let wasm = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/guests/wasm32-wasip2/guest/text_regions.wasm"
    ));
    assert!(
        wasm.exists(),
        "build the guest first: scripts/build-guests.sh text-regions"
    );
    let cache = runner_host::nn::runtime::cache_dir().expect("a cache directory");
    let model = cache.join("models/ch_PP-OCRv4_det_infer.onnx");
    assert!(
        model.exists(),
        "{} is missing: run scripts/setup.sh",
        model.display()
    );
    let library = runner_host::nn::runtime::locate(None).expect("ONNX Runtime (scripts/setup.sh)");
    let n: usize = env_or("BENCH_IMAGES", 30);
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("text-01.png");
    write_png(&image, &render(TEXT_IMAGES[0].1));
    let grant = ModelGrant::parse(&format!("text-detector={}", model.display())).unwrap();
    println!(
        "PP-OCRv4 detector, 640×480 image; {n} images each, native and agent interleaved, medians; {} cores",
        std::thread::available_parallelism().map_or(0, |c| c.get())
    );
    println!(
        "{:<8} {:>14} {:>14} {:>8} {:>16}",
        "threads", "native img/s", "agent img/s", "ratio", "regions (n / a)"
    );
    for threads in [1usize, 2] {
        let models =
            Arc::new(Models::load(std::slice::from_ref(&grant), &library, threads).unwrap());
        let mut native = Native::new(&model, &image, threads);
        let agent = Agent::new(&wasm, models, &image);
        let (mut native_found, mut agent_found) = (native.once(), agent.once().await);
        let (mut nt, mut at) = (Vec::new(), Vec::new());
        // Interleaved, one image each, so that both see the same machine.
        for _ in 0..n {
            let t = Instant::now();
            native_found = native.once();
            nt.push(t.elapsed().as_secs_f64());
            let t = Instant::now();
            agent_found = agent.once().await;
            at.push(t.elapsed().as_secs_f64());
        }
        let (native_rate, agent_rate) = (1.0 / median(nt), 1.0 / median(at));
        println!(
            "{:<8} {:>14.2} {:>14.2} {:>7.1}% {:>16}",
            threads,
            native_rate,
            agent_rate,
            100.0 * agent_rate / native_rate,
            format!("{native_found} / {agent_found}")
        );
    }
}
