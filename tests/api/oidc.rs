//! Signoff as an OpenID Provider, over HTTP: discovery and JWKS, the code flow with PKCE through
//! `/login`, the token endpoint's grants, userinfo and introspection, RP-Initiated Logout, and
//! Back-Channel Logout for endings of every kind (the receivers here check each logout token as
//! Back-Channel Logout 1.0 §2.6 asks).

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use signoff::server::domain::oidc::{clients, NewClient};

use crate::helpers::{
    location, require_postgres, spawn_app, spawn_app_with, start_with, TestApp, PASSWORD,
};

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// What a back-channel receiver got: each POST's `logout_token`, and what it answers.
#[derive(Clone, Default)]
struct Receiver {
    url: String,
    tokens: Arc<Mutex<Vec<String>>>,
    /// Statuses to answer, in order; then 200.
    answers: Arc<Mutex<Vec<u16>>>,
    posts: Arc<Mutex<usize>>,
}

impl Receiver {
    async fn start() -> Self {
        let mut receiver = Receiver::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        receiver.url = format!("http://{}/backchannel", listener.local_addr().unwrap());
        let r = receiver.clone();
        let app = axum::Router::new().route(
            "/backchannel",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
                let r = r.clone();
                async move {
                    assert_eq!(
                        headers.get("content-type").unwrap(),
                        "application/x-www-form-urlencoded"
                    );
                    *r.posts.lock().unwrap() += 1;
                    let next = {
                        let mut answers = r.answers.lock().unwrap();
                        (!answers.is_empty()).then(|| answers.remove(0))
                    };
                    let status = next.unwrap_or(200);
                    if status == 200 {
                        let token = form_urlencoded::parse(body.as_bytes())
                            .find(|(k, _)| k == "logout_token")
                            .map(|(_, v)| v.into_owned())
                            .expect("a logout_token");
                        r.tokens.lock().unwrap().push(token);
                    }
                    axum::http::StatusCode::from_u16(status).unwrap()
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        receiver
    }

    fn tokens(&self) -> Vec<String> {
        self.tokens.lock().unwrap().clone()
    }

    async fn wait_for(&self, n: usize) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.tokens();
            if got.len() >= n {
                return got;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} logout token(s) expected, got {}",
                n,
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

struct Rp {
    client_id: String,
    secret: Option<String>,
    redirect_uri: String,
}

pub const REDIRECT: &str = "https://app.example/cb";
const AFTER_LOGOUT: &str = "https://app.example/bye";

async fn register(app: &TestApp, public: bool, backchannel: Option<&str>) -> Rp {
    let new = NewClient {
        name: format!("App {}", rand_tag()),
        redirect_uris: vec![REDIRECT.into()],
        post_logout_redirect_uris: vec![AFTER_LOGOUT.into()],
        backchannel_logout_uri: backchannel.map(str::to_owned),
        public,
    };
    let (client, secret) = clients::add(app.state.auth.db(), &new).await.unwrap();
    Rp {
        client_id: client.client_id,
        secret: secret.map(|s| secrecy::ExposeSecret::expose_secret(&s).to_owned()),
        redirect_uri: REDIRECT.into(),
    }
}

fn rand_tag() -> String {
    format!("{:x}", rand::random::<u32>())
}

fn query_of(url: &str) -> std::collections::HashMap<String, String> {
    let parsed = url::Url::parse(url).unwrap();
    parsed.query_pairs().into_owned().collect()
}

impl Rp {
    fn authorize_path(&self, extra: &[(&str, &str)]) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("scope", "openid email offline_access")
            .append_pair("state", "st-1")
            .append_pair("nonce", "n-1")
            .append_pair("code_challenge", &challenge(VERIFIER))
            .append_pair("code_challenge_method", "S256");
        for (k, v) in extra {
            q.append_pair(k, v);
        }
        format!("/authorize?{}", q.finish())
    }

    /// A code for the browser with `cookie`.
    async fn code(&self, app: &TestApp, cookie: &str) -> String {
        let res = app.get(&self.authorize_path(&[]), Some(cookie)).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let to = location(&res);
        assert!(to.starts_with(REDIRECT), "{to}");
        let q = query_of(&to);
        assert_eq!(q["state"], "st-1");
        assert_eq!(q["iss"], issuer(app));
        q["code"].clone()
    }

    async fn token(&self, app: &TestApp, form: &[(&str, &str)]) -> reqwest::Response {
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        let mut req = app.client.post(app.url("/oauth/token"));
        match &self.secret {
            Some(secret) => req = req.basic_auth(&self.client_id, Some(secret)),
            None => fields.push(("client_id", &self.client_id)),
        }
        req.form(&fields).send().await.unwrap()
    }

    async fn exchange(&self, app: &TestApp, code: &str) -> Value {
        let res = self
            .token(
                app,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", code),
                    ("redirect_uri", &self.redirect_uri),
                    ("code_verifier", VERIFIER),
                ],
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["cache-control"], "no-store");
        res.json().await.unwrap()
    }

    async fn refresh(&self, app: &TestApp, refresh: &str) -> reqwest::Response {
        self.token(
            app,
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        )
        .await
    }

    async fn introspect(&self, app: &TestApp, token: &str) -> Value {
        let res = app
            .client
            .post(app.url("/oauth/introspect"))
            .basic_auth(&self.client_id, self.secret.as_deref())
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.unwrap()
    }
}

async fn userinfo(app: &TestApp, access: &str) -> reqwest::Response {
    app.client
        .get(app.url("/oauth/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
}

/// The provider's issuer: its address, unless `SIGNOFF_PUBLIC_URL` says otherwise.
fn issuer(app: &TestApp) -> &str {
    &app.state.auth.oidc_provider().issuer
}

/// The JWT's header and claims, its signature checked against the provider's JWKS.
async fn verified(app: &TestApp, jwt: &str) -> (jsonwebtoken::Header, Value) {
    let jwks: Value = app
        .client
        .get(app.url("/oauth/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(jwt).unwrap();
    let kid = header.kid.clone().expect("a kid");
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .expect("the kid is published");
    let decoding = jsonwebtoken::DecodingKey::from_rsa_components(
        key["n"].as_str().unwrap(),
        key["e"].as_str().unwrap(),
    )
    .unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.validate_aud = false;
    validation.set_issuer(&[issuer(app)]);
    let claims = jsonwebtoken::decode::<Value>(jwt, &decoding, &validation)
        .expect("signed by the provider")
        .claims;
    (header, claims)
}

/// A logout token checked as Back-Channel Logout 1.0 §2.6 asks; its claims.
async fn logout_token(app: &TestApp, token: &str, rp: &Rp, id_claims: &Value) -> Value {
    let (header, claims) = verified(app, token).await;
    assert_eq!(header.typ.as_deref(), Some("logout+jwt"));
    assert_eq!(claims["iss"], issuer(app));
    assert_eq!(claims["aud"], rp.client_id.as_str());
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert!(exp > iat && exp - iat <= 120, "exp ≤ iat + 120");
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
    assert_eq!(
        claims["events"],
        json!({"http://schemas.openid.net/event/backchannel-logout": {}})
    );
    assert!(claims.get("nonce").is_none());
    assert_eq!(claims["sub"], id_claims["sub"]);
    assert_eq!(claims["sid"], id_claims["sid"]);
    claims
}

/// Signs `email` in (registering it first) and returns the session cookie.
async fn browser(app: &TestApp, email: &str) -> String {
    app.create_user(email).await;
    app.browser_login(email).await
}

#[tokio::test]
async fn discovery_names_every_endpoint_and_the_jwks_holds_public_rsa_keys_only() {
    let app = spawn_app().await;
    let d: Value = app
        .client
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["issuer"], app.address);
    for endpoint in [
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "end_session_endpoint",
        "introspection_endpoint",
        "revocation_endpoint",
    ] {
        assert!(
            d[endpoint].as_str().unwrap().starts_with(&app.address),
            "{endpoint}"
        );
    }
    assert_eq!(d["response_types_supported"], json!(["code"]));
    assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(d["subject_types_supported"], json!(["public"]));
    assert_eq!(d["backchannel_logout_supported"], true);
    assert_eq!(d["backchannel_logout_session_supported"], true);
    for (list, wanted) in [
        (
            "grant_types_supported",
            vec!["authorization_code", "refresh_token", "client_credentials"],
        ),
        (
            "token_endpoint_auth_methods_supported",
            vec!["client_secret_basic", "client_secret_post", "none"],
        ),
        (
            "scopes_supported",
            vec!["openid", "email", "offline_access"],
        ),
        ("id_token_signing_alg_values_supported", vec!["RS256"]),
    ] {
        for w in wanted {
            assert!(
                d[list].as_array().unwrap().contains(&json!(w)),
                "{list} has {w}"
            );
        }
    }
    let jwks: Value = app
        .client
        .get(d["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert!(!keys.is_empty());
    for k in keys {
        assert_eq!(k["kty"], "RSA");
        assert_eq!(k["use"], "sig");
        assert_eq!(k["alg"], "RS256");
        assert!(k["kid"].as_str().is_some_and(|s| !s.is_empty()));
        assert!(
            URL_SAFE_NO_PAD
                .decode(k["n"].as_str().unwrap())
                .unwrap()
                .len()
                >= 256
        );
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(k.get(private).is_none(), "no private part {private}");
        }
    }
}

#[tokio::test]
async fn the_code_flow_goes_through_login_and_every_token_dies_with_the_browser_signin() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let rp = register(&app, false, Some(&receiver.url)).await;
    app.create_user("ada@example.com").await;

    // Not signed in: to /login, and back to the authorization after it.
    let res = app.get(&rp.authorize_path(&[]), None).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let to = location(&res);
    assert!(to.starts_with("/login?next="), "{to}");
    let next = query_of(&format!("http://x{to}"))["next"].clone();
    // The page carries it in its form (JavaScript or not).
    let page = app.get(&to, None).await.text().await.unwrap();
    assert!(page.contains(r#"name="next" value="/authorize?"#), "{page}");
    let res = app
        .login_form("ada@example.com", PASSWORD, Some(&next))
        .await;
    assert_eq!(location(&res), next);
    let cookie = crate::helpers::session_cookie(&res).unwrap();
    let code = rp.code(&app, &cookie).await;

    let tokens = rp.exchange(&app, &code).await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert!(tokens["expires_in"].as_i64().unwrap() > 0);
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let (header, id) = verified(&app, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    assert_eq!(id["aud"], rp.client_id.as_str());
    assert_eq!(id["nonce"], "n-1");
    assert_eq!(id["email"], "ada@example.com");
    assert_ne!(id["sub"], "ada@example.com", "sub is stable, not the email");
    assert!(id["auth_time"].as_i64().is_some() && id["iat"].as_i64().is_some());
    let sid = id["sid"].as_str().unwrap().to_owned();
    assert!(!cookie.contains(&sid), "sid is not the session cookie");

    // The sign-in's page lists the application.
    let page = app
        .get("/sessions", Some(&cookie))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Applications signed in through it"), "{page}");

    let info: Value = userinfo(&app, access).await.json().await.unwrap();
    assert_eq!(info["sub"], id["sub"]);
    assert_eq!(info["email"], "ada@example.com");
    let active = rp.introspect(&app, access).await;
    assert_eq!(active["active"], true);
    assert_eq!(active["client_id"], rp.client_id.as_str());
    assert_eq!(active["sid"], sid.as_str());
    assert_eq!(active["token_type"], "Bearer");
    for member in ["sub", "scope", "exp", "iat"] {
        assert!(active.get(member).is_some(), "{member}");
    }
    // The seed APIs do not take a client's access token.
    let me = app
        .client
        .get(app.url("/api/v1/account/me"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);

    // A refresh rotates.
    let res = rp.refresh(&app, refresh).await;
    assert_eq!(res.status(), StatusCode::OK);
    let rotated: Value = res.json().await.unwrap();
    let refresh2 = rotated["refresh_token"].as_str().unwrap().to_owned();
    let access2 = rotated["access_token"].as_str().unwrap().to_owned();

    // The Log out button: the sign-in ends, and so does everything the client holds.
    let res = app.form("logout", Some(&cookie), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = rp.refresh(&app, &refresh2).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"error": "invalid_grant"})
    );
    let res = userinfo(&app, &access2).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.headers()["www-authenticate"],
        "Bearer error=\"invalid_token\""
    );
    assert_eq!(
        rp.introspect(&app, &access2).await,
        json!({"active": false})
    );
    assert_eq!(
        rp.introspect(&app, &refresh2).await,
        json!({"active": false})
    );

    let got = receiver.wait_for(1).await;
    let claims = logout_token(&app, &got[0], &rp, &id).await;
    assert_eq!(claims["reason"], "logout");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.tokens().len(), 1, "exactly one logout token");
}

#[tokio::test]
async fn a_code_is_single_use_and_its_second_use_revokes_what_the_first_issued() {
    let app = spawn_app().await;
    let rp = register(&app, false, None).await;
    let cookie = browser(&app, "ada@example.com").await;
    let code = rp.code(&app, &cookie).await;
    let tokens = rp.exchange(&app, &code).await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(rp.introspect(&app, access).await["active"], true);
    let again = rp
        .token(
            &app,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        again.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    assert_eq!(rp.introspect(&app, access).await, json!({"active": false}));
    let res = rp
        .refresh(&app, tokens["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_grant");
    // The browser's sign-in itself goes on.
    assert_eq!(app.get("/", Some(&cookie)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn authorization_requests_are_checked_before_anything_is_issued() {
    let app = spawn_app().await;
    let public = register(&app, true, None).await;
    let cookie = browser(&app, "ada@example.com").await;

    // An unregistered redirect_uri is never redirected to.
    let mut evil = Rp {
        redirect_uri: "https://evil.example/cb".into(),
        ..register(&app, true, None).await
    };
    evil.client_id = public.client_id.clone();
    let res = app.get(&evil.authorize_path(&[]), Some(&cookie)).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.headers().get("location").is_none());
    let page = res.text().await.unwrap();
    assert!(page.contains("did not register"), "{page}");
    // An unknown client likewise.
    let res = app
        .get(
            "/authorize?client_id=nope&redirect_uri=https%3A%2F%2Fapp.example%2Fcb",
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.headers().get("location").is_none());
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("not registered with Signoff"));

    // A public client without PKCE: back to the client with the error and the state.
    let q = format!(
        "/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid&state=s9",
        public.client_id,
        urlencode(REDIRECT)
    );
    let to = location(&app.get(&q, Some(&cookie)).await);
    let back = query_of(&to);
    assert!(to.starts_with(REDIRECT));
    assert_eq!(back["error"], "invalid_request");
    assert_eq!(back["state"], "s9");
    // response_type other than code.
    let to = location(
        &app.get(
            &q.replace("response_type=code", "response_type=token"),
            Some(&cookie),
        )
        .await,
    );
    assert_eq!(query_of(&to)["error"], "unsupported_response_type");
    // prompt=none without a sign-in.
    let to = location(
        &app.get(&public.authorize_path(&[("prompt", "none")]), None)
            .await,
    );
    assert!(to.starts_with(REDIRECT));
    assert_eq!(query_of(&to)["error"], "login_required");
    assert_eq!(query_of(&to)["state"], "st-1");
    // prompt=none with one: a code.
    let to = location(
        &app.get(&public.authorize_path(&[("prompt", "none")]), Some(&cookie))
            .await,
    );
    assert!(query_of(&to).contains_key("code"));

    // A wrong verifier, or none, fails the exchange (and uses the code up).
    let code = public.code(&app, &cookie).await;
    let wrong = public
        .token(
            &app,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                (
                    "code_verifier",
                    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXx",
                ),
            ],
        )
        .await;
    assert_eq!(
        wrong.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    // A confidential client's wrong secret.
    let conf = register(&app, false, None).await;
    let res = app
        .client
        .post(app.url("/oauth/token"))
        .basic_auth(&conf.client_id, Some("socs_wrong"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn client_credentials_issue_a_token_with_no_signin_and_introspection_needs_a_client() {
    let app = spawn_app().await;
    let rp = register(&app, false, None).await;
    let res = rp
        .token(
            &app,
            &[("grant_type", "client_credentials"), ("scope", "email")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let tokens: Value = res.json().await.unwrap();
    assert!(tokens.get("refresh_token").is_none() && tokens.get("id_token").is_none());
    let access = tokens["access_token"].as_str().unwrap();
    let active = rp.introspect(&app, access).await;
    assert_eq!(active["active"], true);
    assert_eq!(active["client_id"], rp.client_id.as_str());
    // No user behind it.
    assert_eq!(
        userinfo(&app, access).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // Introspection without a client.
    let res = app
        .client
        .post(app.url("/oauth/introspect"))
        .form(&[("token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // Garbage is inactive, with no other member.
    assert_eq!(
        rp.introspect(&app, "nonsense").await,
        json!({"active": false})
    );
    // A public client may not use client credentials.
    let public = register(&app, true, None).await;
    let res = public
        .token(&app, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "unauthorized_client"
    );
    let res = rp.token(&app, &[("grant_type", "password")]).await;
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "unsupported_grant_type"
    );
}

/// Signs in through the provider: the ID token's claims and the token answer.
async fn signed_in_app(app: &TestApp, rp: &Rp, cookie: &str) -> (Value, Value) {
    let code = rp.code(app, cookie).await;
    let tokens = rp.exchange(app, &code).await;
    let (_, id) = verified(app, tokens["id_token"].as_str().unwrap()).await;
    (id, tokens)
}

fn end_session_path(pairs: &[(&str, &str)]) -> String {
    let q = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("/end-session?{q}")
}

#[tokio::test]
async fn rp_initiated_logout_with_a_valid_hint_ends_the_signin_and_tells_every_client_once() {
    let app = spawn_app().await;
    let (r1, r2) = (Receiver::start().await, Receiver::start().await);
    let (a, b) = (
        register(&app, false, Some(&r1.url)).await,
        register(&app, true, Some(&r2.url)).await,
    );
    let cookie = browser(&app, "ada@example.com").await;
    let (id_a, tokens_a) = signed_in_app(&app, &a, &cookie).await;
    let (id_b, _) = signed_in_app(&app, &b, &cookie).await;
    assert_eq!(id_a["sid"], id_b["sid"]);
    let hint = tokens_a["id_token"].as_str().unwrap();
    let res = app
        .get(
            &end_session_path(&[
                ("id_token_hint", hint),
                ("post_logout_redirect_uri", AFTER_LOGOUT),
                ("state", "bye-1"),
            ]),
            Some(&cookie),
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), format!("{AFTER_LOGOUT}?state=bye-1"));
    // Signed out here.
    assert_eq!(location(&app.get("/", Some(&cookie)).await), "/login");
    for (receiver, rp, id) in [(&r1, &a, &id_a), (&r2, &b, &id_b)] {
        let got = receiver.wait_for(1).await;
        let claims = logout_token(&app, &got[0], rp, id).await;
        assert_eq!(claims["reason"], "rp_logout");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        r1.tokens().len() + r2.tokens().len(),
        2,
        "each client exactly once"
    );
}

#[tokio::test]
async fn rp_initiated_logout_asks_when_it_cannot_act_at_once_and_never_goes_to_an_unregistered_uri()
{
    let app = spawn_app().await;
    let rp = register(&app, false, None).await;
    let cookie = browser(&app, "ada@example.com").await;
    let (_, tokens) = signed_in_app(&app, &rp, &cookie).await;
    let hint = tokens["id_token"].as_str().unwrap().to_owned();
    let mut altered = hint.clone();
    let tail = altered.pop().unwrap();
    altered.push(if tail == 'A' { 'B' } else { 'A' });
    let cases: Vec<Vec<(&str, &str)>> = vec![
        vec![],                        // no parameters
        vec![("state", "only-state")], // only state
        vec![
            ("post_logout_redirect_uri", AFTER_LOGOUT),
            ("client_id", &rp.client_id),
        ], // no hint
        vec![
            ("id_token_hint", &altered),
            ("post_logout_redirect_uri", AFTER_LOGOUT),
        ], // altered
        vec![
            ("id_token_hint", &hint),
            ("post_logout_redirect_uri", "https://evil.example/"),
        ], // bad uri
    ];
    for pairs in cases {
        let res = app.get(&end_session_path(&pairs), Some(&cookie)).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{pairs:?}");
        let to = location(&res);
        assert!(to.starts_with("/logout"), "{pairs:?} asks: {to}");
        assert!(!to.contains("evil.example"));
        let page = app.get(&to, Some(&cookie)).await.text().await.unwrap();
        assert!(page.contains("Log out of Signoff?"));
        if to.contains("client_id=") {
            assert!(
                page.contains(&format!(r#"name="client_id" value="{}""#, rp.client_id)),
                "{page}"
            );
        }
        // Nothing ended.
        assert_eq!(
            app.get("/", Some(&cookie)).await.status(),
            StatusCode::OK,
            "{pairs:?}"
        );
    }
    // The button: with a registered address, back to it with the state.
    let res = app
        .form(
            "confirm_logout",
            Some(&cookie),
            &[
                ("client_id", &rp.client_id),
                ("post_logout_redirect_uri", AFTER_LOGOUT),
                ("state", "s2"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), format!("{AFTER_LOGOUT}?state=s2"));
    assert_eq!(location(&app.get("/", Some(&cookie)).await), "/login");
    // Without the hint's sign-in (already over): asks again, and the button only goes to /login.
    let res = app
        .get(&end_session_path(&[("id_token_hint", &hint)]), None)
        .await;
    assert!(location(&res).starts_with("/logout"));
    let res = app
        .form(
            "confirm_logout",
            None,
            &[
                ("client_id", &rp.client_id),
                ("post_logout_redirect_uri", "https://evil.example/"),
            ],
        )
        .await;
    assert_eq!(location(&res), "/login?logged_out=1");
}

#[tokio::test]
async fn refresh_reuse_ends_the_browser_signin_and_every_client_hears_why() {
    let app = spawn_app_with(|c| c.refresh_grace = Duration::ZERO).await;
    let receiver = Receiver::start().await;
    let rp = register(&app, false, Some(&receiver.url)).await;
    let cookie = browser(&app, "ada@example.com").await;
    let (id, tokens) = signed_in_app(&app, &rp, &cookie).await;
    let first = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(rp.refresh(&app, first).await.status(), StatusCode::OK);
    assert_eq!(
        rp.refresh(&app, first).await.status(),
        StatusCode::BAD_REQUEST
    );
    let got = receiver.wait_for(1).await;
    assert_eq!(
        logout_token(&app, &got[0], &rp, &id).await["reason"],
        "refresh_reuse"
    );
    assert_eq!(
        location(&app.get("/", Some(&cookie)).await),
        "/login?ended=refresh_reuse"
    );
}

/// A receiver, a client sending logout tokens to it, and the account `ada@example.com`.
async fn one_client_listening(app: &TestApp) -> (Receiver, Rp) {
    let receiver = Receiver::start().await;
    let rp = register(app, false, Some(&receiver.url)).await;
    app.create_user("ada@example.com").await;
    (receiver, rp)
}

/// The `n`-th logout token the receiver got: valid, for the sign-in of ID token claims `id`,
/// saying `reason`.
async fn next_logout_token(
    app: &TestApp,
    r: &Receiver,
    rp: &Rp,
    n: usize,
    reason: &str,
    id: &Value,
) {
    let got = r.wait_for(n).await;
    let claims = logout_token(app, &got[n - 1], rp, id).await;
    assert_eq!(claims["reason"], reason);
}

#[tokio::test]
async fn every_kind_of_ending_sends_logout_tokens() {
    let app = spawn_app_with(|c| {
        c.session_idle = Duration::from_secs(3);
        c.sweep_every = Duration::from_secs(1);
    })
    .await;
    let (receiver, rp) = one_client_listening(&app).await;
    let mut seen = 0;
    let mut expect = async |reason: &str, id: &Value| {
        seen += 1;
        next_logout_token(&app, &receiver, &rp, seen, reason, id).await;
    };
    // Log out everywhere from /sessions.
    let cookie = app.browser_login("ada@example.com").await;
    let (id, _) = signed_in_app(&app, &rp, &cookie).await;
    app.form("logout_everywhere", Some(&cookie), &[]).await;
    expect("logout_global", &id).await;
    // RFC 7009 revocation of the client's refresh token.
    let cookie = app.browser_login("ada@example.com").await;
    let (id, tokens) = signed_in_app(&app, &rp, &cookie).await;
    let res = app
        .client
        .post(app.url("/oauth/revoke"))
        .form(&[("token", tokens["refresh_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    expect("revoked", &id).await;
    // A password change that ends the other sign-ins.
    let other = app.browser_login("ada@example.com").await;
    let (id, _) = signed_in_app(&app, &rp, &other).await;
    let keep = app.browser_login("ada@example.com").await;
    app.form(
        "change_password",
        Some(&keep),
        &[
            ("current_password", PASSWORD),
            ("new_password", PASSWORD),
            ("sign_out_others", "on"),
        ],
    )
    .await;
    expect("password_changed", &id).await;
    // The operator.
    let (id, _) = signed_in_app(&app, &rp, &keep).await;
    let user = app
        .state
        .auth
        .user_by_email("ada@example.com")
        .await
        .unwrap()
        .unwrap();
    app.state
        .auth
        .end_all_signins_as_operator(&user, Some("test"))
        .await
        .unwrap();
    expect("admin", &id).await;
    // Idle: nobody comes back; the sweeper ends it.
    let cookie = app.browser_login("ada@example.com").await;
    let (id, _) = signed_in_app(&app, &rp, &cookie).await;
    expect("idle", &id).await;
}

#[tokio::test]
async fn a_receiver_answering_4xx_is_not_retried_and_one_answering_5xx_is() {
    let app = spawn_app().await;
    let (flaky, refusing) = (Receiver::start().await, Receiver::start().await);
    flaky.answers.lock().unwrap().push(503);
    refusing.answers.lock().unwrap().push(400);
    let (a, b) = (
        register(&app, false, Some(&flaky.url)).await,
        register(&app, false, Some(&refusing.url)).await,
    );
    let cookie = browser(&app, "ada@example.com").await;
    let (id_a, _) = signed_in_app(&app, &a, &cookie).await;
    signed_in_app(&app, &b, &cookie).await;
    app.form("logout", Some(&cookie), &[]).await;
    // Retried after a second's back-off, and then delivered.
    let got = flaky.wait_for(1).await;
    logout_token(&app, &got[0], &a, &id_a).await;
    assert_eq!(*flaky.posts.lock().unwrap(), 2);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(*refusing.posts.lock().unwrap(), 1, "a 4xx is final");
    assert!(refusing.tokens().is_empty());
}

#[tokio::test]
async fn clients_are_registered_listed_and_removed_by_the_operator_cli() {
    let app = spawn_app().await;
    let cli = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_signoff"))
            .args(args)
            .env("DATABASE_URL", &app.database_url)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };
    let out = cli(&[
        "clients",
        "add",
        "--name",
        "Wiki",
        "--redirect-uri",
        REDIRECT,
        "--redirect-uri",
        "https://app.example/cb2",
        "--post-logout-redirect-uri",
        AFTER_LOGOUT,
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let added: Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = added["client_id"].as_str().unwrap();
    let secret = added["client_secret"].as_str().unwrap();
    // Usable by the running server at once.
    let res = app
        .client
        .post(app.url("/oauth/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let public = cli(&[
        "clients",
        "add",
        "--name",
        "SPA",
        "--redirect-uri",
        REDIRECT,
        "--public",
        "--json",
    ]);
    let public: Value = serde_json::from_slice(&public.stdout).unwrap();
    assert!(public.get("client_secret").is_none());
    let listed = cli(&["clients", "list", "--json"]);
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert!(!String::from_utf8_lossy(&cli(&["clients", "list"]).stdout).contains(secret));
    // The secret is stored as a digest only.
    let db = app.state.auth.db();
    let stored: Vec<Option<String>> = signoff::with_pool!(db, p => sqlx::query_scalar(
        "SELECT secret_digest FROM oidc_clients").fetch_all(p).await)
    .unwrap();
    assert!(stored.iter().all(|d| d.as_deref() != Some(secret)));
    assert!(cli(&["clients", "remove", id]).status.success());
    // In force everywhere within a second (what an instance read of a client is used that long).
    let removed_at = std::time::Instant::now();
    loop {
        let res = app
            .client
            .post(app.url("/oauth/token"))
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        if res.status() == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(
            removed_at.elapsed() < signoff::server::domain::oidc::CLIENT_CACHE_TTL * 2,
            "a removed client still authenticates"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let bad = cli(&[
        "clients",
        "add",
        "--name",
        "X",
        "--redirect-uri",
        "/relative",
    ]);
    assert!(!bad.status.success());
}

/// Two instances on the PostgreSQL database at `url`, behind one public URL: one issuer.
async fn two_instances(url: &str) -> (TestApp, TestApp) {
    let config = || {
        let mut c = signoff::server::Config::for_tests(url);
        c.public_url = Some("https://signoff.test".into());
        c
    };
    (start_with(config()).await, start_with(config()).await)
}

#[tokio::test]
async fn on_two_postgresql_instances_a_logout_on_one_reaches_each_client_exactly_once() {
    let Some(db) = require_postgres(
        "on_two_postgresql_instances_a_logout_on_one_reaches_each_client_exactly_once",
    )
    .await
    else {
        return;
    };
    let (a, b) = two_instances(&db.url).await;
    let (r1, r2) = (Receiver::start().await, Receiver::start().await);
    let (c1, c2) = (
        register(&a, false, Some(&r1.url)).await,
        register(&a, false, Some(&r2.url)).await,
    );
    let cookie = browser(&a, "ada@example.com").await;
    let (id1, t1) = signed_in_app(&a, &c1, &cookie).await;
    let (id2, _) = signed_in_app(&b, &c2, &cookie).await;
    // B refuses A's tokens the moment A's logout is answered.
    let access = t1["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&b, access).await.status(), StatusCode::OK);
    a.form("logout", Some(&cookie), &[]).await;
    assert_eq!(
        userinfo(&b, access).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let got = r1.wait_for(1).await;
    logout_token(&a, &got[0], &c1, &id1).await;
    let got = r2.wait_for(1).await;
    logout_token(&b, &got[0], &c2, &id2).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        r1.tokens().len() + r2.tokens().len(),
        2,
        "exactly once each, across both instances"
    );
}

/// `prompt=login`, and an authentication older than `max_age`, send a signed-in person to enter
/// their password again. As the same person, their sign-in stays (another application's tokens keep
/// working) and the new ID token's `auth_time` is that moment; as someone else, the sign-in is
/// replaced. With `prompt=none`, an authentication too old is `login_required`.
#[tokio::test]
async fn prompt_login_and_max_age_ask_for_the_password_again_and_keep_the_sign_in() {
    let app = spawn_app().await;
    let (c1, c2) = (
        register(&app, false, None).await,
        register(&app, false, None).await,
    );
    let cookie = browser(&app, "ada@example.com").await;
    let (id1, t1) = signed_in_app(&app, &c1, &cookie).await;
    let signed_in_at = id1["auth_time"].as_i64().unwrap();
    // Within max_age: a code at once.
    let to = location(
        &app.get(&c2.authorize_path(&[("max_age", "3600")]), Some(&cookie))
            .await,
    );
    assert!(query_of(&to).contains_key("code"), "{to}");
    // Malformed max_age goes back to the client.
    let to = location(
        &app.get(&c2.authorize_path(&[("max_age", "soon")]), Some(&cookie))
            .await,
    );
    assert_eq!(query_of(&to)["error"], "invalid_request", "{to}");
    // Ten minutes later (the sign-in started then).
    app.sql("UPDATE signins SET created_at = created_at - 600")
        .await;
    let to = location(
        &app.get(
            &c2.authorize_path(&[("max_age", "300"), ("prompt", "none")]),
            Some(&cookie),
        )
        .await,
    );
    assert!(to.starts_with(REDIRECT), "{to}");
    assert_eq!(query_of(&to)["error"], "login_required");
    for extra in [[("max_age", "300")], [("prompt", "login")]] {
        let res = app.get(&c2.authorize_path(&extra), Some(&cookie)).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let to = location(&res);
        assert!(to.starts_with("/login?reauth=1&next="), "{to}");
    }
    let to = location(
        &app.get(&c2.authorize_path(&[("max_age", "300")]), Some(&cookie))
            .await,
    );
    let next = query_of(&format!("http://x{to}"))["next"].clone();
    // The signed-in person sees the sign-in page (not home), saying why.
    let page = app.get(&to, Some(&cookie)).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page
        .text()
        .await
        .unwrap()
        .contains("An application asks you to confirm it is you."));
    // Without `reauth`, a signed-in visitor of /login still goes home.
    assert_eq!(location(&app.get("/login", Some(&cookie)).await), "/");
    // The password again, as the same person: back to the authorization, with a new session id.
    let res = app
        .form(
            "login",
            Some(&cookie),
            &[
                ("email", "ada@example.com"),
                ("password", PASSWORD),
                ("next", &next),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), next);
    let renewed = crate::helpers::session_cookie(&res).expect("a new session id");
    assert_ne!(renewed, cookie);
    let to = location(&app.get(&next, Some(&renewed)).await);
    assert!(to.starts_with(REDIRECT), "{to}");
    let tokens = c2.exchange(&app, &query_of(&to)["code"]).await;
    let (_, id2) = verified(&app, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(id2["sid"], id1["sid"], "the same sign-in");
    let auth_time = id2["auth_time"].as_i64().unwrap();
    assert!(
        auth_time >= signed_in_at,
        "{auth_time}: the moment of the password check, not the sign-in's start"
    );
    // The trail says so; the first application was not logged out.
    assert_eq!(
        app.sql_count("SELECT COUNT(*) FROM audit_events WHERE event = 'sign_in_confirmed'")
            .await,
        1
    );
    let access1 = t1["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&app, access1).await.status(), StatusCode::OK);
    // A wrong password changes nothing.
    let res = app
        .form(
            "login",
            Some(&renewed),
            &[
                ("email", "ada@example.com"),
                ("password", "wrong password"),
                ("next", &next),
            ],
        )
        .await;
    assert!(
        location(&res).starts_with("/login?error="),
        "{}",
        location(&res)
    );
    assert_eq!(userinfo(&app, access1).await.status(), StatusCode::OK);
    // Someone else signing in at that prompt replaces the sign-in: its applications are out.
    app.create_user("bob@example.com").await;
    let res = app
        .form(
            "login",
            Some(&renewed),
            &[
                ("email", "bob@example.com"),
                ("password", PASSWORD),
                ("next", &next),
            ],
        )
        .await;
    assert_eq!(location(&res), next);
    assert_eq!(
        userinfo(&app, access1).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

/// Two instances refreshing the grants of the same sign-ins at once: no group of endings is ever
/// aborted for a deadlock. (PostgreSQL finds a deadlock only after `deadlock_timeout`, a second:
/// each one was a refresh answered a second late. Rotations used to write their sign-in's row, in
/// whatever order a group held them, on both instances.)
#[tokio::test]
async fn two_instances_refreshing_the_grants_of_the_same_sign_ins_never_deadlock() {
    let Some(db) =
        require_postgres("two_instances_refreshing_the_grants_of_the_same_sign_ins_never_deadlock")
            .await
    else {
        return;
    };
    let (a, b) = two_instances(&db.url).await;
    let rp = register(&a, false, None).await;
    // Three browsers (three sign-ins) with six grants each.
    let mut chains = Vec::new();
    for email in ["ada@example.com", "bob@example.com", "cy@example.com"] {
        let cookie = browser(&a, email).await;
        for _ in 0..6 {
            let (_, tokens) = signed_in_app(&a, &rp, &cookie).await;
            chains.push(tokens["refresh_token"].as_str().unwrap().to_owned());
        }
    }
    // All the chains at once, each rotating ten times, on either instance in turn.
    let (a, b, rp) = (&a, &b, &rp);
    futures_util::future::join_all(chains.into_iter().enumerate().map(
        |(i, mut refresh)| async move {
            for n in 0..10 {
                let app = if (i + n) % 2 == 0 { a } else { b };
                let res = rp.refresh(app, &refresh).await;
                assert_eq!(res.status(), StatusCode::OK);
                let body: Value = res.json().await.unwrap();
                refresh = body["refresh_token"].as_str().unwrap().to_owned();
            }
        },
    ))
    .await;
    let retries = a.state.auth.engine().retries() + b.state.auth.engine().retries();
    assert_eq!(retries, 0, "groups aborted for a deadlock and run again");
}

/// Absolute lifetime, the concurrent sign-in limit, and a seed dialect's "everywhere" (a token of
/// another sign-in of the same account, seed 001's `scope=global`) each reach the client.
#[tokio::test]
async fn absolute_expiry_the_signin_limit_and_a_seed_dialects_global_logout_send_logout_tokens() {
    let app = spawn_app_with(|c| {
        c.session_absolute = Duration::from_secs(4);
        c.sweep_every = Duration::from_secs(1);
        c.max_signins_per_user = Some(2);
    })
    .await;
    let (receiver, rp) = one_client_listening(&app).await;
    let mut seen = 0;
    let mut expect = async |reason: &str, id: &Value| {
        seen += 1;
        next_logout_token(&app, &receiver, &rp, seen, reason, id).await;
    };
    // Seed 001, scope global, from an API token of the same account.
    let cookie = app.browser_login("ada@example.com").await;
    let (id, _) = signed_in_app(&app, &rp, &cookie).await;
    let token = app.opaque_token("ada@example.com").await;
    let res = app
        .logout_001(&token, Some(json!({"scope": "global"})))
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    expect("logout_global", &id).await;
    // The limit (2): a third sign-in ends the least recently used.
    let oldest = app.browser_login("ada@example.com").await;
    let (id, _) = signed_in_app(&app, &rp, &oldest).await;
    let _second = app.browser_login("ada@example.com").await;
    let _third = app.browser_login("ada@example.com").await;
    expect("limit", &id).await;
    // Absolute: 4 seconds after it started, used or not.
    let cookie = app.browser_login("ada@example.com").await;
    let (id, _) = signed_in_app(&app, &rp, &cookie).await;
    expect("absolute", &id).await;
}

/// Crash safety: the server is killed (SIGKILL) right after it answered a logout, while the
/// client's receiver is down; after a restart the logout token is delivered.
/// Against a server process at `base` (no `TestApp` to call into): registers ada, signs her in
/// through the login form and runs the code flow with PKCE for confidential client `client_id`.
/// Returns the browser's session cookie (`name=value`), the code it used, and the token
/// endpoint's answer.
pub async fn code_flow_over_http(
    http: &reqwest::Client,
    base: &str,
    client_id: &str,
    secret: &str,
) -> (String, String, Value) {
    let res = http
        .post(format!("{base}/api/v1/account/register"))
        .json(&json!({"email": "ada@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = http
        .post(format!("{base}/_fn/login"))
        .header("accept", crate::helpers::FORM_ACCEPT)
        .header("sec-fetch-site", "same-origin")
        .form(&[("email", "ada@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    let cookie = crate::helpers::session_cookie(&res).unwrap();
    let rp = Rp {
        client_id: client_id.to_owned(),
        secret: Some(secret.to_owned()),
        redirect_uri: REDIRECT.into(),
    };
    let res = http
        .get(format!("{base}{}", rp.authorize_path(&[])))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let code = query_of(&location(&res))["code"].clone();
    let res = http
        .post(format!("{base}/oauth/token"))
        .basic_auth(client_id, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let tokens: Value = res.json().await.unwrap();
    (cookie, code, tokens)
}

#[tokio::test]
async fn a_logout_token_survives_sigkill_right_after_the_logout_is_answered() {
    use crate::logout_engine::spawn_process_with;
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}/signoff.db?mode=rwc", dir.path().display());
    // A port for the receiver, free now and not listening until after the restart.
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let endpoint = format!("http://127.0.0.1:{port}/backchannel");
    let mut server = spawn_process_with(&database_url, &[]);
    let base = server.address.clone();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let db = signoff::server::db::Db::connect(&database_url)
        .await
        .unwrap();
    let (client, secret) = clients::add(
        &db,
        &NewClient {
            name: "Crash".into(),
            redirect_uris: vec![REDIRECT.into()],
            backchannel_logout_uri: Some(endpoint.clone()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let secret = secrecy::ExposeSecret::expose_secret(secret.as_ref().unwrap()).to_owned();
    let (cookie, _, tokens) = code_flow_over_http(&http, &base, &client.client_id, &secret).await;
    let form = |path: &str, cookie: Option<&str>, fields: &[(&str, &str)]| {
        let mut req = http
            .post(format!("{base}{path}"))
            .header("accept", crate::helpers::FORM_ACCEPT)
            .header("sec-fetch-site", "same-origin")
            .form(fields);
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        req.send()
    };
    let id_token = tokens["id_token"].as_str().unwrap();
    let id = jsonwebtoken::dangerous::insecure_decode::<Value>(id_token)
        .unwrap()
        .claims;

    // The logout is answered; at once, the process dies.
    let res = form("/_fn/logout", Some(&cookie), &[]).await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    server.kill();

    // The receiver comes up; the server restarts on the same database.
    let tokens = Arc::new(Mutex::new(Vec::<String>::new()));
    let got = tokens.clone();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let app = axum::Router::new().route(
        "/backchannel",
        axum::routing::post(move |body: String| {
            let got = got.clone();
            async move {
                if let Some((_, t)) =
                    form_urlencoded::parse(body.as_bytes()).find(|(k, _)| k == "logout_token")
                {
                    got.lock().unwrap().push(t.into_owned());
                }
                "ok"
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    let _restarted = spawn_process_with(&database_url, &[]);
    // A row claimed just before the kill waits out its lease (30 s) before it is sent again.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(45);
    while tokens.lock().unwrap().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the logout token was never delivered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let token = tokens.lock().unwrap()[0].clone();
    let claims = jsonwebtoken::dangerous::insecure_decode::<Value>(&token)
        .unwrap()
        .claims;
    assert_eq!(claims["sid"], id["sid"]);
    assert_eq!(claims["aud"], client.client_id.as_str());
    assert_eq!(claims["reason"], "logout");
}

/// An authorization request written with `%20` (as many clients write spaces) comes back through
/// `/login` intact: the page's `next` is a plain local path it follows.
#[tokio::test]
async fn an_authorization_request_with_encoded_spaces_survives_the_way_through_login() {
    let app = spawn_app().await;
    let rp = register(&app, false, None).await;
    app.create_user("ada@example.com").await;
    let path = rp
        .authorize_path(&[])
        .replace("openid+email+offline_access", "openid%20email");
    let to = location(&app.get(&path, None).await);
    let page = app.get(&to, None).await.text().await.unwrap();
    let next = query_of(&format!("http://x{to}"))["next"].clone();
    assert!(next.starts_with("/authorize?resume="), "{next}");
    let field = format!(r#"name="next" value="{}""#, next.replace('&', "&amp;"));
    assert!(page.contains(&field), "{field} in {page}");
    let res = app
        .login_form("ada@example.com", PASSWORD, Some(&next))
        .await;
    assert_eq!(location(&res), next);
    let cookie = crate::helpers::session_cookie(&res).unwrap();
    let back = location(&app.get(&next, Some(&cookie)).await);
    assert!(query_of(&back).contains_key("code"), "{back}");
}
