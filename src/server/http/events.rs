//! `GET /events`: live sign-out of open pages.
//!
//! Every signed-in page holds one server-sent-events stream (cookie-authenticated). When its
//! sign-in ends, from any page, API, scope or instance, the stream sends
//!
//! ```text
//! event: signed-out
//! data: {"reason":"logout_global"}
//! ```
//!
//! and closes; the page goes to `/login?ended=<reason>`. The stream learns of the ending from the
//! same path that feeds the JWT denylist ([`Revocations::watch`]): this process's own commits, the
//! PostgreSQL notifications of other instances, and the reload after a lost listener reconnects.
//! As a second line, it re-reads its sign-in every [`RECHECK`].
//!
//! Bounded: at most [`MAX_WATCHERS_PER_SIGNIN`] streams per sign-in (one per tab), per user
//! (`SIGNOFF_EVENTS_PER_USER`, over all of the user's sign-ins) and per instance
//! (`SIGNOFF_EVENTS_MAX`), counted by [`Streams`] (429 past any of them), a comment every
//! [`HEARTBEAT`] (which also notices a client that went away), and closed after [`MAX_AGE`], when
//! the browser reconnects on its own and is checked again from scratch.
//!
//! [`Revocations::watch`]: crate::server::domain::revocations::Revocations::watch
//! [`MAX_WATCHERS_PER_SIGNIN`]: crate::server::domain::revocations::MAX_WATCHERS_PER_SIGNIN

use std::{
    collections::HashMap,
    convert::Infallible,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    extract::State,
    response::{
        sse::{Event, Sse},
        IntoResponse, Response,
    },
};
use http::{header, HeaderValue, StatusCode};
use tower_sessions::Session;

use super::session::signin_id;
use crate::server::{
    domain::{EndReason, SigninStatus},
    AppState,
};

/// A comment line this often keeps proxies from closing an idle stream.
pub const HEARTBEAT: Duration = Duration::from_secs(20);
/// The sign-in is re-read from the database this often, whatever the notifications said.
pub const RECHECK: Duration = Duration::from_secs(60);
/// A stream lives this long at most; the browser then opens a new one.
pub const MAX_AGE: Duration = Duration::from_secs(30 * 60);
/// How long the browser waits before reconnecting a dropped stream.
const RETRY: Duration = Duration::from_secs(2);

fn plain(status: StatusCode, text: &'static str) -> Response {
    let mut res = (status, text).into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    }
    res
}

fn signed_out(reason: Option<EndReason>) -> Event {
    let reason = reason.unwrap_or(EndReason::Logout).as_str();
    Event::default()
        .event("signed-out")
        .data(serde_json::json!({ "reason": reason }).to_string())
}

/// The open streams of this instance: how many per user and in all, each held by a [`Slot`].
#[derive(Clone, Debug)]
pub struct Streams(Arc<StreamsInner>);

#[derive(Debug)]
struct StreamsInner {
    per_user: usize,
    max: usize,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    by_user: HashMap<String, usize>,
}

impl Streams {
    /// At most `per_user` streams for one user and `max` in all.
    pub fn new(per_user: usize, max: usize) -> Self {
        Self(Arc::new(StreamsInner {
            per_user,
            max,
            open: Mutex::default(),
        }))
    }

    /// Whether one more stream would pass the instance's cap (checked before any database read).
    fn full(&self) -> bool {
        self.0.open.lock().expect("not poisoned").total >= self.0.max
    }

    /// A slot for one more stream of `user_id`, unless that passes a cap.
    fn admit(&self, user_id: &str) -> Option<Slot> {
        let mut open = self.0.open.lock().expect("not poisoned");
        let mine = open.by_user.get(user_id).copied().unwrap_or(0);
        if open.total >= self.0.max || mine >= self.0.per_user {
            return None;
        }
        open.total += 1;
        open.by_user.insert(user_id.to_owned(), mine + 1);
        Some(Slot {
            streams: self.clone(),
            user_id: user_id.to_owned(),
        })
    }
}

