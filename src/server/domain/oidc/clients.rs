//! The provider's clients, registered by the operator (`signoff clients add/list/remove`) and read
//! from the database on each use, so a change reaches every running instance at once.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use super::super::{
    model::{AuthError, Result},
    opaque::{digest, random_token},
};
use crate::{
    server::db::{now, Db},
    with_pool,
};

/// A registered client.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Client {
    pub client_id: String,
    pub name: String,
    /// Confidential clients authenticate with a secret; public ones (`--public`) use PKCE alone.
    pub public: bool,
    /// The secret's digest, as an opaque token's is stored (`opaque::digest`). A secret is 256
    /// random bits, so a plain SHA-256 cannot be reversed by guessing, and a slow password hash
    /// (argon2) would only slow every token request.
    #[serde(skip)]
    secret_digest: Option<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    pub created_at: i64,
}

/// What `signoff clients add` registers.
#[derive(Clone, Debug, Default)]
pub struct NewClient {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    pub public: bool,
}

#[derive(sqlx::FromRow)]
struct Row {
    client_id: String,
    name: String,
    secret_digest: Option<String>,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    backchannel_logout_uri: Option<String>,
    created_at: i64,
}

impl From<Row> for Client {
    fn from(r: Row) -> Self {
        let list = |text: &str| serde_json::from_str::<Vec<String>>(text).unwrap_or_default();
        Client {
            public: r.secret_digest.is_none(),
            client_id: r.client_id,
            name: r.name,
            secret_digest: r.secret_digest,
            redirect_uris: list(&r.redirect_uris),
            post_logout_redirect_uris: list(&r.post_logout_redirect_uris),
            backchannel_logout_uri: r.backchannel_logout_uri,
            created_at: r.created_at,
        }
    }
}

impl Client {
    /// Whether `secret` is this client's (constant time); a public client has none.
    pub fn secret_matches(&self, secret: &str) -> bool {
        match &self.secret_digest {
            Some(stored) => stored.as_bytes().ct_eq(digest(secret).as_bytes()).into(),
            None => false,
        }
    }

    /// Whether `uri` is one of its redirect URIs, exactly.
    pub fn allows_redirect(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|u| u == uri)
    }

    /// Whether `uri` is one of its post-logout redirect URIs, exactly.
    pub fn allows_post_logout(&self, uri: &str) -> bool {
        self.post_logout_redirect_uris.iter().any(|u| u == uri)
    }
}

/// An absolute URI without a fragment (OpenID Connect Core 3.1.2.1, RFC 6749 3.1.2).
pub fn check_uri(what: &str, uri: &str) -> std::result::Result<(), String> {
    let parsed =
        url::Url::parse(uri).map_err(|_| format!("{what} {uri:?} is not an absolute URI"))?;
    if parsed.fragment().is_some() {
        return Err(format!("{what} {uri:?} must not have a fragment"));
    }
    if parsed.cannot_be_a_base() {
        return Err(format!("{what} {uri:?} is not an absolute URI"));
    }
    if matches!(parsed.scheme(), "javascript" | "data" | "file") {
        return Err(format!(
            "{what} {uri:?} has a scheme no browser should be sent to"
        ));
    }
    Ok(())
}

const SELECT: &str =
    "SELECT client_id, name, secret_digest, redirect_uris, post_logout_redirect_uris, \
                      backchannel_logout_uri, created_at FROM oidc_clients";

/// What makes a registration unusable, in words for the operator.
pub fn validate(new: &NewClient) -> std::result::Result<(), String> {
    if new.name.trim().is_empty() {
        return Err("a client needs a --name".into());
    }
    if new.redirect_uris.is_empty() {
        return Err("a client needs at least one --redirect-uri".into());
    }
    for uri in &new.redirect_uris {
        check_uri("redirect URI", uri)?;
    }
    for uri in &new.post_logout_redirect_uris {
        check_uri("post-logout redirect URI", uri)?;
    }
    if let Some(uri) = &new.backchannel_logout_uri {
        check_uri("back-channel logout URI", uri)?;
        if !uri.starts_with("http://") && !uri.starts_with("https://") {
            return Err(format!("back-channel logout URI {uri:?} must be http(s)"));
        }
    }
    Ok(())
}

