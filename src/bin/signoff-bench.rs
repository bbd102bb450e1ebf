//! Helpers for the benchmark (`bench/run.sh`), kept out of the production `signoff` command:
//!
//! - `signoff-bench mint --email E --count N --kind opaque|jwt`: creates the account if needed
//!   (password `benchmark-password`) and prints N fresh tokens, one sign-in each, one per line
//!   (`access refresh` for jwt). Tokens go to standard output only.
//! - `signoff-bench deny --count N`: fills the JWT denylist with N entries that expire in 15 minutes
//!   (SQLite only: on PostgreSQL each row would be a notification).

use clap::{Parser, Subcommand, ValueEnum};
use secrecy::ExposeSecret;
use signoff::{
    server::{
        config::Config,
        db::{now, Db},
        domain::{ttl::ACCESS_TTL, Auth, AuthError, ClientMeta},
    },
    with_pool,
};

/// Benchmark helpers for Signoff (not for production use).
#[derive(Parser)]
#[command(name = "signoff-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Prints N fresh tokens of one account, one sign-in each.
    Mint {
        /// The account (created with password `benchmark-password` if missing).
        #[arg(long)]
        email: String,
        /// How many.
        #[arg(long, default_value_t = 1000)]
        count: usize,
        /// Which kind.
        #[arg(long, value_enum, default_value_t = Kind::Opaque)]
        kind: Kind,
    },
    /// Fills the JWT denylist with N entries (SQLite only).
    Deny {
        /// How many.
        #[arg(long, default_value_t = 1000)]
        count: i64,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    Opaque,
    Jwt,
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli.command).await {
        eprintln!("signoff-bench: {e}");
        std::process::exit(2);
    }
}

async fn run(command: Command) -> Result<(), String> {
    let config = Config::from_env()?;
    let db = Db::connect_with(&config.database_url, config.durability)
        .await
        .map_err(|e| format!("database: {e}"))?;
    db.migrate().await.map_err(|e| format!("migrations: {e}"))?;
    let auth = Auth::init(db.clone(), config.auth_options())
        .await
        .map_err(|e| e.to_string())?;
    match command {
        Command::Mint { email, count, kind } => {
            let password = "benchmark-password";
            let user = match auth.register(&email, password.into()).await {
                Ok(user) => user,
                Err(AuthError::EmailTaken) => auth
                    .authenticate(&email, password.into())
                    .await
                    .map_err(|e| e.to_string())?,
                Err(e) => return Err(e.to_string()),
            };
            let meta = ClientMeta {
                user_agent: Some("signoff-bench mint".into()),
                ..Default::default()
            };
            let mut out = String::new();
            for _ in 0..count {
                // One line per sign-in: an opaque token, or a JWT access and refresh token.
                let line = match kind {
                    Kind::Opaque => auth
                        .issue_opaque(&user, &meta)
                        .await
                        .map(|t| t.token.expose_secret().to_owned()),
                    Kind::Jwt => auth.issue_jwt_pair(&user, &meta).await.map(|p| {
                        let (access, refresh) = (&p.access_token, &p.refresh_token);
                        format!("{} {}", access.expose_secret(), refresh.expose_secret())
                    }),
                };
                out.push_str(&line.map_err(|e| e.to_string())?);
                out.push('\n');
            }
            print!("{out}");
        }
        Command::Deny { count } => {
            let Db::Sqlite(pool) = &db else {
                return Err("deny runs on SQLite only".into());
            };
            sqlx::query(
                "INSERT OR IGNORE INTO jwt_denylist (jti, expires_at) \
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
                 SELECT 'bench-' || i, $2 FROM n",
            )
            .bind(count)
            .bind(now() + ACCESS_TTL)
            .execute(pool)
            .await
            .map_err(|e| e.to_string())?;
            let total: i64 = with_pool!(&db, p => sqlx::query_scalar("SELECT COUNT(*) FROM jwt_denylist").fetch_one(p).await)
                .map_err(|e| e.to_string())?;
            println!("{total} denylist entries");
        }
    }
    Ok(())
}
