//! The provider's RS256 signing keys: 2048-bit RSA keys, one PKCS#8 PEM file each, in a directory
//! the operator names (`SIGNOFF_OIDC_KEYS`; required in production) or, for the embedded default,
//! one beside the SQLite database. Never in the database. The directory is owner-only (0700) and
//! each file too (0600).
//!
//! A file is named `<created>-<random>.pem` (Unix seconds). The newest key signs; an older one is
//! still published in the JWKS (so that what it signed still verifies) until [`RETIRE_AFTER`] after
//! its successor was created, the longest any token it signed can live, and `signoff keys rotate`
//! deletes it after that. Every instance reads the directory again every [`RELOAD_EVERY`], so a
//! rotation reaches the running servers without a restart.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, RwLock},
};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use rsa::{
    pkcs1::EncodeRsaPrivateKey,
    pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding},
    traits::PublicKeyParts,
    RsaPrivateKey,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::super::{
    keys::{io, prepare_dir, write_private_new},
    model::{AuthError, Result},
};
use crate::server::db::now;

/// How long a replaced key stays published: the longest lifetime of anything it signed (an ID token,
/// [`super::ID_TOKEN_TTL`]; a logout token, [`super::LOGOUT_TOKEN_TTL`]) and the reload interval.
pub const RETIRE_AFTER: i64 = super::ID_TOKEN_TTL + super::LOGOUT_TOKEN_TTL + 2 * RELOAD_EVERY_SECS;
const RELOAD_EVERY_SECS: i64 = 10;
/// How often a running server reads the key directory again.
pub const RELOAD_EVERY: std::time::Duration =
    std::time::Duration::from_secs(RELOAD_EVERY_SECS as u64);
const BITS: usize = 2048;

/// One key as the JWKS publishes it (RFC 7517): the public part only.
#[derive(Clone, Debug, Serialize)]
pub struct Jwk {
    pub kty: &'static str,
    #[serde(rename = "use")]
    pub use_: &'static str,
    pub alg: &'static str,
    pub kid: String,
    pub n: String,
    pub e: String,
}

/// One loaded key.
struct Loaded {
    created: i64,
    kid: String,
    jwk: Jwk,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

/// The keys in use: the newest signs, all of them verify and are published.
pub struct KeySet {
    keys: Vec<Loaded>,
}

impl KeySet {
    /// The public keys, newest first.
    pub fn jwks(&self) -> Vec<Jwk> {
        self.keys.iter().map(|k| k.jwk.clone()).collect()
    }

    /// Signs `claims` with the newest key, with header `typ`.
    pub fn sign<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String> {
        let key = self
            .keys
            .first()
            .ok_or_else(|| AuthError::Internal("no OpenID signing key".into()))?;
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(key.kid.clone());
        header.typ = Some(typ.to_owned());
        jsonwebtoken::encode(&header, claims, &key.encoding)
            .map_err(|e| AuthError::Internal(format!("signing with the OpenID key: {e}")))
    }

    /// The key a token names by `kid`, if it is one of these.
    pub fn decoding(&self, kid: &str) -> Option<&DecodingKey> {
        self.keys.iter().find(|k| k.kid == kid).map(|k| &k.decoding)
    }
}

/// The key directory and what was last read from it.
pub struct KeyRing {
    dir: PathBuf,
    current: RwLock<Arc<KeySet>>,
}

impl KeyRing {
    /// Reads `dir` (created owner-only when missing); generates the first key when it holds none.
    pub fn open(dir: &Path) -> Result<Self> {
        prepare_dir(dir)?;
        if read_dir(dir)?.is_empty() {
            let (kid, path) = write_new_key(dir)?;
            tracing::info!(%kid, path = %path.display(), "generated the first OpenID signing key");
        }
        let set = load(dir)?;
        Ok(Self {
            dir: dir.to_owned(),
            current: RwLock::new(Arc::new(set)),
        })
    }

    /// The keys now in use.
    pub fn current(&self) -> Arc<KeySet> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Reads the directory again (after a `signoff keys rotate`); keeps the old set on failure.
    pub fn reload(&self) {
        match load(&self.dir) {
            Ok(set) => *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(set),
            Err(err) => {
                tracing::error!(error = %err, "reading the OpenID signing keys failed; keeping the ones loaded")
            }
        }
    }
}

/// `signoff keys rotate`: a new signing key, published at once (the old one stays published for
/// [`RETIRE_AFTER`]); keys retired longer than that are deleted. Returns the new key's `kid` and
/// the `kid`s deleted.
pub fn rotate(dir: &Path) -> Result<(String, Vec<String>)> {
    prepare_dir(dir)?;
    let (kid, _) = write_new_key(dir)?;
    let mut files = read_dir(dir)?;
    files.sort_by_key(|(created, _)| std::cmp::Reverse(*created));
    let mut deleted = Vec::new();
    // A key is retired when its successor (the next newer) was created.
    for pair in files.windows(2) {
        let (successor_created, _) = &pair[0];
        let (_, path) = &pair[1];
        if now() - successor_created > RETIRE_AFTER {
            if let Ok(key) = read_key(path) {
                deleted.push(key.kid);
            }
            std::fs::remove_file(path).map_err(|e| io("deleting a retired key", e))?;
        }
    }
    Ok((kid, deleted))
}

/// The key files of `dir`, with their creation times (from their names).
fn read_dir(dir: &Path) -> Result<Vec<(i64, PathBuf)>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| io(&format!("reading {}", dir.display()), e))? {
        let path = entry
            .map_err(|e| io("reading the key directory", e))?
            .path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(stem) = name.strip_suffix(".pem") else {
            continue;
        };
        if let Some(created) = stem.split('-').next().and_then(|c| c.parse::<i64>().ok()) {
            files.push((created, path));
        }
    }
    Ok(files)
}

