//! Operator commands, run as `signoff <command>` against the configured database:
//!
//! - `signoff prune`: one pruning pass now (the server also prunes in the background); prints
//!   what it removed as JSON.
//! - `signoff bench-mint --email E --count N --kind opaque|jwt`: for benchmarks, creates the account
//!   if needed (password `benchmark-password`) and prints N fresh tokens, one sign-in each, one per
//!   line (`access refresh` for jwt). Tokens go to standard output only.
//! - `signoff bench-deny --count N`: for benchmarks, fills the JWT denylist with N entries that
//!   expire in 15 minutes (SQLite only: on PostgreSQL each row would be a notification).
//!
//! Three commands with two flags each: parsed by hand rather than pulling in an argument parser.

use secrecy::ExposeSecret;

use crate::{
    server::{
        config::Config,
        db::{now, Db},
        domain::{tokens::ACCESS_TTL, Auth, AuthError, ClientMeta},
    },
    with_pool,
};

/// Runs the command in `args` (without the program name). `None` when `args` names no command,
/// in which case the server starts.
pub async fn run(args: &[String]) -> Option<Result<(), String>> {
    let command = args.first()?.as_str();
    if !matches!(command, "prune" | "bench-mint" | "bench-deny") {
        return Some(Err(format!(
            "unknown command {command:?}: expected prune, bench-mint or bench-deny"
        )));
    }
    Some(run_command(command, &args[1..]).await)
}

fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

async fn run_command(command: &str, args: &[String]) -> Result<(), String> {
    let config = Config::from_env()?;
    let db = Db::connect(&config.database_url)
        .await
        .map_err(|e| format!("database: {e}"))?;
    db.migrate().await.map_err(|e| format!("migrations: {e}"))?;
    let auth = Auth::init(db.clone(), config.auth_options())
        .await
        .map_err(|e| e.to_string())?;
    match command {
        "prune" => {
            let report = auth
                .prune(config.session_idle, config.retention)
                .await
                .map_err(|e| e.to_string())?;
            println!("{}", serde_json::to_string(&report).unwrap_or_default());
        }
        "bench-mint" => {
            let email = flag(args, "--email").ok_or("--email is required")?;
            let count: usize = flag(args, "--count")
                .unwrap_or("1000")
                .parse()
                .map_err(|_| "--count must be a number")?;
            let kind = flag(args, "--kind").unwrap_or("opaque");
            let password = "benchmark-password";
            let user = match auth.register(email, password.into()).await {
                Ok(user) => user,
                Err(AuthError::EmailTaken) => auth
                    .authenticate(email, password.into())
                    .await
                    .map_err(|e| e.to_string())?,
                Err(e) => return Err(e.to_string()),
            };
            let meta = ClientMeta {
                user_agent: Some("signoff bench-mint".into()),
                ip: None,
            };
            let mut out = String::new();
            for _ in 0..count {
                match kind {
                    "opaque" => {
                        let t = auth
                            .issue_opaque(&user, &meta)
                            .await
                            .map_err(|e| e.to_string())?;
                        out.push_str(t.token.expose_secret());
                    }
                    "jwt" => {
                        let p = auth
                            .issue_jwt_pair(&user, &meta)
                            .await
                            .map_err(|e| e.to_string())?;
                        out.push_str(p.access_token.expose_secret());
                        out.push(' ');
                        out.push_str(p.refresh_token.expose_secret());
                    }
                    other => return Err(format!("--kind must be opaque or jwt, not {other:?}")),
                }
                out.push('\n');
            }
            print!("{out}");
        }
        "bench-deny" => {
            let count: i64 = flag(args, "--count")
                .unwrap_or("1000")
                .parse()
                .map_err(|_| "--count must be a number")?;
            let Db::Sqlite(pool) = &db else {
                return Err("bench-deny runs on SQLite only".into());
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
        _ => unreachable!("checked in run"),
    }
    Ok(())
}
