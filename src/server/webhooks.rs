//! Delivery of what the logout engine writes to the outbox: `session.ended` events to the receivers
//! in `SIGNOFF_WEBHOOK_URLS` (kind `webhook`), and logout tokens to OpenID clients'
//! `backchannel_logout_uri` (kind `backchannel`, Back-Channel Logout 1.0).
//!
//! The logout engine writes each row to `webhook_outbox` in the transaction that ends the sign-in
//! (see `domain::outbox` and `domain::oidc::logout_tokens`). Here, a background task per instance
//! sends what is due:
//!
//! - **Claimed before sent.** A row is taken by moving its `next_attempt_at` [`LEASE_SECS`] ahead
//!   with a conditional `UPDATE`; only the instance whose update matched sends it. An instance that
//!   dies mid-send leaves the lease to run out, and the row is sent again: delivery is at least
//!   once, and receivers deduplicate by `webhook-id` (the same for every attempt).
//! - **Retries with back-off.** A failure (no answer within [`TIMEOUT`], or a status outside 2xx)
//!   is tried again after 1, 2, 4, … seconds, at most an hour apart, [`MAX_ATTEMPTS`] times in
//!   all; then the row is marked failed. `signoff webhooks` shows operators where every row stands.
//! - **Logout tokens** are signed at each attempt (fresh `iat`, `exp`, `jti`) and POSTed as
//!   `logout_token=…`; a 4xx answer is final (not retried), a 5xx, a timeout or no connection is
//!   retried.
//! - **Webhooks are signed per Standard Webhooks.** `webhook-id`, `webhook-timestamp` (the attempt's time) and
//!   `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.

use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use std::sync::Arc;

use tracing::Instrument;

use crate::{
    server::{
        config::WebhookSecret,
        db::{now, Db},
        domain::{
            oidc::{logout_tokens, Provider},
            outbox::Outbox,
            trace, Result,
        },
    },
    with_pool,
};

/// How long a claimed row belongs to the instance sending it.
pub const LEASE_SECS: i64 = 30;
/// How long one attempt may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts per row before it is marked failed (about nine hours of retries).
pub const MAX_ATTEMPTS: i64 = 16;
/// Rows sent at once by one instance.
const BATCH: i64 = 32;

/// Seconds to wait after the `attempts`-th failed attempt: 1, 2, 4, … up to an hour.
pub fn backoff(attempts: i64) -> i64 {
    (1i64 << (attempts - 1).clamp(0, 12)).min(3600)
}

/// The Standard Webhooks signature of `body` sent as message `id` at `timestamp`.
pub fn sign(secret: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    // HMAC accepts keys of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body.as_bytes());
    let tag = mac.finalize().into_bytes();
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(tag)
    )
}

