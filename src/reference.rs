//! The API reference page's data: read from the OpenAPI document the server generates, so the page
//! and `/api/openapi.json` never disagree.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path.
    pub path: String,
    /// The dialect's tag.
    pub tag: String,
    /// One line on what it does.
    pub summary: String,
    /// Longer notes, if any.
    pub description: String,
    /// `(status, what it means)`, in order.
    pub responses: Vec<(String, String)>,
}

/// Every JSON endpoint, in the document's order.
#[server(prefix = "/_fn", endpoint = "api_reference")]
pub async fn api_reference() -> Result<Vec<Endpoint>, ServerFnError> {
    let doc = crate::server::http::api::openapi::document();
    let mut out = Vec::new();
    let Some(paths) = doc["paths"].as_object() else {
        return Ok(out);
    };
    for (path, item) in paths {
        let Some(ops) = item.as_object() else {
            continue;
        };
        for (method, op) in ops {
            // The document's texts are Markdown; this page shows them plain.
            let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().replace('`', "");
            let responses = op["responses"]
                .as_object()
                .map(|r| {
                    r.iter()
                        .map(|(code, res)| (code.clone(), text(&res["description"])))
                        .collect()
                })
                .unwrap_or_default();
            out.push(Endpoint {
                method: method.to_uppercase(),
                path: path.clone(),
                tag: op["tags"][0].as_str().unwrap_or_default().to_owned(),
                summary: text(&op["summary"]),
                description: text(&op["description"]),
                responses,
            });
        }
    }
    // Seed order (000, 001, 002, 004); the sort is stable, so each keeps its own order.
    out.sort_by(|a, b| a.tag.cmp(&b.tag));
    Ok(out)
}
