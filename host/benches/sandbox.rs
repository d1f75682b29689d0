//! Per-task overhead of the sandbox and start-up cost, on a trivial agent.
//!
//! `scripts/bench-sandbox.sh` builds the agent and runs this; it prints:
//! - fresh instance + one call, p50 / p99, with limits (epoch interruption,
//!   memory limiter, pooling allocator) and without (no epoch, on demand);
//! - a kept instance + one call (`--reuse-instance 100`), p50 / p99;
//! - start to the first task: cold (compile) and cached (load compiled code).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use runner_host::engine::{CallContext, LoadedAgent, ProjectContext, Sandbox, StageContext};
use runner_host::platform::Task;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn project() -> Arc<ProjectContext> {
    Arc::new(ProjectContext {
        project_hash: "00000000-0000-4000-8000-000000000000".into(),
        title: "bench".into(),
        description: String::new(),
        ontology_hash: String::new(),
        ontology_json: r#"{"objects": [], "classifications": []}"#.into(),
    })
}

fn task() -> Arc<Task> {
    Arc::new(Task {
        uuid: "t".into(),
        data_hash: "d".into(),
        data_title: "bench.png".into(),
        label_branch_name: "main".into(),
        status: "NEW".into(),
        ..Task::default()
    })
}

async fn one_task(agent: &LoadedAgent, stage: &Arc<StageContext>) {
    let cx = CallContext {
        stage: Some(stage.clone()),
        task: Some(task()),
        ..CallContext::new(project())
    };
    agent
        .run(cx, "pre-label")
        .await
        .outcome
        .expect("the trivial agent runs");
}

async fn per_task(wasm: &Path, sandbox: &Sandbox, n: usize) -> (Duration, Duration) {
    let agent = LoadedAgent::load(wasm, sandbox).expect("loads");
    let stage = Arc::new(StageContext {
        uuid: "s".into(),
        title: "pre-label".into(),
        pathways: vec![],
    });
    for _ in 0..200 {
        one_task(&agent, &stage).await;
    }
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        one_task(&agent, &stage).await;
        times.push(t.elapsed());
    }
    times.sort();
    (percentile(&times, 0.5), percentile(&times, 0.99))
}

async fn start_to_first_task(wasm: &Path, sandbox: &Sandbox) -> Duration {
    let stage = Arc::new(StageContext {
        uuid: "s".into(),
        title: "pre-label".into(),
        pathways: vec![],
    });
    let t = Instant::now();
    let agent = LoadedAgent::load(wasm, sandbox).expect("loads");
    one_task(&agent, &stage).await;
    t.elapsed()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let wasm = std::env::var_os("BENCH_COMPONENT")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../target/guests/wasm32-wasip2/guest/guest_trivial.wasm"
            ))
        });
    assert!(
        wasm.exists(),
        "build the agent first: scripts/build-guests.sh guest-trivial"
    );
    let n: usize = std::env::var("BENCH_TASKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);

    let limited = Sandbox {
        instances: 4,
        ..Sandbox::default()
    };
    let unlimited = Sandbox {
        instances: 0,
        interruptible: false,
        ..Sandbox::default()
    };
    println!(
        "component: {} ({} bytes), {n} tasks each",
        wasm.display(),
        std::fs::metadata(&wasm).map(|m| m.len()).unwrap_or(0)
    );
    println!(
        "{:<58} {:>10} {:>10}",
        "fresh instance + call of a trivial agent", "p50", "p99"
    );
    let (p50, p99) = per_task(&wasm, &limited, n).await;
    println!(
        "{:<58} {:>8.1}µs {:>8.1}µs",
        "with limits (epoch, memory limiter, pooling)",
        p50.as_secs_f64() * 1e6,
        p99.as_secs_f64() * 1e6
    );
    let (p50, p99) = per_task(&wasm, &unlimited, n).await;
    println!(
        "{:<58} {:>8.1}µs {:>8.1}µs",
        "without limits (no epoch, on-demand allocation)",
        p50.as_secs_f64() * 1e6,
        p99.as_secs_f64() * 1e6
    );
    let reusing = Sandbox {
        reuse: 100,
        ..limited.clone()
    };
    let (p50, p99) = per_task(&wasm, &reusing, n).await;
    println!(
        "{:<58} {:>8.1}µs {:>8.1}µs",
        "kept instance + call, with limits (--reuse-instance 100)",
        p50.as_secs_f64() * 1e6,
        p99.as_secs_f64() * 1e6
    );

    let cache =
        std::env::temp_dir().join(format!("runner-host-bench-cache-{}", std::process::id()));
    let cold = start_to_first_task(
        &wasm,
        &Sandbox {
            cache_dir: None,
            ..limited.clone()
        },
    )
    .await;
    // Fill the cache, then measure a start that finds it warm.
    let _ = start_to_first_task(
        &wasm,
        &Sandbox {
            cache_dir: Some(cache.clone()),
            ..limited.clone()
        },
    )
    .await;
    let mut cached = Vec::new();
    for _ in 0..5 {
        cached.push(
            start_to_first_task(
                &wasm,
                &Sandbox {
                    cache_dir: Some(cache.clone()),
                    ..limited.clone()
                },
            )
            .await,
        );
    }
    cached.sort();
    println!(
        "{:<58} {:>8.1}ms",
        "start to first task, cold (compile)",
        cold.as_secs_f64() * 1e3
    );
    println!(
        "{:<58} {:>8.1}ms",
        "start to first task, cached (median of 5)",
        cached[2].as_secs_f64() * 1e3
    );
    let _ = std::fs::remove_dir_all(&cache);
}
