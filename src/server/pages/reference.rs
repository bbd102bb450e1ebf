//! Body of the API reference page's server function.

use leptos::prelude::ServerFnError;

use crate::{pages::reference::Endpoint, server::http::api::openapi};

/// Body of `pages::reference::api_reference`: the document's operations, as the page shows them.
pub async fn api_reference() -> Result<Vec<Endpoint>, ServerFnError> {
    Ok(openapi::operations()
        .into_iter()
        .map(|op| Endpoint {
            method: op.method.to_owned(),
            path: op.path,
            tag: op.tag,
            summary: op.summary,
            description: op.description,
            responses: op.responses,
        })
        .collect())
}
