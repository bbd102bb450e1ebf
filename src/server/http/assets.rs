//! The browser bundle under `/pkg`: brotli or gzip by content negotiation from files compressed
//! once ([`precompress`]), and cached for a year when the name carries its content's hash
//! (cargo-leptos `hash-files`), so a visit after the first downloads nothing and a new build is a
//! new name.
//!
//! The files are read from disk once ([`Bundle`]) and answered from memory; tower-http's `ServeDir`
//! answers what that does not cover (a file added since, a `Range` request), from disk.
//!
//! Pages are not served here: they stay `no-store` (see [`super::guard`]).

use std::{
    collections::HashMap,
    io::Write,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::SystemTime,
};

use axum::{
    body::{Body, Bytes},
    extract::{Request, State},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::any,
    Router,
};
use http::{header, HeaderValue, StatusCode};
use tower_http::services::ServeDir;

/// `Cache-Control` of a file whose name holds its content's hash.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` of any other static file: kept, but revalidated (by `Last-Modified`) on use.
pub const REVALIDATE: &str = "no-cache";

/// Extensions worth compressing (text and wasm; images such as PNG are compressed already).
const COMPRESSIBLE: &[&str] = &[
    "js", "mjs", "wasm", "css", "svg", "json", "map", "txt", "html", "ts",
];

/// Files up to this size get brotli's best (and slowest) quality; larger ones (a debug build's
/// wasm) a fast one, so that a server starting on a fresh debug build is ready in a second or two.
const BEST_QUALITY_UP_TO: u64 = 4 * 1024 * 1024;

/// The `/pkg` service over `site_root/pkg_dir`, with its caching headers.
pub fn router<S: Clone + Send + Sync + 'static>(site_root: &str, pkg_dir: &str) -> Router<S> {
    let dir = Path::new(site_root).join(pkg_dir);
    let bundle = Bundle::shared(&dir, &format!("/{pkg_dir}/"));
    let files = ServeDir::new(dir)
        .precompressed_br()
        .precompressed_gzip()
        .not_found_service(any(|| async { (StatusCode::NOT_FOUND, "Not found.") }));
    Router::new()
        .nest_service(&format!("/{pkg_dir}"), files)
        .layer(middleware::from_fn_with_state(bundle, from_memory))
        .layer(middleware::from_fn(cache_headers))
}

/// The text of the app's stylesheet (`output_name`'s `.css` in the bundle, the newest when
/// several builds left one), for a page to carry inline: the sign-in page does, because a logout's
/// `Clear-Site-Data: "cache"` has just evicted the file, and fetching it again would hold the
/// page's first paint back by a round trip. `None` when the bundle has none.
pub fn stylesheet(site_root: &str, pkg_dir: &str, output_name: &str) -> Option<Arc<str>> {
    let prefix = format!("/{pkg_dir}/");
    let bundle = Bundle::shared(&Path::new(site_root).join(pkg_dir), &prefix);
    bundle
        .files
        .iter()
        .filter(|(path, _)| {
            path.strip_prefix(prefix.as_str())
                .and_then(|name| name.strip_prefix(output_name))
                .is_some_and(|rest| rest.starts_with('.') && rest.ends_with(".css"))
        })
        .max_by_key(|(_, asset)| asset.modified)
        .and_then(|(_, asset)| std::str::from_utf8(&asset.identity).ok())
        .map(Arc::from)
}

/// Bundle files kept in memory at most (the original and its variants); a debug build's wasm is
/// the largest seen, about 14 MB.
const MEMORY_LIMIT: u64 = 64 * 1024 * 1024;

/// The bundle's files, read once: each with its brotli and gzip variants, by URL path.
#[derive(Default)]
pub struct Bundle {
    files: HashMap<String, Asset>,
}

struct Asset {
    content_type: HeaderValue,
    /// Whole seconds, as `Last-Modified` says it.
    modified: SystemTime,
    last_modified: HeaderValue,
    identity: Bytes,
    br: Option<Bytes>,
    gzip: Option<Bytes>,
}

