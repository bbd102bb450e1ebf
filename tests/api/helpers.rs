//! `spawn_app()` and request helpers shared by every integration test.

use reqwest::{header, redirect, Client, Method, RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};
use signoff::server::{AppState, Application, Config};

/// A running server on its own fresh database.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`
    pub address: String,
    /// The server's state, to look behind the HTTP interface.
    pub state: AppState,
    /// Never follows redirects and keeps no cookies: tests handle both by hand.
    pub client: Client,
    /// The database URL, to start a second server on the same data.
    pub database_url: String,
    _dir: tempfile::TempDir,
    /// The PostgreSQL database this test owns, dropped with it.
    pub pg: Option<PgDatabase>,
    /// `http://127.0.0.1:<port>` of the metrics listener, when metrics are on.
    pub metrics: Option<String>,
}

/// Starts a server on port 0 with a fresh database: SQLite in a temporary directory, or a new
/// PostgreSQL database when `SIGNOFF_TEST_DATABASE=postgres` (the whole suite runs both ways).
pub async fn spawn_app() -> TestApp {
    if std::env::var("SIGNOFF_TEST_DATABASE").as_deref() == Ok("postgres") {
        let db = fresh_postgres()
            .await
            .expect("PostgreSQL for SIGNOFF_TEST_DATABASE=postgres");
        let mut app = start(&db.url).await;
        app.pg = Some(db);
        return app;
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let database_url = format!("sqlite://{}/signoff.db?mode=rwc", dir.path().display());
    let mut app = start(&database_url).await;
    app._dir = dir;
    app
}

/// [`spawn_app`] with the configuration changed by `configure` first.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    if std::env::var("SIGNOFF_TEST_DATABASE").as_deref() == Ok("postgres") {
        let db = fresh_postgres()
            .await
            .expect("PostgreSQL for SIGNOFF_TEST_DATABASE=postgres");
        let mut config = Config::for_tests(&db.url);
        configure(&mut config);
        let mut app = start_with(config).await;
        app.pg = Some(db);
        return app;
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let database_url = format!("sqlite://{}/signoff.db?mode=rwc", dir.path().display());
    let mut config = Config::for_tests(&database_url);
    configure(&mut config);
    let mut app = start_with(config).await;
    app._dir = dir;
    app
}

/// `url` (a PostgreSQL URL) through a proxy listening on 127.0.0.1:`port` instead.
pub fn through_port(url: &str, port: u16) -> String {
    let (base, name) = url.rsplit_once('/').unwrap();
    let (scheme_user, _) = base.rsplit_once('@').unwrap();
    format!("{scheme_user}@127.0.0.1:{port}/{name}")
}

/// A PostgreSQL database made for one test, dropped when the test ends.
pub struct PgDatabase {
    /// Its URL.
    pub url: String,
    name: String,
}

