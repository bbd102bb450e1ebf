//! The browser bundle: hashed names cached for a year, brotli or gzip by content negotiation from
//! files compressed at start-up, and pages still `no-store`.

use reqwest::{header, StatusCode};
use signoff::server::Config;

use crate::helpers::{start_with, TestApp};

const HASHED: &str = "/pkg/signoff.AbCdEfGhIjKlMnOpQrSt_-.js";

/// A server whose site root is a temporary directory holding a hashed script and an unhashed one.
async fn app_with_bundle() -> (TestApp, tempfile::TempDir, Vec<u8>) {
    let site = tempfile::tempdir().unwrap();
    let pkg = site.path().join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    let script = "export function hello() { return 'hello, world'; }\n"
        .repeat(100)
        .into_bytes();
    std::fs::write(pkg.join("signoff.AbCdEfGhIjKlMnOpQrSt_-.js"), &script).unwrap();
    std::fs::write(pkg.join("extra.css"), "body { margin: 0 }\n".repeat(100)).unwrap();
    let db = tempfile::tempdir().unwrap();
    let mut config = Config::for_tests(format!(
        "sqlite://{}/signoff.db?mode=rwc",
        db.path().display()
    ));
    config.leptos = leptos::config::LeptosOptions::builder()
        .output_name("signoff")
        .site_root(site.path().display().to_string())
        .site_pkg_dir("pkg")
        .build();
    let app = start_with(config).await;
    // Kept alive with the site: the database directory goes with the test.
    std::mem::forget(db);
    (app, site, script)
}

async fn get(app: &TestApp, path: &str, accept_encoding: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header(header::ACCEPT_ENCODING, accept_encoding)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn hashed_bundle_files_are_compressed_by_negotiation_and_cached_for_a_year() {
    let (app, site, script) = app_with_bundle().await;
    // Compressed once, at start-up, beside the originals.
    assert!(site
        .path()
        .join("pkg/signoff.AbCdEfGhIjKlMnOpQrSt_-.js.br")
        .exists());
    assert!(site
        .path()
        .join("pkg/signoff.AbCdEfGhIjKlMnOpQrSt_-.js.gz")
        .exists());

    let res = get(&app, HASHED, "gzip, deflate, br").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_ENCODING], "br");
    assert_eq!(res.headers()[header::VARY], "accept-encoding");
    assert_eq!(
        res.headers()[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    assert!(res.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    let body = res.bytes().await.unwrap();
    assert!(
        body.len() < script.len() / 5,
        "compressed: {} bytes",
        body.len()
    );
    let mut plain = Vec::new();
    brotli::BrotliDecompress(&mut body.as_ref(), &mut plain).unwrap();
    assert_eq!(plain, script);

    let res = get(&app, HASHED, "gzip").await;
    assert_eq!(res.headers()[header::CONTENT_ENCODING], "gzip");
    assert_eq!(res.headers()[header::VARY], "accept-encoding");
    let body = res.bytes().await.unwrap();
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(body.as_ref()), &mut plain)
        .unwrap();
    assert_eq!(plain, script);

    let res = get(&app, HASHED, "identity").await;
    assert!(res.headers().get(header::CONTENT_ENCODING).is_none());
    assert_eq!(res.headers()[header::VARY], "accept-encoding");
    assert_eq!(
        res.headers()[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(res.bytes().await.unwrap(), script);
}

#[tokio::test]
async fn unhashed_files_are_revalidated_missing_ones_are_404_and_pages_stay_no_store() {
    let (app, site, _) = app_with_bundle().await;
    let res = get(&app, "/pkg/extra.css", "br").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_ENCODING], "br");
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-cache");
    let modified = res.headers()[header::LAST_MODIFIED].clone();
    let res = app
        .client
        .get(app.url("/pkg/extra.css"))
        .header(header::IF_MODIFIED_SINCE, modified)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);

    // A file written after start-up (read from disk, not memory) is served too.
    std::fs::write(site.path().join("pkg/late.js"), "export const late = 1;\n").unwrap();
    let res = get(&app, "/pkg/late.js", "br").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-cache");
    assert_eq!(res.text().await.unwrap(), "export const late = 1;\n");

    let res = get(&app, "/pkg/signoff.AAAAAAAAAAAAAAAAAAAAAA.js", "br").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res.headers().get(header::CACHE_CONTROL).is_none());

    let res = get(&app, "/login", "br").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
}

#[tokio::test]
async fn the_sign_in_page_carries_the_stylesheet_inline_and_other_pages_link_it() {
    let site = tempfile::tempdir().unwrap();
    let pkg = site.path().join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    let css = "main > .card { color: #14213d }\n";
    std::fs::write(pkg.join("signoff.AbCdEfGhIjKlMnOpQrSt_-.css"), css).unwrap();
    let db = tempfile::tempdir().unwrap();
    let mut config = Config::for_tests(format!(
        "sqlite://{}/signoff.db?mode=rwc",
        db.path().display()
    ));
    config.leptos = leptos::config::LeptosOptions::builder()
        .output_name("signoff")
        .site_root(site.path().display().to_string())
        .site_pkg_dir("pkg")
        .build();
    let app = start_with(config).await;

    // The logout lands here just after `Clear-Site-Data: "cache"`: no stylesheet to fetch again.
    let page = get(&app, "/login?logged_out=1", "br")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!("<style id=\"leptos\">{css}</style>")),
        "inline, unescaped: {page}"
    );
    assert!(!page.contains("rel=\"stylesheet\""));

    let page = get(&app, "/register", "br").await.text().await.unwrap();
    assert!(!page.contains("<style id=\"leptos\">"));
    assert!(page.contains("rel=\"stylesheet\""));
    drop(db);
}
