//! Carrying a trace from the request that ends a sign-in to the deliveries it causes.
//!
//! An ending's outbox rows (webhook events, logout tokens) are sent later, by another task or
//! another instance; each row keeps the W3C `traceparent` of the span that asked for the ending, and
//! its delivery continues that trace. The context travels as that one string, so the domain and the
//! database know nothing of OpenTelemetry beyond it.
//!
//! Traces are on only when the server installed an exporter ([`enable`]); otherwise
//! [`current`] is `None` and nothing is stored or sent.

use std::{
    collections::HashMap,
    sync::atomic::{AtomicBool, Ordering},
};

use opentelemetry::{
    propagation::TextMapPropagator,
    trace::{SpanContext, TraceContextExt},
    Context,
};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

static ON: AtomicBool = AtomicBool::new(false);

/// Says that spans are exported (the server calls it once it installed the OpenTelemetry layer).
pub fn enable() {
    ON.store(true, Ordering::Relaxed);
}

/// Whether spans are exported.
pub fn enabled() -> bool {
    ON.load(Ordering::Relaxed)
}

/// The current span's context as a W3C `traceparent`; `None` when traces are off.
pub fn current() -> Option<String> {
    if !enabled() {
        return None;
    }
    traceparent(&tracing::Span::current().context())
}

/// `cx`'s span as a W3C `traceparent`, when it has a valid one.
pub fn traceparent(cx: &Context) -> Option<String> {
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(cx, &mut carrier);
    carrier.remove("traceparent")
}

/// The context a `traceparent` names (an invalid one for anything else).
pub fn parse(traceparent: &str) -> Context {
    let carrier = HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    TraceContextPropagator::new().extract(&carrier)
}

/// Makes `span` a child of the span `traceparent` names (nothing when traces are off or it names
/// none). Call before the span is first entered.
pub fn continue_from(span: &tracing::Span, traceparent: Option<&str>) {
    if let (true, Some(parent)) = (enabled(), traceparent) {
        let _ = span.set_parent(parse(parent));
    }
}

/// Links `span` to the span `traceparent` names: a group commit serves many requests, each in
/// its own trace.
pub fn link(span: &tracing::Span, traceparent: &str) {
    if !enabled() {
        return;
    }
    let linked: SpanContext = parse(traceparent).span().span_context().clone();
    if linked.is_valid() {
        span.add_link(linked);
    }
}

/// `span`'s trace id (32 hex digits) once it has started; `None` when traces are off.
pub fn trace_id(span: &tracing::Span) -> Option<String> {
    if !enabled() {
        return None;
    }
    let cx = span.context();
    let id = cx.span().span_context().trace_id();
    cx.span().span_context().is_valid().then(|| format!("{id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traceparent_reads_back_as_the_same_trace_and_span() {
        let given = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let cx = parse(given);
        assert!(cx.span().span_context().is_valid());
        assert_eq!(traceparent(&cx).as_deref(), Some(given));
    }

    #[test]
    fn anything_else_names_no_span() {
        for bad in [
            "",
            "nonsense",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        ] {
            assert!(!parse(bad).span().span_context().is_valid(), "{bad}");
            assert_eq!(traceparent(&parse(bad)), None, "{bad}");
        }
    }

    #[test]
    fn traces_are_off_until_enabled() {
        // No test enables them (the flag is process-wide): nothing is carried.
        assert_eq!(current(), None);
    }
}