/// One open stream, counted in [`Streams`] until dropped.
#[derive(Debug)]
struct Slot {
    streams: Streams,
    user_id: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.streams.0.open.lock().expect("not poisoned");
        open.total -= 1;
        if let Some(n) = open.by_user.get_mut(&self.user_id) {
            *n -= 1;
            if *n == 0 {
                open.by_user.remove(&self.user_id);
            }
        }
    }
}

/// `GET /events` (see the module docs).
pub async fn events(State(state): State<AppState>, session: Session, streams: Streams) -> Response {
    // The sign-in's id only: an open page's stream is no use of its sign-in (it would keep an idle
    // one alive), so not [`super::session::Browser`], which records one.
    let signin = match signin_id(&session).await {
        Ok(id) => id,
        Err(err) => {
            tracing::error!(error = %err, "events: reading the session failed");
            return plain(StatusCode::SERVICE_UNAVAILABLE, "Try again in a moment.");
        }
    };
    // 204 tells the browser's EventSource not to reconnect.
    let Some(signin) = signin else {
        return plain(StatusCode::NO_CONTENT, "");
    };
    if streams.full() {
        return plain(StatusCode::TOO_MANY_REQUESTS, "Too many open pages.");
    }
    // Watch first, then read: an ending between the two cannot be missed.
    let Some(mut watch) = state.auth.revocations().watch(&signin) else {
        return plain(StatusCode::TOO_MANY_REQUESTS, "Too many open pages.");
    };
    let mut slot = None;
    let first = match state.auth.signin_state(&signin).await {
        Ok((SigninStatus::Active, Some(user_id))) => {
            match streams.admit(&user_id) {
                Some(admitted) => slot = Some(admitted),
                None => return plain(StatusCode::TOO_MANY_REQUESTS, "Too many open pages."),
            }
            None
        }
        Ok((SigninStatus::Ended(reason), _)) => Some(reason),
        Ok((SigninStatus::Missing | SigninStatus::Active, _)) => {
            return plain(StatusCode::NO_CONTENT, "")
        }
        Err(err) => {
            tracing::error!(error = %err, "events: reading the sign-in failed");
            return plain(StatusCode::SERVICE_UNAVAILABLE, "Try again in a moment.");
        }
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Event>(4);
    tokio::spawn(async move {
        let ended = match first {
            Some(reason) => Some(reason),
            None => {
                let _ = tx
                    .send(Event::default().retry(RETRY).comment("connected"))
                    .await;
                let mut heartbeat = tokio::time::interval(HEARTBEAT);
                heartbeat.tick().await;
                let mut recheck = tokio::time::interval(RECHECK);
                recheck.tick().await;
                let deadline = tokio::time::sleep(MAX_AGE);
                tokio::pin!(deadline);
                loop {
                    tokio::select! {
                        reason = watch.ended() => break Some(reason),
                        _ = tx.closed() => break None,
                        _ = &mut deadline => break None,
                        _ = heartbeat.tick() => {
                            if tx.send(Event::default().comment("")).await.is_err() {
                                break None;
                            }
                        }
                        _ = recheck.tick() => match state.auth.enforce_lifetime(&signin).await {
                            Ok(SigninStatus::Ended(reason)) => break Some(reason),
                            Ok(SigninStatus::Missing) => break Some(None),
                            _ => {}
                        },
                    }
                }
            }
        };
        if let Some(reason) = ended {
            let _ = tx.send(signed_out(reason)).await;
        }
        // Dropping `tx` ends the stream; dropping `watch` stops watching; dropping `slot` frees
        // its place.
        drop(slot);
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|e| (Ok::<_, Infallible>(e), rx))
    });
    let mut res = Sse::new(stream).into_response();
    // Proxies must pass each event on at once.
    res.headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    res
}
