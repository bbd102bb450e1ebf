//! Signoff's server: reads configuration, sets up logging, runs the application.

use signoff::server::{Application, Config};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_sessions=warn")),
        )
        // Logs go to standard error; standard output is for commands' results.
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(result) = signoff::server::cli::run(&args).await {
        if let Err(e) = result {
            eprintln!("signoff {}: {e}", args[0]);
            std::process::exit(2);
        }
        return;
    }
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
