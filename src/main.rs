//! Signoff's server and operator commands: parses the command line, sets up logs and traces, runs.

use clap::Parser;
use signoff::server::{
    cli::{self, Cli, Command},
    telemetry, Application, Config,
};

/// mimalloc rather than the system allocator (see its entry in Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let telemetry = telemetry::init();
    match cli.command {
        None | Some(Command::Serve) => serve().await,
        Some(command) => {
            if let Err(e) = cli::run(command).await {
                eprintln!("signoff: {e}");
                telemetry.shutdown().await;
                std::process::exit(2);
            }
        }
    }
    telemetry.shutdown().await;
}

async fn serve() {
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("configuration: {e}");
            std::process::exit(2);
        }
    };
    let app = match Application::build(config).await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!("start-up failed: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = app.run_until_stopped().await {
        tracing::error!("server error: {e}");
        std::process::exit(1);
    }
}