/// Registers a client; returns it and, for a confidential one, its secret (shown once).
pub async fn add(db: &Db, new: &NewClient) -> Result<(Client, Option<SecretString>)> {
    validate(new).map_err(AuthError::Internal)?;
    let mut id = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut id);
    let client_id = format!("soc_{}", URL_SAFE_NO_PAD.encode(id));
    let secret = (!new.public).then(|| random_token("socs_"));
    let json = |v: &Vec<String>| serde_json::to_string(v).unwrap_or_else(|_| "[]".into());
    let at = now();
    with_pool!(db, p => sqlx::query(
        "INSERT INTO oidc_clients (client_id, name, secret_digest, redirect_uris, \
         post_logout_redirect_uris, backchannel_logout_uri, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(&client_id).bind(new.name.trim()).bind(secret.as_ref().map(|s| digest(s.expose_secret())))
        .bind(json(&new.redirect_uris)).bind(json(&new.post_logout_redirect_uris))
        .bind(&new.backchannel_logout_uri).bind(at)
        .execute(p).await.map(|_| ()))?;
    let client = find(db, &client_id)
        .await?
        .ok_or_else(|| AuthError::Internal("the new client is missing".into()))?;
    Ok((client, secret))
}

/// A client by id.
pub async fn find(db: &Db, client_id: &str) -> Result<Option<Client>> {
    if client_id.is_empty() || client_id.len() > 200 {
        return Ok(None);
    }
    let sql = format!("{SELECT} WHERE client_id = $1");
    let row: Option<Row> =
        with_pool!(db, p => sqlx::query_as(&sql).bind(client_id).fetch_optional(p).await)?;
    Ok(row.map(Client::from))
}

/// Every client, oldest first.
pub async fn list(db: &Db) -> Result<Vec<Client>> {
    let sql = format!("{SELECT} ORDER BY created_at, client_id");
    let rows: Vec<Row> = with_pool!(db, p => sqlx::query_as(&sql).fetch_all(p).await)?;
    Ok(rows.into_iter().map(Client::from).collect())
}

/// Removes a client: it can no longer authenticate, and no logout token is sent to it. Returns
/// false when there was none.
pub async fn remove(db: &Db, client_id: &str) -> Result<bool> {
    let n = with_pool!(db, p => sqlx::query("DELETE FROM oidc_clients WHERE client_id = $1")
        .bind(client_id).execute(p).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_must_be_absolute_without_a_fragment() {
        assert!(check_uri("x", "https://app.example/cb").is_ok());
        assert!(check_uri("x", "http://127.0.0.1:8080/cb?a=1").is_ok());
        assert!(check_uri("x", "com.example.app:/cb").is_ok());
        assert!(check_uri("x", "/cb").is_err());
        assert!(check_uri("x", "https://app.example/cb#frag").is_err());
        assert!(check_uri("x", "javascript:alert(1)").is_err());
    }

    #[tokio::test]
    async fn a_secret_is_stored_hashed_and_checked() {
        let db = Db::connect("sqlite::memory:").await.unwrap();
        db.migrate().await.unwrap();
        let new = NewClient {
            name: "App".into(),
            redirect_uris: vec!["https://app.example/cb".into()],
            ..Default::default()
        };
        let (client, secret) = add(&db, &new).await.unwrap();
        let secret = secrecy::ExposeSecret::expose_secret(secret.as_ref().unwrap()).to_owned();
        let stored: String = with_pool!(&db, p => sqlx::query_scalar(
            "SELECT secret_digest FROM oidc_clients").fetch_one(p).await)
        .unwrap();
        assert!(!stored.contains(&secret));
        let found = find(&db, &client.client_id).await.unwrap().unwrap();
        assert!(found.secret_matches(&secret));
        assert!(!found.secret_matches("socs_wrong"));
        assert!(found.allows_redirect("https://app.example/cb"));
        assert!(!found.allows_redirect("https://app.example/cb/"));
        let public = add(
            &db,
            &NewClient {
                public: true,
                ..new
            },
        )
        .await
        .unwrap();
        assert!(public.1.is_none() && public.0.public);
        assert_eq!(list(&db).await.unwrap().len(), 2);
        assert!(remove(&db, &client.client_id).await.unwrap());
        assert!(find(&db, &client.client_id).await.unwrap().is_none());
    }
}
