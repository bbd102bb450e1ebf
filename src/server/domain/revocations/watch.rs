//! The open pages waiting for the end of their sign-in: an `/events` stream [`Revocations::watch`]es
//! its sign-in, and every ending this process learns of (its own commits, other instances'
//! notifications, a reload after the listener reconnects) wakes the streams of that sign-in with
//! the reason.

use std::sync::Arc;

use tokio::sync::watch;

use super::Revocations;
use crate::server::domain::model::EndReason;

/// Open streams per sign-in at most (one per tab of one browser).
pub const MAX_WATCHERS_PER_SIGNIN: usize = 32;

/// A page's wait for the end of its sign-in; stops watching when dropped.
pub struct Watch {
    rx: Option<watch::Receiver<Option<Option<EndReason>>>>,
    signin_id: String,
    owner: Arc<Revocations>,
}

impl Watch {
    /// Resolves when the sign-in ends, with the reason when known.
    pub async fn ended(&mut self) -> Option<EndReason> {
        let rx = self.rx.as_mut()?;
        let seen = rx.wait_for(Option::is_some).await.map(|v| v.flatten());
        match seen {
            Ok(reason) => reason,
            // The sender is only dropped once no watch is left; never while this one lives.
            Err(_) => std::future::pending().await,
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        drop(self.rx.take());
        let mut map = self
            .owner
            .watchers
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if map
            .get(&self.signin_id)
            .is_some_and(|tx| tx.receiver_count() == 0)
        {
            map.remove(&self.signin_id);
        }
    }
}

impl Revocations {
    /// Starts watching sign-in `signin_id` for its end; `None` when it already has
    /// [`MAX_WATCHERS_PER_SIGNIN`] watchers. The caller checks that the sign-in is active *after*
    /// this call, so that an ending between the check and the watch cannot be missed.
    pub fn watch(self: &Arc<Self>, signin_id: &str) -> Option<Watch> {
        let mut map = self.watchers.lock().unwrap_or_else(|e| e.into_inner());
        let tx = map
            .entry(signin_id.to_owned())
            .or_insert_with(|| watch::channel(None).0);
        if tx.receiver_count() >= MAX_WATCHERS_PER_SIGNIN {
            return None;
        }
        let rx = tx.subscribe();
        Some(Watch {
            rx: Some(rx),
            signin_id: signin_id.to_owned(),
            owner: self.clone(),
        })
    }

    pub(super) fn wake(&self, signin_id: &str, reason: Option<EndReason>) {
        let map = self.watchers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = map.get(signin_id) {
            tx.send_replace(Some(reason));
        }
    }

    /// How many sign-ins have open pages watching them.
    pub fn watched(&self) -> usize {
        self.watchers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// How many streams are open, over every watched sign-in.
    pub fn streams(&self) -> usize {
        self.watchers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(|tx| tx.receiver_count())
            .sum()
    }
}
