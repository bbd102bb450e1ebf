//! What an ending tells other services, written in its own transaction (so nothing is lost on a
//! crash and nothing is sent for an ending rolled back): a `session.ended` webhook event per ended
//! sign-in and receiver, and a Back-Channel Logout token's claims per OpenID client that received an
//! ID token in it. The outbox's delivery worker sends them (`server::webhooks`).

use std::collections::HashMap;

use super::{
    tx::{Ctx, DbResult, Tx, Val},
    EndedSignin,
};
use crate::server::domain::{
    model::EndReason,
    outbox::{self, LogoutToken, SigninFacts},
};

/// Writes a `session.ended` event per ended sign-in and receiver to the webhook outbox (nothing
/// when no receiver is configured), in the transaction that ends them.
pub(super) async fn webhook_events<T: Tx>(
    tx: &mut T,
    ctx: &Ctx<'_>,
    ended: &[&EndedSignin],
    traces: &Traces<'_>,
) -> DbResult<()> {
    if !ctx.outbox.enabled() || ended.is_empty() {
        return Ok(());
    }
    let reasons = Reasons::of(ended);
    for chunk in ended.chunks(500) {
        let (list, args) = id_list::<T>(chunk);
        let sql = format!(
            "SELECT s.id, s.user_id, s.kind, s.last_seen_at, \
             (SELECT COUNT(*) FROM tokens t WHERE t.signin_id = s.id AND t.expires_at IS NULL), \
             (SELECT MAX(t.expires_at) FROM tokens t WHERE t.signin_id = s.id), \
             (SELECT MAX(r.expires_at) FROM refresh_tokens r WHERE r.signin_id = s.id) \
             FROM signins s WHERE s.id IN ({list})"
        );
        type FactsRow = (String, String, String, i64, i64, Option<i64>, Option<i64>);
        let rows: Vec<FactsRow> = tx.rows(&sql, &args).await?;
        for (id, user_id, kind, last_seen_at, unexpiring, token_exp, refresh_exp) in rows {
            let facts = SigninFacts {
                id,
                user_id,
                kind,
                last_seen_at,
                has_unexpiring_token: unexpiring > 0,
                token_expires_at: token_exp,
                refresh_expires_at: refresh_exp,
            };
            let reason = reasons.of_signin(&facts.id);
            let body =
                outbox::session_ended(&facts, reason.as_str(), ctx.at, ctx.outbox.session_idle);
            let id = outbox::event_id();
            let trace: Val = traces.get(facts.id.as_str()).copied().into();
            for endpoint in ctx.outbox.endpoints.iter() {
                tx.exec(
                    "INSERT INTO webhook_outbox (event_id, endpoint, payload, created_at, next_attempt_at, attempts, traceparent) \
                     VALUES ($1, $2, $3, $4, $4, 0, $5)",
                    &[id.as_str().into(), endpoint.into(), body.as_str().into(), ctx.at.into(), trace.clone()],
                )
                .await?;
            }
        }
    }
    Ok(())
}

/// Writes a back-channel logout token's claims to the outbox for every OpenID client that received
/// an ID token in an ended sign-in and has a `backchannel_logout_uri`, in the transaction that ends
/// it (the token is signed at each delivery attempt, by the OpenID Provider).
pub(super) async fn logout_tokens<T: Tx>(
    tx: &mut T,
    ctx: &Ctx<'_>,
    ended: &[&EndedSignin],
    traces: &Traces<'_>,
) -> DbResult<()> {
    if ended.is_empty() {
        return Ok(());
    }
    let reasons = Reasons::of(ended);
    for chunk in ended.chunks(500) {
        let (list, args) = id_list::<T>(chunk);
        let sql = format!(
            "SELECT g.signin_id, g.client_id, g.sub, c.backchannel_logout_uri \
             FROM oidc_signin_clients g JOIN oidc_clients c ON c.client_id = g.client_id \
             WHERE g.signin_id IN ({list}) AND c.backchannel_logout_uri IS NOT NULL"
        );
        let rows: Vec<(String, String, String, String)> = tx.rows(&sql, &args).await?;
        for (sid, client_id, sub, endpoint) in rows {
            let reason = reasons.of_signin(&sid);
            let payload = LogoutToken::payload(&client_id, &sub, &sid, reason);
            tx.exec(
                "INSERT INTO webhook_outbox (event_id, endpoint, payload, created_at, next_attempt_at, attempts, kind, traceparent) \
                 VALUES ($1, $2, $3, $4, $4, 0, 'backchannel', $5)",
                &[
                    LogoutToken::event_id().as_str().into(),
                    endpoint.as_str().into(),
                    payload.as_str().into(),
                    ctx.at.into(),
                    traces.get(sid.as_str()).copied().into(),
                ],
            )
            .await?;
        }
    }
    Ok(())
}

/// The trace that ended each sign-in, by its id (those asked for with traces on).
pub(super) type Traces<'a> = HashMap<&'a str, &'a str>;

/// Why each ended sign-in ended, by its id.
struct Reasons<'a>(HashMap<&'a str, EndReason>);

impl<'a> Reasons<'a> {
    fn of(ended: &[&'a EndedSignin]) -> Self {
        Self(ended.iter().map(|e| (e.id.as_str(), e.reason)).collect())
    }

    fn of_signin(&self, id: &str) -> EndReason {
        self.0.get(id).copied().unwrap_or(EndReason::Logout)
    }
}

/// `chunk`'s sign-in ids as a statement's `IN (…)` list, with its arguments.
fn id_list<T: Tx>(chunk: &[&EndedSignin]) -> (String, Vec<Val>) {
    let mut args = Vec::new();
    let list = T::list(&mut args, chunk.iter().map(|e| e.id.clone()).collect());
    (list, args)
}