/// Starts delivering (nothing to do when no receiver is configured).
pub fn spawn(db: Db, outbox: Outbox, secret: Option<WebhookSecret>, provider: Arc<Provider>) {
    let senders = Arc::new(Senders { secret, provider });
    let client = match reqwest::Client::builder()
        .timeout(TIMEOUT)
        .user_agent(concat!("Signoff-Webhooks/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(client) => client,
        Err(err) => {
            tracing::error!(error = %err, "webhook delivery cannot start");
            return;
        }
    };
    tokio::spawn(async move {
        loop {
            match deliver_due(&db, &client, &senders).await {
                // A full batch: more may be due right away.
                Ok(n) if n as i64 >= BATCH => continue,
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(error = %err, "webhook delivery: reading the outbox failed")
                }
            }
            if with_pool!(&db, p => p.is_closed()) {
                return;
            }
            tokio::select! {
                _ = outbox.written.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
        }
    });
}

/// What signs each kind of row: the webhook secret (Standard Webhooks) and the OpenID Provider's
/// keys (logout tokens).
struct Senders {
    secret: Option<WebhookSecret>,
    provider: Arc<Provider>,
}

#[derive(sqlx::FromRow)]
struct Due {
    /// `webhook` or `backchannel`.
    kind: String,
    event_id: String,
    endpoint: String,
    payload: String,
    attempts: i64,
    /// When the ending that wrote it committed (Unix seconds).
    created_at: i64,
    /// The W3C `traceparent` of the ending that wrote it (when traces were on).
    traceparent: Option<String>,
}

impl Due {
    /// The span of one attempt: in the trace of the ending that wrote the row.
    fn span(&self) -> tracing::Span {
        let span = tracing::info_span!(
            "outbox.delivery",
            otel.kind = "client",
            outbox.kind = %self.kind,
            outbox.event_id = %self.event_id,
            outbox.attempt = self.attempts + 1,
            server.address = %endpoint_for_logs(&self.endpoint),
            outbox.outcome = tracing::field::Empty,
        );
        trace::continue_from(&span, self.traceparent.as_deref());
        span
    }

    /// The trace id of the ending that wrote it, for the logs.
    fn trace_id(&self) -> &str {
        let parts = self.traceparent.as_deref().map(|t| t.split('-'));
        parts.and_then(|mut p| p.nth(1)).unwrap_or("")
    }
}

/// Claims and sends what is due; returns how many rows it claimed.
async fn deliver_due(db: &Db, client: &reqwest::Client, senders: &Arc<Senders>) -> Result<usize> {
    let at = now();
    // Claimed in one statement (one commit, where a claim per row cost a commit, and on SQLite FULL
    // an fsync, each): a row another instance claimed meanwhile no longer matches
    // `next_attempt_at <= now` when this statement comes to it, so no row is sent twice at once.
    // An instance without the webhook secret leaves webhook rows to those that have it.
    let kinds = if senders.secret.is_some() {
        ""
    } else {
        " AND kind = 'backchannel'"
    };
    let sql = format!(
        "UPDATE webhook_outbox SET next_attempt_at = $2 \
         WHERE (event_id, endpoint) IN (SELECT event_id, endpoint FROM webhook_outbox \
             WHERE delivered_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $1{kinds} \
             ORDER BY created_at, event_id LIMIT $3) \
         AND delivered_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $1 \
         RETURNING kind, event_id, endpoint, payload, attempts, created_at, traceparent"
    );
    let claimed: Vec<Due> = with_pool!(db, p => sqlx::query_as(&sql)
        .bind(at).bind(at + LEASE_SECS).bind(BATCH).fetch_all(p).await)?;
    let n = claimed.len();
    // Each on a task of its own: a logout token is signed (RSA) as it is sent, and the receivers
    // of one ending are told side by side, on every core.
    let mut sends = tokio::task::JoinSet::new();
    for row in claimed {
        let (client, senders) = (client.clone(), senders.clone());
        let span = row.span();
        sends.spawn(
            async move {
                let outcome = match row.kind.as_str() {
                    BACKCHANNEL => send_logout_token(&client, &senders.provider, &row).await,
                    _ => match &senders.secret {
                        Some(secret) => send(&client, secret, &row).await,
                        None => Err(Failure::Retry(
                            "no SIGNOFF_WEBHOOK_SECRET to sign with".into(),
                        )),
                    },
                };
                let said = match &outcome {
                    Ok(()) => "delivered",
                    Err(Failure::Retry(_)) => "retry",
                    Err(Failure::Final(_)) => "refused",
                };
                tracing::Span::current().record("outbox.outcome", said);
                (row, outcome)
            }
            .instrument(span),
        );
    }
    let mut attempts = Vec::with_capacity(n);
    while let Some(result) = sends.join_next().await {
        if let Ok(attempt) = result {
            attempts.push(attempt);
        }
    }
    if let Err(err) = record(db, attempts).await {
        tracing::warn!(error = %err, "outbox delivery: recording the attempts failed");
    }
    Ok(n)
}

/// Why an attempt failed: worth retrying (a timeout, no connection, a 5xx) or not (a logout
/// token's receiver answering 4xx: Back-Channel Logout 1.0 §2.8 says not to retry it).
enum Failure {
    Retry(String),
    Final(String),
}

/// The kind of outbox row that carries a logout token.
const BACKCHANNEL: &str = "backchannel";

async fn send(
    client: &reqwest::Client,
    secret: &WebhookSecret,
    row: &Due,
) -> std::result::Result<(), Failure> {
    let timestamp = now();
    let signature = sign(&secret.0, &row.event_id, timestamp, &row.payload);
    let answer = traced(client.post(&row.endpoint))
        .header("content-type", "application/json")
        .header("webhook-id", &row.event_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(row.payload.clone())
        .send()
        .await;
    outcome(answer, false)
}

/// A back-channel logout token: signed now (fresh `iat`, `exp` and `jti`), POSTed as a form.
async fn send_logout_token(
    client: &reqwest::Client,
    provider: &Provider,
    row: &Due,
) -> std::result::Result<(), Failure> {
    let keys = provider.keys.current();
    let token = logout_tokens::sign(&keys, &provider.issuer, &row.payload, now())
        .map_err(|e| Failure::Final(e.to_string()))?;
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("logout_token", &token)
        .finish();
    let answer = traced(client.post(&row.endpoint))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cache-control", "no-store")
        .body(body)
        .send()
        .await;
    outcome(answer, true)
}

/// A request carrying the current span's `traceparent` (when traces are on), so that a receiver
/// may continue the ending's trace.
fn traced(request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    match trace::current() {
        Some(traceparent) => request.header("traceparent", traceparent),
        None => request,
    }
}

fn outcome(
    answer: reqwest::Result<reqwest::Response>,
    final_on_4xx: bool,
) -> std::result::Result<(), Failure> {
    match answer {
        Ok(res) if res.status().is_success() => Ok(()),
        Ok(res) if final_on_4xx && res.status().is_client_error() => {
            Err(Failure::Final(format!("HTTP {}", res.status().as_u16())))
        }
        Ok(res) => Err(Failure::Retry(format!("HTTP {}", res.status().as_u16()))),
        Err(err) if err.is_timeout() => Err(Failure::Retry("timed out".into())),
        Err(err) if err.is_connect() => Err(Failure::Retry("could not connect".into())),
        Err(_) => Err(Failure::Retry("request failed".into())),
    }
}

/// A row, its attempts so far, and the error with whether it is given up (none: delivered).
type Recorded = (Due, i64, Option<(String, bool)>);

/// Records a batch's attempts in one transaction (one commit, where a commit per row held up the
/// next batch by as many fsyncs), then logs and counts them.
async fn record(db: &Db, attempts: Vec<(Due, std::result::Result<(), Failure>)>) -> Result<()> {
    let at = now();
    let rows: Vec<Recorded> = attempts
        .into_iter()
        .map(|(row, outcome)| {
            let n = row.attempts + 1;
            let failed = outcome.err().map(|failure| match failure {
                Failure::Final(e) => (e, true),
                Failure::Retry(e) => (e, n >= MAX_ATTEMPTS),
            });
            (row, n, failed)
        })
        .collect();
    with_pool!(db, p => async {
        let mut tx = p.begin().await?;
        for (row, n, failed) in &rows {
            let query = match failed {
                None => sqlx::query(
                    "UPDATE webhook_outbox SET delivered_at = $1, attempts = $2, last_error = NULL \
                     WHERE event_id = $3 AND endpoint = $4")
                    .bind(at).bind(n).bind(&row.event_id).bind(&row.endpoint),
                // Given up after the last attempt (or a final answer).
                Some((error, true)) => sqlx::query(
                    "UPDATE webhook_outbox SET failed_at = $1, attempts = $2, last_error = $5 \
                     WHERE event_id = $3 AND endpoint = $4")
                    .bind(at).bind(n).bind(&row.event_id).bind(&row.endpoint).bind(error),
                // Tried again after a back-off.
                Some((error, false)) => sqlx::query(
                    "UPDATE webhook_outbox SET next_attempt_at = $1, attempts = $2, last_error = $5 \
                     WHERE event_id = $3 AND endpoint = $4")
                    .bind(at + backoff(*n)).bind(n).bind(&row.event_id).bind(&row.endpoint).bind(error),
            };
            query.execute(&mut *tx).await?;
        }
        tx.commit().await
    }.await)?;
    for (row, attempts, failed) in &rows {
        // The endpoint without path or query (which may carry a token of the receiver's).
        let host = endpoint_for_logs(&row.endpoint);
        let kind: &'static str = if row.kind == BACKCHANNEL {
            BACKCHANNEL
        } else {
            "webhook"
        };
        match failed {
            None => {
                tracing::info!(event = %row.event_id, endpoint = %host, attempts, kind, trace_id = row.trace_id(), "delivered");
                // From the ending's commit (whole seconds) to the receiver's 2xx.
                let since = crate::server::metrics::since_unix(row.created_at);
                metrics::histogram!("signoff_outbox_delivery_seconds", "kind" => kind)
                    .record(since);
            }
            Some((error, give_up)) => {
                metrics::counter!("signoff_outbox_failures_total", "kind" => kind).increment(1);
                if *give_up {
                    tracing::error!(event = %row.event_id, endpoint = %host, attempts, kind, %error, trace_id = row.trace_id(), "delivery given up");
                } else {
                    tracing::warn!(event = %row.event_id, endpoint = %host, attempts, kind, %error, trace_id = row.trace_id(), "delivery attempt failed; will retry");
                }
            }
        }
    }
    Ok(())
}

/// An endpoint as logs show it: scheme, host and port only. Its path or query may carry the
/// receiver's token, and its user-info a password.
pub fn endpoint_for_logs(endpoint: &str) -> String {
    match reqwest::Url::parse(endpoint) {
        Ok(url) => {
            let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
            format!("{}://{}{port}", url.scheme(), url.host_str().unwrap_or(""))
        }
        Err(_) => "(an endpoint that is not a URL)".to_owned(),
    }
}

/// One outbox row as operators see it.
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Delivery {
    /// The event's id (`webhook-id`).
    pub event_id: String,
    /// Where it goes.
    pub endpoint: String,
    /// When the event was written (Unix seconds).
    pub created_at: i64,
    /// Attempts so far.
    pub attempts: i64,
    /// When it was delivered, if it was.
    pub delivered_at: Option<i64>,
    /// When it was given up, if it was.
    pub failed_at: Option<i64>,
    /// The next attempt (pending rows).
    pub next_attempt_at: i64,
    /// What went wrong last (`HTTP 500`, `could not connect`, …).
    pub last_error: Option<String>,
}

/// Where deliveries stand: counts, and the rows not delivered (newest first, at most `limit`).
#[derive(Debug, Serialize)]
pub struct Status {
    /// Rows waiting for an attempt or a retry.
    pub pending: i64,
    /// Rows delivered.
    pub delivered: i64,
    /// Rows given up.
    pub failed: i64,
    /// The rows not delivered.
    pub undelivered: Vec<Delivery>,
}

/// Reads the delivery state of the outbox.
pub async fn status(db: &Db, limit: i64) -> Result<Status> {
    let (pending, delivered, failed): (i64, i64, i64) = with_pool!(db, p => sqlx::query_as(
        "SELECT \
           COALESCE(SUM(CASE WHEN delivered_at IS NULL AND failed_at IS NULL THEN 1 ELSE 0 END), 0), \
           COALESCE(SUM(CASE WHEN delivered_at IS NOT NULL THEN 1 ELSE 0 END), 0), \
           COALESCE(SUM(CASE WHEN failed_at IS NOT NULL THEN 1 ELSE 0 END), 0) \
         FROM webhook_outbox")
        .fetch_one(p).await)?;
    let undelivered: Vec<Delivery> = with_pool!(db, p => sqlx::query_as(
        "SELECT event_id, endpoint, created_at, attempts, delivered_at, failed_at, next_attempt_at, last_error \
         FROM webhook_outbox WHERE delivered_at IS NULL ORDER BY created_at DESC, event_id DESC LIMIT $1")
        .bind(limit).fetch_all(p).await)?;
    Ok(Status {
        pending,
        delivered,
        failed,
        undelivered,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_matches_the_standard_webhooks_example() {
        // The example in the Standard Webhooks specification's reference libraries.
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&secret.0, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn back_off_doubles_up_to_an_hour() {
        assert_eq!((1..=4).map(backoff).collect::<Vec<_>>(), vec![1, 2, 4, 8]);
        assert_eq!(backoff(40), 3600);
    }
}