fn pg_admin_url() -> String {
    std::env::var("SIGNOFF_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A new, empty PostgreSQL database, or `None` when no server answers.
pub async fn fresh_postgres() -> Option<PgDatabase> {
    use sqlx::Connection;
    let admin = pg_admin_url();
    let mut conn = sqlx::PgConnection::connect(&admin).await.ok()?;
    let name = format!("signoff_test_{}", uuid_simple());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let base = admin.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap();
    Some(PgDatabase {
        url: format!("{base}/{name}"),
        name,
    })
}

/// PostgreSQL for a test that needs it whatever `SIGNOFF_TEST_DATABASE` says. Where there is none
/// the test is skipped, loudly, unless `SIGNOFF_REQUIRE_POSTGRES=1` (set by `scripts/test` when a
/// server answers), which makes its absence a failure.
pub async fn require_postgres(test: &str) -> Option<PgDatabase> {
    match fresh_postgres().await {
        Some(db) => Some(db),
        None if std::env::var("SIGNOFF_REQUIRE_POSTGRES").as_deref() == Ok("1") => {
            panic!("{test}: PostgreSQL is required (SIGNOFF_REQUIRE_POSTGRES=1) but {} does not answer", pg_admin_url())
        }
        None => {
            eprintln!("SKIPPED {test}: no PostgreSQL at {}", pg_admin_url());
            None
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (admin, name) = (pg_admin_url(), self.name.clone());
        // Drop runs inside the test's runtime; a thread of its own may block on its own runtime.
        let _ = std::thread::spawn(move || {
            use sqlx::Connection;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

fn uuid_simple() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{}_{}_{}",
        std::process::id(),
        nanos,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Everything every server in this test binary logged (at `debug`), for the no-secrets test.
pub fn captured_logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap()).into_owned()
}

static LOGS: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

struct Capture;

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
            .with_writer(|| Capture)
            .with_ansi(false)
            .init();
    });
}

/// Starts another server on an existing database (as after a restart).
pub async fn start(database_url: &str) -> TestApp {
    start_with(Config::for_tests(database_url)).await
}

/// Starts a server with the given configuration.
pub async fn start_with(config: Config) -> TestApp {
    capture_logs();
    let database_url = config.database_url.clone();
    let app = Application::build(config).await.expect("the server starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let metrics = app.metrics_addr().map(|a| format!("http://{a}"));
    let state = app.state().clone();
    tokio::spawn(app.run_until_stopped());
    let client = Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap();
    TestApp {
        address,
        state,
        client,
        database_url,
        _dir: tempfile::tempdir().unwrap(),
        pg: None,
        metrics,
    }
}

/// Seed 004's login of `email` (password [`PASSWORD`]) at the server at `base`: its access and
/// refresh tokens. For tests that drive a server process as well as those in this one.
pub async fn jwt_pair_at(http: &Client, base: &str, email: &str) -> (String, String) {
    let res = http
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    (
        body["data"]["access_token"].as_str().unwrap().to_owned(),
        body["data"]["refresh_token"].as_str().unwrap().to_owned(),
    )
}

/// Headers a browser sends with a plain form post (JavaScript off).
pub const FORM_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

impl TestApp {
    /// `POST /api/v1/account/register` with a JSON body.
    pub async fn register_api(&self, body: &Value) -> Response {
        self.client
            .post(format!("{}/api/v1/account/register", self.address))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Registers `email` with the password `correct horse battery`.
    pub async fn create_user(&self, email: &str) {
        let res = self
            .register_api(&json!({"email": email, "password": PASSWORD}))
            .await;
        assert_eq!(res.status(), StatusCode::CREATED, "registering {email}");
    }

    /// Posts a form to a server function the way a browser without JavaScript does.
    pub async fn form(
        &self,
        function: &str,
        cookie: Option<&str>,
        fields: &[(&str, &str)],
    ) -> Response {
        let mut req = self
            .client
            .post(format!("{}/_fn/{function}", self.address))
            .header(header::ACCEPT, FORM_ACCEPT)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("sec-fetch-site", "same-origin")
            .body(form_body(fields));
        if let Some(cookie) = cookie {
            req = req.header(header::COOKIE, cookie);
        }
        req.send().await.unwrap()
    }

    /// Posts the registration form the way a browser without JavaScript does.
    pub async fn register_form(&self, email: &str, password: &str) -> Response {
        self.form(
            "register",
            None,
            &[("email", email), ("password", password)],
        )
        .await
    }

    /// Posts the login form the way a browser without JavaScript does: `email`, `password` and,
    /// when given, the `next` page to go to after.
    pub async fn login_form(&self, email: &str, password: &str, next: Option<&str>) -> Response {
        let mut fields = vec![("email", email), ("password", password)];
        if let Some(next) = next {
            fields.push(("next", next));
        }
        self.form("login", None, &fields).await
    }

    /// Signs in through the login form and returns the session cookie (`name=value`).
    pub async fn browser_login(&self, email: &str) -> String {
        let res = self.login_form(email, PASSWORD, None).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&res), "/");
        session_cookie(&res).expect("login sets the session cookie")
    }

    /// A logout of the opaque `token` in one of the dialects that take one, not yet sent:
    /// `0` seed 000's `GET /api/v1/account/logout?token=…`, `1` seed 001's `POST /auth/logout`,
    /// anything else seed 002's `DELETE /api/v1/logout`.
    pub fn opaque_logout(&self, dialect: usize, token: &str) -> RequestBuilder {
        match dialect {
            0 => self
                .client
                .get(self.url(&format!("/api/v1/account/logout?token={token}"))),
            1 => self
                .client
                .post(self.url("/auth/logout"))
                .bearer_auth(token),
            _ => self
                .client
                .delete(self.url("/api/v1/logout"))
                .bearer_auth(token),
        }
    }

    /// `POST path` with `body` sent in chunks (no declared length) and `headers`, over a raw
    /// connection (reqwest declares lengths); the raw answer, head and body.
    pub async fn post_chunked(&self, path: &str, headers: &[(&str, &str)], body: &str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut req = format!("POST {path} HTTP/1.1\r\nHost: localhost\r\n");
        for (name, value) in headers {
            req.push_str(&format!("{name}: {value}\r\n"));
        }
        req.push_str("Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
        for piece in body.as_bytes().chunks(4096) {
            let piece = std::str::from_utf8(piece).unwrap();
            req.push_str(&format!("{:x}\r\n{piece}\r\n", piece.len()));
        }
        req.push_str("0\r\n\r\n");
        let addr = self.address.trim_start_matches("http://");
        let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
        conn.write_all(req.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        let _ = conn.read_to_end(&mut answer).await;
        String::from_utf8_lossy(&answer).into_owned()
    }

    /// `POST path` with a JSON body.
    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Seed 001: `POST /auth/logout` with a bearer token and, when given, a JSON body.
    pub async fn logout_001(&self, token: &str, body: Option<Value>) -> Response {
        let mut req = self
            .client
            .post(self.url("/auth/logout"))
            .bearer_auth(token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.unwrap()
    }

    /// Seed 002: `DELETE /api/v1/logout` with a bearer token.
    pub async fn logout_002(&self, token: &str) -> Response {
        self.opaque_logout(2, token).send().await.unwrap()
    }

    /// Seed 000: `POST /api/v1/account/login` with a JSON body.
    pub async fn login_000(&self, body: &Value) -> Response {
        self.post_json("/api/v1/account/login", body).await
    }

    /// Seed 000: `GET /api/v1/account/me` with a bearer token.
    pub async fn me_000(&self, token: &str) -> Response {
        self.client
            .get(self.url("/api/v1/account/me"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// Seed 000: `GET /api/v1/account/logout?token=…`.
    pub async fn logout_000(&self, token: &str) -> Response {
        self.opaque_logout(0, token).send().await.unwrap()
    }

    /// Seed 004: `POST /api/auth/login` with a JSON body.
    pub async fn login_004(&self, body: &Value) -> Response {
        self.post_json("/api/auth/login", body).await
    }

    /// Seed 004: `POST /api/auth/refresh` with a JSON body.
    pub async fn refresh_004(&self, body: &Value) -> Response {
        self.post_json("/api/auth/refresh", body).await
    }

    /// Seed 004: `POST /api/auth/logout` with a bearer access token and a JSON body.
    pub async fn logout_004(&self, access: &str, body: &Value) -> Response {
        self.client
            .post(self.url("/api/auth/logout"))
            .bearer_auth(access)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// `method path` with nothing else: no credential, no cookie, no body.
    pub async fn bare(&self, method: Method, path: &str) -> Response {
        self.client
            .request(method, self.url(path))
            .send()
            .await
            .unwrap()
    }

    /// `GET path` with an optional cookie.
    pub async fn get(&self, path: &str, cookie: Option<&str>) -> Response {
        let mut req = self.client.get(format!("{}{path}", self.address));
        if let Some(cookie) = cookie {
            req = req.header(header::COOKIE, cookie);
        }
        req.send().await.unwrap()
    }
}

impl TestApp {
    /// A URL on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// `POST /api/v1/account/login` → the opaque token.
    pub async fn opaque_token(&self, email: &str) -> String {
        self.opaque_token_with(email, PASSWORD).await
    }

    /// `POST /api/v1/account/login` with a given password → the opaque token.
    pub async fn opaque_token_with(&self, email: &str, password: &str) -> String {
        let res = self
            .client
            .post(self.url("/api/v1/account/login"))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let body: Value = res.json().await.unwrap();
        body["data"]["token"].as_str().unwrap().to_owned()
    }

    /// `POST /api/auth/login` → (access, refresh).
    pub async fn jwt_pair(&self, email: &str) -> (String, String) {
        jwt_pair_at(&self.client, &self.address, email).await
    }

    /// `GET /api/v1/account/me` with a bearer token: is the token still accepted?
    pub async fn accepted(&self, token: &str) -> bool {
        let res = self
            .client
            .get(self.url("/api/v1/account/me"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        match res.status() {
            StatusCode::OK => true,
            StatusCode::UNAUTHORIZED => false,
            other => panic!("unexpected status {other} from /me"),
        }
    }

    /// Runs SQL against the test database (to inspect state, or to break it on purpose).
    pub async fn sql_count(&self, sql: &str) -> i64 {
        signoff::with_pool!(self.state.auth.db(), p => sqlx::query_scalar(sql).fetch_one(p).await.unwrap())
    }

    /// One text value from the test database.
    pub async fn sql_text(&self, sql: &str) -> String {
        signoff::with_pool!(self.state.auth.db(), p => sqlx::query_scalar(sql).fetch_one(p).await.unwrap())
    }

    /// Runs a statement against the test database.
    pub async fn sql(&self, sql: &str) {
        signoff::with_pool!(self.state.auth.db(), p => sqlx::query(sql).execute(p).await.map(|_| ()).unwrap())
    }

    /// Moves every refresh-token rotation a minute into the past: a rotated token presented after
    /// this is outside the grace window (`SIGNOFF_REFRESH_GRACE_SECS`), so it counts as reuse.
    pub async fn age_rotations(&self) {
        self.sql("UPDATE refresh_tokens SET used_at = used_at - 60 WHERE used_at IS NOT NULL")
            .await
    }

    /// The session store's table on this engine.
    pub fn sessions_table(&self) -> &'static str {
        match self.state.auth.db() {
            signoff::server::db::Db::Sqlite(_) => "tower_sessions",
            signoff::server::db::Db::Postgres(_) => "tower_sessions.session",
        }
    }

    /// Closes the database pool: every later query fails as if the database were unreachable.
    pub async fn cut_database(&self) {
        signoff::with_pool!(self.state.auth.db(), p => p.close().await)
    }
}

/// Asserts status and exact JSON body, and returns the headers.
pub async fn expect_json(
    res: Response,
    status: StatusCode,
    body: Value,
) -> reqwest::header::HeaderMap {
    assert_eq!(res.status(), status, "status");
    let headers = res.headers().clone();
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "JSON content type"
    );
    let got: Value = res.json().await.unwrap();
    assert_eq!(got, body);
    if status == StatusCode::UNAUTHORIZED {
        assert_eq!(
            headers[header::WWW_AUTHENTICATE],
            "Bearer error=\"invalid_token\""
        );
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        assert!(headers.contains_key(header::RETRY_AFTER));
    }
    headers
}

/// The password every test user has.
pub const PASSWORD: &str = "correct horse battery";

/// The `Location` header.
pub fn location(res: &Response) -> String {
    res.headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// Every `Set-Cookie` header of the response.
pub fn set_cookies(res: &Response) -> Vec<String> {
    res.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// The session cookie the response sets, as `name=value`, if it sets a non-empty one.
pub fn session_cookie(res: &Response) -> Option<String> {
    set_cookies(res).into_iter().find_map(|c| {
        let pair = c.split(';').next()?.trim().to_owned();
        (pair.starts_with("signoff_session=") && pair.len() > "signoff_session=".len())
            .then_some(pair)
    })
}

fn form_body(fields: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

/// A fresh app with the account `ada@example.com`.
pub async fn app_with_user() -> TestApp {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    app
}

/// The dialect's exact 401 body.
pub fn unauthorized_000() -> serde_json::Value {
    json!({"error": {"message": "Token invalid.", "code": 401}})
}
/// The dialect's exact 401 body.
pub fn unauthorized_001() -> serde_json::Value {
    json!({"message": "Unauthorized", "description": "Invalid, expired or missing bearer token", "code": "UNAUTHORIZED"})
}
/// The dialect's exact 401 body.
pub fn unauthorized_002() -> serde_json::Value {
    json!({"message": "Unauthenticated."})
}
/// The dialect's exact 401 body.
pub fn unauthorized_004() -> serde_json::Value {
    json!({"code": 401, "message": "invalid token", "data": {}})
}

/// Starts every request at once, each on a task of its own, and returns their statuses in the
/// order the requests were given.
pub async fn race(requests: impl IntoIterator<Item = RequestBuilder>) -> Vec<StatusCode> {
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|req| tokio::spawn(async move { req.send().await.unwrap().status() }))
        .collect();
    let mut statuses = Vec::with_capacity(tasks.len());
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    statuses
}

/// How many of `statuses` are successes, asserting that every other one is `otherwise`.
pub fn successes(statuses: &[StatusCode], otherwise: StatusCode) -> usize {
    let mut ok = 0;
    for &status in statuses {
        if status.is_success() {
            ok += 1;
        } else {
            assert_eq!(status, otherwise);
        }
    }
    ok
}
