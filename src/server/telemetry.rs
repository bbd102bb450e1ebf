//! Logs and traces: what `main` installs before anything else runs.
//!
//! - **Logs** go to standard error, as text, or as one JSON object a line when
//!   `SIGNOFF_LOG_FORMAT=json` (each with the spans it happened in: the request's carries its
//!   `trace_id`). `RUST_LOG` filters them.
//! - **Traces** go over OTLP (HTTP/protobuf) when the standard `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//!   `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set; the exporter reads the other standard `OTEL_*`
//!   settings itself (headers, timeout, `OTEL_SERVICE_NAME`, `OTEL_BSP_*`). They carry a span per
//!   request (`http.route`, the route template), per ending (`logout.ending`: reason and dialect),
//!   per group commit, and per outbox delivery, which continues the trace of the ending that wrote
//!   it ([`crate::server::domain::trace`]). Their filter is their own: `RUST_LOG=warn` keeps logs
//!   quiet without emptying the traces.
//!
//! No span carries a credential: the request span names the method and the route template only
//! (never the path or query, where seed 000 sends a token), and the domain's spans ids and reasons.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{Bytes, HttpClient, HttpError};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::{trace::SdkTracerProvider, Resource};
use tracing_subscriber::{layer::SubscriberExt, util::SubscriberInitExt, EnvFilter, Layer};

use crate::server::domain::trace;

/// What must be flushed before the process exits.
#[must_use = "call shutdown() before exiting, or the last spans are lost"]
pub struct Telemetry {
    traces: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Sends the spans still buffered (waits for the exporter, at most its timeout).
    pub async fn shutdown(self) {
        if let Some(provider) = self.traces {
            // `shutdown` blocks until the batch thread has exported; not on a runtime thread.
            let _ = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        }
    }
}

/// Installs the logs and, when an OTLP endpoint is set, the trace exporter. Call once, inside the
/// Tokio runtime (the exporter sends through it).
pub fn init() -> Telemetry {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_sessions=warn"));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let json = std::env::var("SIGNOFF_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let logs = if json {
        fmt.json().with_span_list(true).with_filter(filter).boxed()
    } else {
        // Colours only for a terminal: escape codes are noise in a log file, and cost time on
        // every request's span.
        fmt.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_filter(filter)
            .boxed()
    };
    let (provider, problem) = match exporter() {
        Ok(provider) => (provider, None),
        Err(problem) => (None, Some(problem)),
    };
    let spans = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("signoff"))
            // Signoff's own spans; the libraries' (sqlx, hyper) would drown them.
            .with_filter(EnvFilter::new("warn,signoff=info"))
    });
    tracing_subscriber::registry().with(logs).with(spans).init();
    if let Some(problem) = problem {
        tracing::error!("traces are off: {problem}");
    }
    if provider.is_some() {
        trace::enable();
        tracing::info!("exporting traces over OTLP (HTTP/protobuf)");
    }
    Telemetry { traces: provider }
}

/// The trace exporter, when `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`
/// names one.
fn exporter() -> Result<Option<SdkTracerProvider>, String> {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    if !set("OTEL_EXPORTER_OTLP_ENDPOINT") && !set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
        return Ok(None);
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_http_client(Reqwest::new().map_err(|e| e.to_string())?)
        .build()
        .map_err(|e| e.to_string())?;
    let resource = if set("OTEL_SERVICE_NAME") {
        Resource::builder().build()
    } else {
        Resource::builder().with_service_name("signoff").build()
    };
    Ok(Some(
        SdkTracerProvider::builder()
            .with_resource(resource)
            .with_batch_exporter(exporter)
            .build(),
    ))
}

/// The exporter's HTTP client: the reqwest (0.12, rustls) the webhooks already use, where
/// opentelemetry-otlp's own clients would bring a second major version of reqwest and its TLS
/// stack. The batch exporter calls it from its own thread, outside the runtime: each request is
/// sent on the runtime, and its answer awaited from there.
#[derive(Debug)]
struct Reqwest {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

impl Reqwest {
    fn new() -> reqwest::Result<Self> {
        Ok(Self {
            client: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()?,
            runtime: tokio::runtime::Handle::current(),
        })
    }
}

#[async_trait::async_trait]
impl HttpClient for Reqwest {
    async fn send_bytes(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, HttpError> {
        let request = reqwest::Request::try_from(request)?;
        let client = self.client.clone();
        let sent = self.runtime.spawn(async move {
            let answer = client.execute(request).await?;
            let (status, headers) = (answer.status(), answer.headers().clone());
            let body = answer.bytes().await?;
            Ok::<_, reqwest::Error>((status, headers, body))
        });
        let (status, headers, body) = sent.await??;
        let mut response = http::Response::new(body);
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        Ok(response)
    }
}
