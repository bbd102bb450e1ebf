//! The `signoff` command line (clap; `signoff --help`, and `--help` after every command):
//!
//! - `signoff` or `signoff serve`: runs the server (configuration from the environment).
//! - `signoff sessions list --email E [--json]`: the account's active sign-ins.
//! - `signoff sessions end --email E [--reason R]`: ends every active sign-in of the account
//!   through the logout engine (reason `admin`, audited with `R`; webhooks and open pages hear it).
//! - `signoff prune`: one pruning pass now (the server also prunes in the background).
//! - `signoff webhooks [--json] [--limit N]`: where the delivery of logout events stands.
//! - `signoff clients add --name N --redirect-uri U … [--post-logout-redirect-uri U …]
//!   [--backchannel-logout-uri U] [--public] [--json]`, `signoff clients list [--json]`,
//!   `signoff clients remove CLIENT_ID`: the OpenID Provider's clients.
//! - `signoff keys rotate`: a new OpenID signing key (the old one stays published until what it
//!   signed has expired).
//!
//! Every command but `serve` works on the configured database (`DATABASE_URL`) and prints its
//! result to standard output; logs go to standard error. The benchmark's helpers are not here:
//! they are the separate `signoff-bench` binary.

use clap::{Args, Parser, Subcommand};

use crate::server::{
    config::Config,
    db::Db,
    domain::{Auth, SigninInfo},
    webhooks,
};

/// Signoff: logout done right. Without a command, runs the server.
#[derive(Debug, Parser)]
#[command(name = "signoff", version, about, long_about = None)]
pub struct Cli {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs the server (the default).
    Serve,
    /// Lists or ends an account's sign-ins.
    #[command(subcommand)]
    Sessions(Sessions),
    /// Runs one pruning pass now and prints what it removed (JSON).
    Prune,
    /// Shows where the delivery of logout events (webhooks and logout tokens) stands.
    Webhooks(WebhooksArgs),
    /// Registers, lists or removes the OpenID Provider's clients.
    #[command(subcommand)]
    Clients(Clients),
    /// Manages the OpenID Provider's signing keys.
    #[command(subcommand)]
    Keys(Keys),
}

