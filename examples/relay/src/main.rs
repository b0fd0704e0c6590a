//! Canopy's relay. Run it:
//!
//! ```sh
//! cargo run -p canopy-relay                      # local only: viewer at http://127.0.0.1:4318/
//! HONEYCOMB_API_KEY=... CANOPY_ALLOWED_ORIGINS=https://app.example.com \
//!   cargo run -p canopy-relay --release          # forward to Honeycomb (US; --honeycomb-region eu)
//! CANOPY_UPSTREAM=http://collector:4318/v1/traces cargo run -p canopy-relay   # any OTLP/HTTP endpoint
//! CANOPY_CLOUDWATCH_LOG_GROUP=/canopy/browser AWS_REGION=eu-west-1 cargo run -p canopy-relay  # logs to CloudWatch too
//! cargo run -p canopy-relay -- --help            # every flag and its environment variable
//! ```
//!
//! Point the SDK at it: `init({ serviceName: "frontend", endpoint: "http://127.0.0.1:4318/v1/traces" })`
//! (log records go to `/v1/logs`).

use canopy_relay::{Args, Config, run, shutdown};
use clap::Parser;
use std::io::IsTerminal;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::MakeWriterExt;

fn main() -> ExitCode {
    // Warnings and errors on stderr; the banner, received traces and the rest on stdout.
    // CANOPY_LOG filters, e.g. CANOPY_LOG=warn or CANOPY_LOG=info,canopy_relay::trace=off.
    let filter = EnvFilter::try_from_env("CANOPY_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr.with_max_level(tracing::Level::WARN).or_else(std::io::stdout))
        .with_ansi(std::io::stdout().is_terminal())
        .with_target(false)
        .init();
    let config = match Config::from_args(Args::parse()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("canopy-relay: {e}");
            return ExitCode::from(2);
        }
    };
    // CPU work runs on the blocking pool one task per core at a time (see ingest); a few more
    // threads serve DNS lookups. Fewer threads also means fewer malloc arenas holding memory.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let runtime = match tokio::runtime::Builder::new_multi_thread().max_blocking_threads(cores + 2).enable_all().build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("canopy-relay: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config, shutdown::signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("canopy-relay: {e}");
            ExitCode::FAILURE
        }
    }
}