/// Generates a key and writes it (0600, whole or not at all, never replacing a file).
fn write_new_key(dir: &Path) -> Result<(String, PathBuf)> {
    let key = RsaPrivateKey::new(&mut rand::rngs::OsRng, BITS)
        .map_err(|e| AuthError::Internal(format!("generating an RSA key: {e}")))?;
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| AuthError::Internal(format!("encoding an RSA key: {e}")))?;
    let name = format!("{}-{}.pem", now(), hex::encode(rand::random::<[u8; 4]>()));
    let path = dir.join(name);
    if !write_private_new(&path, pem.as_bytes())? {
        return Err(AuthError::Internal(format!(
            "{} exists already",
            path.display()
        )));
    }
    Ok((thumbprint(&key), path))
}

/// RFC 7638: the key's JWK thumbprint, its `kid`.
fn thumbprint(key: &RsaPrivateKey) -> String {
    let (n, e) = components(key);
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

fn components(key: &RsaPrivateKey) -> (String, String) {
    (
        URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()),
        URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
    )
}

fn read_key(path: &Path) -> Result<Loaded> {
    let pem =
        std::fs::read_to_string(path).map_err(|e| io(&format!("reading {}", path.display()), e))?;
    let key = RsaPrivateKey::from_pkcs8_pem(&pem).map_err(|e| {
        AuthError::Internal(format!("{} is no PKCS#8 RSA key: {e}", path.display()))
    })?;
    if key.size() * 8 < BITS {
        return Err(AuthError::Internal(format!(
            "{} is shorter than {BITS} bits",
            path.display()
        )));
    }
    let der = key
        .to_pkcs1_der()
        .map_err(|e| AuthError::Internal(format!("encoding an RSA key: {e}")))?;
    let (n, e) = components(&key);
    let decoding = DecodingKey::from_rsa_components(&n, &e)
        .map_err(|e| AuthError::Internal(format!("an RSA public key: {e}")))?;
    let kid = thumbprint(&key);
    Ok(Loaded {
        created: 0,
        jwk: Jwk {
            kty: "RSA",
            use_: "sig",
            alg: "RS256",
            kid: kid.clone(),
            n,
            e,
        },
        kid,
        encoding: EncodingKey::from_rsa_der(der.as_bytes()),
        decoding,
    })
}

/// The published keys of `dir`, newest first: the newest, and each older one until
/// [`RETIRE_AFTER`] after its successor was created.
fn load(dir: &Path) -> Result<KeySet> {
    let mut files = read_dir(dir)?;
    files.sort_by_key(|(created, _)| std::cmp::Reverse(*created));
    let mut keys: Vec<Loaded> = Vec::new();
    for (created, path) in files {
        if let Some(successor) = keys.last() {
            if now() - successor.created > RETIRE_AFTER {
                break;
            }
        }
        let mut key = read_key(&path)?;
        key.created = created;
        keys.push(key);
    }
    if keys.is_empty() {
        return Err(AuthError::Internal(format!(
            "no OpenID signing key in {} (run `signoff keys rotate`)",
            dir.display()
        )));
    }
    Ok(KeySet { keys })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_new_directory_is_owner_only_and_gets_one_key_that_signs() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("keys");
        let ring = KeyRing::open(&dir).unwrap();
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let files = read_dir(&dir).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(
            std::fs::metadata(&files[0].1).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let set = ring.current();
        let jwks = set.jwks();
        assert_eq!(jwks.len(), 1);
        // 2048 bits: 256 bytes of modulus.
        assert_eq!(URL_SAFE_NO_PAD.decode(&jwks[0].n).unwrap().len(), 256);
        let json = serde_json::to_value(&jwks[0]).unwrap();
        assert!(
            json.get("d").is_none() && json.get("p").is_none(),
            "no private part"
        );
        let token = set.sign("JWT", &serde_json::json!({"a": 1})).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.kid.as_deref(), Some(jwks[0].kid.as_str()));
        assert_eq!(header.alg, Algorithm::RS256);
    }

    #[test]
    fn rotation_publishes_the_new_key_and_keeps_the_old_one_until_it_retires() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("keys");
        let ring = KeyRing::open(&dir).unwrap();
        let old = ring.current().jwks()[0].kid.clone();
        // The first key, as if created long ago (its name carries its creation time).
        let (_, path) = read_dir(&dir).unwrap().remove(0);
        let ancient = dir.join(format!("{}-00000000.pem", now() - 10 * RETIRE_AFTER));
        std::fs::rename(&path, &ancient).unwrap();
        let (new, deleted) = rotate(&dir).unwrap();
        assert!(deleted.is_empty(), "its successor is new: still published");
        ring.reload();
        let kids: Vec<String> = ring.current().jwks().into_iter().map(|k| k.kid).collect();
        assert_eq!(kids, vec![new.clone(), old.clone()]);
        // A third key, and the second retired long ago: the first goes.
        let (_, second) = read_dir(&dir)
            .unwrap()
            .into_iter()
            .find(|(_, p)| *p != ancient)
            .unwrap();
        std::fs::rename(
            &second,
            dir.join(format!("{}-11111111.pem", now() - 5 * RETIRE_AFTER)),
        )
        .unwrap();
        let (third, deleted) = rotate(&dir).unwrap();
        assert_eq!(deleted, vec![old]);
        ring.reload();
        let kids: Vec<String> = ring.current().jwks().into_iter().map(|k| k.kid).collect();
        assert_eq!(kids, vec![third, new]);
    }

    #[test]
    fn a_directory_open_to_others_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("keys");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(KeyRing::open(&dir).is_err());
    }
}