impl Bundle {
    /// The files of `dir` (not its subdirectories), under URL prefix `prefix`, read once per
    /// process and directory. A file that cannot be read is left to `ServeDir`.
    fn shared(dir: &Path, prefix: &str) -> Arc<Self> {
        static LOADED: Mutex<Vec<(PathBuf, Arc<Bundle>)>> = Mutex::new(Vec::new());
        let mut loaded = LOADED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, bundle)) = loaded.iter().find(|(d, _)| d == dir) {
            return bundle.clone();
        }
        let bundle = Arc::new(Self::load(dir, prefix));
        loaded.push((dir.to_owned(), bundle.clone()));
        bundle
    }

    fn load(dir: &Path, prefix: &str) -> Self {
        let mut files = HashMap::new();
        let mut total = 0u64;
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Self { files };
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if !path.is_file() || name.ends_with(".br") || name.ends_with(".gz") {
                continue;
            }
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            let Ok(modified) = meta.modified() else {
                continue;
            };
            // A variant older than its original is stale: not used.
            let variant = |suffix: &str| {
                let file = with_suffix(&path, suffix);
                is_fresh(&file, modified)
                    .then(|| std::fs::read(&file).ok())
                    .flatten()
                    .map(Bytes::from)
            };
            let (br, gzip) = (variant("br"), variant("gz"));
            let size = meta.len()
                + br.as_ref().map_or(0, |b| b.len() as u64)
                + gzip.as_ref().map_or(0, |b| b.len() as u64);
            if total + size > MEMORY_LIMIT {
                continue;
            }
            let Ok(identity) = std::fs::read(&path) else {
                continue;
            };
            let mime = mime_guess::from_path(&path).first_or_octet_stream();
            let Ok(content_type) = HeaderValue::from_str(mime.as_ref()) else {
                continue;
            };
            // Whole seconds, as the header says it, so that `If-Modified-Since` compares equal.
            let http_date = httpdate::fmt_http_date(modified);
            let modified = httpdate::parse_http_date(&http_date).unwrap_or(modified);
            let Ok(last_modified) = HeaderValue::from_str(&http_date) else {
                continue;
            };
            total += size;
            files.insert(
                format!("{prefix}{name}"),
                Asset {
                    content_type,
                    modified,
                    last_modified,
                    identity: Bytes::from(identity),
                    br,
                    gzip,
                },
            );
        }
        Self { files }
    }
}

/// Answers a bundle file from memory: the encoding the client prefers among those kept (brotli,
/// then gzip, then none), and 304 when it has the same version (`If-Modified-Since`). Anything else
/// goes on to `ServeDir`.
async fn from_memory(
    State(bundle): State<Arc<Bundle>>,
    req: Request<Body>,
    next: Next,
) -> Response {
    let headers = req.headers();
    let asset = match bundle.files.get(req.uri().path()) {
        Some(asset)
            if !headers.contains_key(header::RANGE)
                && matches!(*req.method(), http::Method::GET | http::Method::HEAD) =>
        {
            asset
        }
        _ => return next.run(req).await,
    };
    let unchanged = headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok())
        .is_some_and(|since| asset.modified <= since);
    let mut res = if unchanged {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let accepted = headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let (encoding, body) = match (&asset.br, &asset.gzip) {
            (Some(br), _) if accepts(accepted, "br") => (Some("br"), br.clone()),
            (_, Some(gz)) if accepts(accepted, "gzip") => (Some("gzip"), gz.clone()),
            _ => (None, asset.identity.clone()),
        };
        let mut res = Response::new(Body::from(body));
        if let Some(encoding) = encoding {
            res.headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
        }
        res.headers_mut()
            .insert(header::CONTENT_TYPE, asset.content_type.clone());
        res
    };
    res.headers_mut()
        .insert(header::LAST_MODIFIED, asset.last_modified.clone());
    res
}

/// Whether an `Accept-Encoding` value accepts `coding` (named, or `*`, with a non-zero weight).
fn accepts(accept_encoding: &str, coding: &str) -> bool {
    accept_encoding.split(',').any(|item| {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or_default().trim();
        let weight = parts
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        (name.eq_ignore_ascii_case(coding) || name == "*") && weight > 0.0
    })
}

/// Sets `Cache-Control` and `Vary` on what `/pkg` answers.
async fn cache_headers(req: Request<Body>, next: Next) -> Response {
    let hashed = is_hashed(req.uri().path());
    let mut res = next.run(req).await.into_response();
    let status = res.status();
    if status.is_success() || status == StatusCode::NOT_MODIFIED {
        let headers = res.headers_mut();
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(if hashed { IMMUTABLE } else { REVALIDATE }),
        );
        // The body depends on Accept-Encoding: caches must keep one copy per encoding.
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    res
}

