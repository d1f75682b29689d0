use std::io::IsTerminal;

use clap::Parser;
use indicatif::MultiProgress;
use runner_host::cli::{self, Cli, LogFormat};
use runner_host::progress::BarWriter;
use tracing_subscriber::EnvFilter;

fn main() {
    let cli = Cli::parse();
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // The NATS client's connection chatter, unless asked for by name.
    if !std::env::var("RUST_LOG").is_ok_and(|v| v.contains("async_nats")) {
        if let Ok(quiet) = "async_nats=warn".parse() {
            filter = filter.add_directive(quiet);
        }
    }
    let terminal = std::io::stderr().is_terminal();
    // Bars on a terminal with text logs; plain log lines otherwise.
    let bars = (terminal && matches!(cli.log_format, LogFormat::Text)).then(MultiProgress::new);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(terminal);
    match (cli.log_format, &bars) {
        (LogFormat::Json, _) => builder.json().with_writer(std::io::stderr).init(),
        (LogFormat::Text, Some(multi)) => {
            let multi = multi.clone();
            builder.with_writer(move || BarWriter(multi.clone())).init()
        }
        (LogFormat::Text, None) => builder.with_writer(std::io::stderr).init(),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = match runtime.block_on(cli::main(cli, bars)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    };
    std::process::exit(code);
}
