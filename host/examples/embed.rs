//! Embedding runner-host in a program: the library's `Runner::builder()`
//! takes the CLI's options.
//!
//! ```sh
//! scripts/build-guests.sh prelabel
//! cargo run -p runner-host --example embed -- target/guests/wasm32-wasip2/guest/prelabel.wasm /tmp/embed-store
//! ```

use runner_host::local;
use runner_host::runner::Runner;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let component = args
        .next()
        .unwrap_or_else(|| "target/guests/wasm32-wasip2/guest/prelabel.wasm".into());
    let store = args.next().unwrap_or_else(|| "embed-store".into());

    // A fresh demo project to run on.
    let project_hash = local::create_demo(std::path::Path::new(&store), 22, true)?;

    let runner = Runner::builder()
        .component(component)
        .store(&store)
        .project_hash(&project_hash)
        .task_batch_size(10)
        .concurrency(2)
        .build()?;
    // A service would keep this to stop the runner cleanly on shutdown.
    let _stop = runner.stop_handle();
    let summary = runner.run().await?;
    print!("{summary}");
    Ok(())
}
