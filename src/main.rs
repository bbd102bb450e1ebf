//! Signoff's server and operator commands: parses the command line, sets up logging, runs.

use clap::Parser;
use signoff::server::{
    cli::{self, Cli, Command},
    Application, Config,
};
use tracing_subscriber::EnvFilter;

/// mimalloc rather than the system allocator (see its entry in Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_sessions=warn")),
        )
        // Logs go to standard error; standard output is for commands' results.
        .with_writer(std::io::stderr);
    if std::env::var("SIGNOFF_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        // One JSON object a line, with every span it happened in: the request's carries its
        // `trace_id`.
        logs.json().with_span_list(true).init();
    } else {
        // Colours only for a terminal: escape codes are noise in a log file, and cost time on
        // every request's span.
        logs.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }
    match cli.command {
        None | Some(Command::Serve) => serve().await,
        Some(command) => {
            if let Err(e) = cli::run(command).await {
                eprintln!("signoff: {e}");
                std::process::exit(2);
            }
        }
    }
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