/// True for `name.HASH.ext`, where HASH is cargo-leptos' base64url MD5 (22 characters).
pub fn is_hashed(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or_default();
    let mut parts = name.rsplit('.');
    let (Some(_ext), Some(hash), Some(stem)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    !stem.is_empty()
        && hash.len() == 22
        && hash
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Writes `NAME.br` and `NAME.gz` beside every compressible file under `dir` that lacks an
/// up-to-date one, and returns how many it wrote. Each is written to a temporary name and renamed,
/// so a reader never sees half a file; a variant no smaller than its original is not kept.
///
/// cargo-leptos can do this too (`--precompress`), but only for release builds, and a server run
/// from any build should serve compressed files; hence it is done here, once per build.
pub fn precompress(dir: &Path) -> std::io::Result<usize> {
    let mut written = 0;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            written += precompress(&path)?;
            continue;
        }
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default();
        if !COMPRESSIBLE.contains(&ext) {
            continue;
        }
        let modified = std::fs::metadata(&path)?.modified()?;
        let mut original = None;
        for (suffix, compress) in [("br", brotli as fn(&[u8]) -> Vec<u8>), ("gz", gzip)] {
            let target = with_suffix(&path, suffix);
            if is_fresh(&target, modified) {
                continue;
            }
            if original.is_none() {
                original = Some(std::fs::read(&path)?);
            }
            let bytes = original.as_deref().unwrap_or_default();
            let packed = compress(bytes);
            if packed.len() >= bytes.len() {
                let _ = std::fs::remove_file(&target);
                continue;
            }
            let tmp = with_suffix(&path, &format!("{suffix}.{}.tmp", std::process::id()));
            std::fs::File::create(&tmp)?.write_all(&packed)?;
            std::fs::rename(&tmp, &target)?;
            written += 1;
        }
    }
    Ok(written)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

fn is_fresh(target: &Path, source_modified: SystemTime) -> bool {
    std::fs::metadata(target)
        .and_then(|m| m.modified())
        .is_ok_and(|t| t >= source_modified)
}

fn brotli(bytes: &[u8]) -> Vec<u8> {
    let params = ::brotli::enc::BrotliEncoderParams {
        quality: if bytes.len() as u64 <= BEST_QUALITY_UP_TO {
            11
        } else {
            5
        },
        lgwin: 22,
        ..Default::default()
    };
    let mut out = Vec::with_capacity(bytes.len() / 3);
    let mut input = bytes;
    // Writing to a Vec cannot fail.
    let _ = ::brotli::BrotliCompress(&mut input, &mut out, &params);
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 3),
        flate2::Compression::best(),
    );
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

/// Compresses the site's bundle once per process and directory (at start-up, before serving), on
/// a blocking thread. A directory that is missing (no front end built, as in `cargo test`) or
/// read-only is logged and left: its files are then served uncompressed.
pub async fn prepare(site_root: &str, pkg_dir: &str) {
    static DONE: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    let dir = Path::new(site_root).join(pkg_dir);
    if !dir.is_dir() {
        return;
    }
    {
        let mut done = DONE.lock().unwrap_or_else(|e| e.into_inner());
        if done.contains(&dir) {
            return;
        }
        done.push(dir.clone());
    }
    let shown = dir.display().to_string();
    match tokio::task::spawn_blocking(move || precompress(&dir)).await {
        Ok(Ok(0)) => {}
        Ok(Ok(n)) => tracing::info!(dir = %shown, files = n, "static files compressed"),
        Ok(Err(err)) => {
            tracing::warn!(dir = %shown, error = %err, "static files not compressed: serving them as they are")
        }
        Err(err) => tracing::warn!(error = %err, "compressing static files failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_are_accepted_by_name_or_star_unless_weighted_zero() {
        assert!(accepts("gzip, deflate, br, zstd", "br"));
        assert!(accepts("gzip;q=0.8, br;q=1.0", "gzip"));
        assert!(!accepts("gzip, deflate", "br"));
        assert!(!accepts("br;q=0, gzip", "br"));
        assert!(accepts("*", "br"));
        assert!(!accepts("", "gzip"));
        assert!(!accepts("identity", "gzip"));
    }

    #[test]
    fn only_names_with_a_content_hash_are_immutable() {
        assert!(is_hashed("/pkg/signoff.AbCdEfGhIjKlMnOpQrSt_-.wasm"));
        assert!(is_hashed("/pkg/signoff.0123456789abcdefghijkl.css"));
        assert!(!is_hashed("/pkg/signoff.wasm"));
        assert!(!is_hashed("/pkg/signoff_bg.wasm"));
        assert!(!is_hashed("/pkg/.AbCdEfGhIjKlMnOpQrSt_-.wasm"));
        assert!(!is_hashed("/pkg/signoff.short.js"));
        assert!(!is_hashed("/pkg/signoff.AbCdEfGhIjKlMnOpQrSt!-.js"));
    }

    #[test]
    fn precompressing_writes_smaller_variants_once_and_again_after_a_change() {
        let dir = tempfile::tempdir().unwrap();
        let js = dir.path().join("app.js");
        std::fs::write(&js, "console.log('hello');\n".repeat(200)).unwrap();
        std::fs::write(dir.path().join("logo.png"), [0u8; 64]).unwrap();
        assert_eq!(precompress(dir.path()).unwrap(), 2);
        let br = std::fs::read(dir.path().join("app.js.br")).unwrap();
        let mut plain = Vec::new();
        ::brotli::BrotliDecompress(&mut br.as_slice(), &mut plain).unwrap();
        assert_eq!(plain, std::fs::read(&js).unwrap());
        let gz = std::fs::read(dir.path().join("app.js.gz")).unwrap();
        let mut plain = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(gz.as_slice()), &mut plain)
            .unwrap();
        assert_eq!(plain.as_bytes(), std::fs::read(&js).unwrap());
        assert!(!dir.path().join("logo.png.br").exists());
        // Up to date: nothing to do.
        assert_eq!(precompress(dir.path()).unwrap(), 0);
        // A newer original is compressed again.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&js, "console.log('changed');\n".repeat(200)).unwrap();
        assert_eq!(precompress(dir.path()).unwrap(), 2);
    }
}