/// `signoff clients …`
#[derive(Debug, Subcommand)]
pub enum Clients {
    /// Registers a client; prints its `client_id` and, for a confidential client, its secret (once).
    Add {
        /// Its name, as people see it on `/sessions`.
        #[arg(long)]
        name: String,
        /// Where authorization answers may go (exact match); repeat for several.
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// Where a logout it asks for may return (exact match); repeat for several.
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        /// Where its logout tokens are POSTed (Back-Channel Logout).
        #[arg(long)]
        backchannel_logout_uri: Option<String>,
        /// A public client (no secret; PKCE required), such as a single-page or native app.
        #[arg(long)]
        public: bool,
        /// Prints `{"client_id":…,"client_secret":…}`.
        #[arg(long)]
        json: bool,
    },
    /// Lists the clients.
    List {
        /// Prints JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Removes a client: it can no longer sign anyone in or use its tokens' refresh.
    Remove {
        /// The client's id.
        client_id: String,
    },
}

/// `signoff keys …`
#[derive(Debug, Subcommand)]
pub enum Keys {
    /// Generates a new signing key into the key directory (`SIGNOFF_OIDC_KEYS`); running servers
    /// use it within seconds, and keys retired long enough ago are deleted.
    Rotate,
}

/// `signoff sessions …`
#[derive(Debug, Subcommand)]
pub enum Sessions {
    /// Lists the account's active sign-ins.
    List {
        /// The account's email.
        #[arg(long)]
        email: String,
        /// Prints JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Ends every active sign-in of the account (reason `admin`), as a logout would.
    End {
        /// The account's email.
        #[arg(long)]
        email: String,
        /// Why, for the audit trail (for example an incident number).
        #[arg(long)]
        reason: Option<String>,
    },
}

/// `signoff webhooks`
#[derive(Debug, Args)]
pub struct WebhooksArgs {
    /// Prints JSON instead of text.
    #[arg(long)]
    json: bool,
    /// How many undelivered events to list.
    #[arg(long, default_value_t = 20)]
    limit: i64,
}

async fn open() -> Result<(Config, Auth), String> {
    let (config, db) = database().await?;
    let sessions = crate::server::sessions::Sessions::new(&db)
        .await
        .map_err(|e| format!("sessions: {e}"))?;
    let options = crate::server::domain::Options {
        role: crate::server::domain::Role::Operator,
        ..config.auth_options()
    };
    let auth = Auth::init(db, options).await.map_err(|e| e.to_string())?;
    auth.prune_sessions_with(std::sync::Arc::new(sessions));
    Ok((config, auth))
}

/// The configured database alone (migrated), for the commands that need no service.
async fn database() -> Result<(Config, Db), String> {
    let config = Config::from_env()?;
    let db = Db::connect_with(&config.database_url, config.durability)
        .await
        .map_err(|e| format!("database: {e}"))?;
    db.migrate().await.map_err(|e| format!("migrations: {e}"))?;
    Ok((config, db))
}

async fn user(auth: &Auth, email: &str) -> Result<crate::server::domain::User, String> {
    auth.user_by_email(email)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "no account has this email".to_owned())
}

fn when(at: i64) -> String {
    crate::server::db::rfc3339(at)
}

/// Runs `command` (anything but `serve`).
pub async fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Serve => return Err("serve is run by main".into()),
        Command::Sessions(Sessions::List { email, json }) => {
            let (_, auth) = open().await?;
            let user = user(&auth, &email).await?;
            let signins = auth
                .active_signins(&user.id)
                .await
                .map_err(|e| e.to_string())?;
            if json {
                let rows: Vec<_> = signins.iter().map(signin_json).collect();
                println!(
                    "{}",
                    serde_json::json!({ "email": user.email, "signins": rows })
                );
            } else if signins.is_empty() {
                println!("{} has no active sign-in.", user.email);
            } else {
                println!(
                    "{:<36}  {:<8}  {:<20}  {:<20}  client",
                    "id", "kind", "started", "last used"
                );
                for s in &signins {
                    println!(
                        "{:<36}  {:<8}  {:<20}  {:<20}  {}",
                        s.id,
                        s.kind.as_str(),
                        when(s.created_at),
                        when(s.last_seen_at),
                        printable(
                            s.token_name
                                .as_deref()
                                .or(s.user_agent.as_deref())
                                .unwrap_or("-"),
                            60
                        )
                    );
                }
            }
        }
        Command::Sessions(Sessions::End { email, reason }) => {
            let (_, auth) = open().await?;
            let user = user(&auth, &email).await?;
            let n = auth
                .end_all_signins_as_operator(&user, reason.as_deref())
                .await
                .map_err(|e| e.to_string())?;
            // A running SQLite server learns of another process's endings by looking every
            // `SQLITE_POLL` (its cached tokens and its JWT denylist with them): by the time the
            // operator reads "Ended", it refuses them. (PostgreSQL servers are notified at commit.)
            if n > 0 && matches!(auth.db(), Db::Sqlite(_)) {
                tokio::time::sleep(
                    crate::server::domain::revocations::SQLITE_POLL
                        + std::time::Duration::from_millis(250),
                )
                .await;
            }
            // Webhook events were written with the endings; the server delivers them.
            let plural = if n == 1 { "" } else { "s" };
            println!(
                "Ended {n} sign-in{plural} of {} (reason: admin).",
                user.email
            );
        }
        Command::Prune => {
            let (config, auth) = open().await?;
            let report = auth
                .prune(config.session_idle, config.retention)
                .await
                .map_err(|e| e.to_string())?;
            println!("{}", serde_json::to_string(&report).unwrap_or_default());
        }
        Command::Webhooks(args) => {
            let (config, auth) = open().await?;
            let status = webhooks::status(auth.db(), args.limit.max(0))
                .await
                .map_err(|e| e.to_string())?;
            if args.json {
                println!("{}", serde_json::to_string(&status).unwrap_or_default());
            } else {
                println!(
                    "receivers: {}",
                    if config.webhook_urls.is_empty() {
                        "none configured".to_owned()
                    } else {
                        config.webhook_urls.len().to_string()
                    }
                );
                println!(
                    "pending: {}  delivered: {}  failed: {}",
                    status.pending, status.delivered, status.failed
                );
                for d in &status.undelivered {
                    let state = if d.failed_at.is_some() {
                        "FAILED".to_owned()
                    } else {
                        format!("next attempt {}", when(d.next_attempt_at))
                    };
                    println!(
                        "{}  {}  attempts {}  {}  {}",
                        d.event_id,
                        crate::server::webhooks::endpoint_for_logs(&d.endpoint),
                        d.attempts,
                        d.last_error.as_deref().unwrap_or("-"),
                        state
                    );
                }
            }
        }
        Command::Clients(command) => clients(command).await?,
        Command::Keys(Keys::Rotate) => {
            let config = Config::from_env()?;
            let dir = config.oidc_keys_dir();
            let (kid, deleted) =
                crate::server::domain::oidc::keys::rotate(&dir).map_err(|e| e.to_string())?;
            println!("New signing key {kid} in {}.", dir.display());
            for old in deleted {
                println!("Deleted retired key {old}.");
            }
        }
    }
    Ok(())
}

