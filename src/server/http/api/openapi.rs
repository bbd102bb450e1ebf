//! The OpenAPI 3.1 document of every JSON endpoint, generated from the handlers' `#[utoipa::path]`
//! annotations and the types of [`super::schemas`], which are what the handlers and the dialects'
//! envelopes serialize (one source: the document cannot drift from the answers). Served at
//! `/api/openapi.json`; schemathesis checks the server against it (`scripts/fuzz-api`).

use std::sync::OnceLock;

use axum::{response::IntoResponse, routing::get, Json, Router};
use utoipa::{
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    Modify, OpenApi,
};

use crate::server::AppState;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        // Seed 000 takes its token in the query (`?token=`) as well as in a bearer header.
        components.add_security_scheme(
            "token",
            SecurityScheme::ApiKey(utoipa::openapi::security::ApiKey::Query(
                utoipa::openapi::security::ApiKeyValue::with_description(
                    "token",
                    "The token, where no bearer header is sent",
                ),
            )),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(utoipa::openapi::security::ApiKey::Cookie(
                utoipa::openapi::security::ApiKeyValue::new(
                    crate::server::http::session::COOKIE_NAME,
                ),
            )),
        );
    }
}

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Signoff",
        description = "Five published logout APIs over one account, sign-in and token system. \
            A token from any login works with every dialect's logout; once any logout succeeds, \
            the revoked credential is refused everywhere. Every 401 carries \
            `WWW-Authenticate: Bearer error=\"invalid_token\"`; every 503 carries `Retry-After`.",
        license(name = "Proprietary")
    ),
    paths(
        super::account::register,
        super::account::login,
        super::account::me,
        super::account::logout,
        super::auth_logout::logout,
        super::v1_logout::logout,
        super::jwt::login,
        super::jwt::refresh,
        super::jwt::logout,
        super::oauth::revoke,
    ),
    modifiers(&Bearer),
    tags(
        (name = "seed 000: account", description = "`/api/v1/account/*`: `{\"data\":…}` / `{\"error\":{\"message\",\"code\"}}`"),
        (name = "seed 001: auth", description = "`POST /auth/logout` with scopes: `{\"message\",\"description\",\"code\"}`"),
        (name = "seed 002: v1", description = "`DELETE /api/v1/logout`: 204 / `{\"message\"}`"),
        (name = "seed 004: jwt", description = "`/api/auth/*`: `{\"code\",\"message\",\"data\"}`"),
        (name = "RFC 7009", description = "`POST /oauth/revoke`: 200 with an empty body / `{\"error\"}`"),
    )
)]
pub struct ApiDoc;

/// The document, built once.
pub fn document() -> &'static serde_json::Value {
    static DOC: OnceLock<serde_json::Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc =
            serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI document serialises");
        exact(&mut doc);
        doc
    })
}

/// What the handlers' types cannot say through utoipa, said on the document itself: seed 001's
/// body is optional but, when sent, an object (JSON `null` is 400), and it never holds `scope` and
/// `session_id` together (422). JSON Schema says both exactly; utoipa has no `not` and makes an
/// optional body nullable.
fn exact(doc: &mut serde_json::Value) {
    doc["paths"]["/auth/logout"]["post"]["requestBody"]["content"]["application/json"]["schema"] =
        serde_json::json!({ "$ref": "#/components/schemas/LogoutRequest" });
    doc["components"]["schemas"]["LogoutRequest"]["not"] =
        serde_json::json!({ "required": ["scope", "session_id"] });
}

/// One operation of the document, in words (the API reference page lists these).
#[derive(Clone, Debug)]
pub struct Operation {
    /// `GET`, `POST`, …
    pub method: &'static str,
    pub path: String,
    /// The dialect's tag.
    pub tag: String,
    pub summary: String,
    pub description: String,
    /// `(status, what it means)`, in the document's order.
    pub responses: Vec<(String, String)>,
}

/// Every operation, grouped by tag (seed 000, 001, 002, 004, then RFC 7009), each tag's in the
/// document's order. The document's texts are Markdown; these are plain (no backticks).
pub fn operations() -> Vec<Operation> {
    let plain = |text: &str| text.replace('`', "");
    let doc = ApiDoc::openapi();
    let mut out = Vec::new();
    for (path, item) in &doc.paths.paths {
        let methods = [
            ("GET", &item.get),
            ("PUT", &item.put),
            ("POST", &item.post),
            ("DELETE", &item.delete),
            ("OPTIONS", &item.options),
            ("HEAD", &item.head),
            ("PATCH", &item.patch),
            ("TRACE", &item.trace),
        ];
        for (method, op) in methods {
            let Some(op) = op else { continue };
            let responses = op
                .responses
                .responses
                .iter()
                .map(|(code, res)| {
                    let what = match res {
                        utoipa::openapi::RefOr::T(res) => plain(&res.description),
                        utoipa::openapi::RefOr::Ref(_) => String::new(),
                    };
                    (code.clone(), what)
                })
                .collect();
            out.push(Operation {
                method,
                path: path.clone(),
                tag: op.tags.iter().flatten().next().cloned().unwrap_or_default(),
                summary: plain(op.summary.as_deref().unwrap_or_default()),
                description: plain(op.description.as_deref().unwrap_or_default()),
                responses,
            });
        }
    }
    // The tags sort in seed order; the sort is stable, so each keeps the document's order.
    out.sort_by(|a, b| a.tag.cmp(&b.tag));
    out
}

/// `GET /api/openapi.json`
pub fn router() -> Router<AppState> {
    Router::new().route(
        "/api/openapi.json",
        get(|| async { Json(document()).into_response() }),
    )
}
