//! The benchmark's ceiling: bare axum 0.8 on tokio, one route answering a constant of the same
//! size as Signoff's `GET /healthz` (`{"status":"ok"}`), no middleware. `bench/run.sh` measures it
//! in the same run as Signoff, so that `/healthz` can be stated as a share of it.
//!
//!   bare-axum 127.0.0.1:3299

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3299".to_owned());
    let app = axum::Router::new().route(
        "/healthz",
        axum::routing::get(|| async {
            (
                [(http::header::CONTENT_TYPE, "application/json")],
                r#"{"status":"ok"}"#,
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .expect("the address is free");
    axum::serve(listener, app).await.expect("serving");
}