async fn clients(command: Clients) -> Result<(), String> {
    use crate::server::domain::oidc::clients;
    let (_, db) = database().await?;
    match command {
        Clients::Add {
            name,
            redirect_uris,
            post_logout_redirect_uris,
            backchannel_logout_uri,
            public,
            json,
        } => {
            let new = crate::server::domain::oidc::NewClient {
                name,
                redirect_uris,
                post_logout_redirect_uris,
                backchannel_logout_uri,
                public,
            };
            clients::validate(&new)?;
            let (client, secret) = clients::add(&db, &new).await.map_err(|e| e.to_string())?;
            let secret = secret.map(|s| secrecy::ExposeSecret::expose_secret(&s).to_owned());
            if json {
                let mut out = serde_json::json!({ "client_id": client.client_id });
                if let Some(secret) = &secret {
                    out["client_secret"] = serde_json::json!(secret);
                }
                println!("{out}");
            } else {
                println!("client_id:     {}", client.client_id);
                match &secret {
                    Some(secret) => {
                        println!("client_secret: {secret}");
                        println!("The secret is shown once; Signoff keeps only its digest.");
                    }
                    None => println!("A public client: no secret; it must use PKCE (S256)."),
                }
            }
        }
        Clients::List { json } => {
            let all = clients::list(&db).await.map_err(|e| e.to_string())?;
            if json {
                println!("{}", serde_json::to_string(&all).unwrap_or_default());
            } else if all.is_empty() {
                println!("No client is registered.");
            } else {
                for c in &all {
                    println!(
                        "{}  {}  {}  created {}",
                        c.client_id,
                        printable(&c.name, 60),
                        if c.public { "public" } else { "confidential" },
                        when(c.created_at)
                    );
                    for uri in &c.redirect_uris {
                        println!("    redirect:     {}", printable(uri, 200));
                    }
                    for uri in &c.post_logout_redirect_uris {
                        println!("    after logout: {}", printable(uri, 200));
                    }
                    if let Some(uri) = &c.backchannel_logout_uri {
                        println!("    back-channel: {}", printable(uri, 200));
                    }
                }
            }
        }
        Clients::Remove { client_id } => {
            if clients::remove(&db, &client_id)
                .await
                .map_err(|e| e.to_string())?
            {
                println!("Removed client {client_id}.");
            } else {
                return Err(format!("no client has the id {client_id:?}"));
            }
        }
    }
    Ok(())
}

fn signin_json(s: &SigninInfo) -> serde_json::Value {
    serde_json::json!({
        "id": s.id,
        "kind": s.kind.as_str(),
        "created_at": when(s.created_at),
        "last_seen_at": when(s.last_seen_at),
        "user_agent": s.user_agent,
        "ip": s.ip,
        "token_name": s.token_name,
    })
}

/// `text`, at most `max_chars` of it, fit for a terminal: what a user chose (a token's name, a
/// browser's user agent) may hold control characters, which are shown escaped (`\u{1b}`) rather
/// than sent to the operator's terminal.
fn printable(text: &str, max_chars: usize) -> String {
    text.chars()
        .take(max_chars)
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_unicode().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::printable;
    use crate::server::webhooks::endpoint_for_logs;

    #[test]
    fn what_users_chose_reaches_the_terminal_escaped() {
        assert_eq!(
            printable("deploy \u{1b}[2Jscript", 60),
            "deploy \\u{1b}[2Jscript"
        );
        assert_eq!(printable("été", 2), "ét");
    }

    #[test]
    fn an_endpoint_is_logged_without_its_password_path_or_query() {
        assert_eq!(
            endpoint_for_logs("https://hook:s3cret@example.com:8443/in?token=abc"),
            "https://example.com:8443"
        );
        assert_eq!(endpoint_for_logs("http://[::1]/x"), "http://[::1]");
        assert!(!endpoint_for_logs("not a url").contains("not a url"));
    }
}
