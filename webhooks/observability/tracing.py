"""OpenTelemetry traces, off unless the SDK's OTEL_* variables say where to send them.

On (`configure()`, from WebhooksConfig.ready(), so in web and worker processes alike), the
registry's instrumentations trace Django requests, psycopg statements and outgoing HTTP (requests,
and urllib3 under the delivery client, which bypasses requests.Session on purpose); the spans of
our own are the emit and its store, each attempt (a child of the emit, through the W3C context
stored on the event), the sweep and the cleanup. Off, nothing of the SDK is imported: `traced`
and `span` cost one attribute test, and the engine's signals have no receiver.
"""

import functools
import logging
import os
import threading
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from typing import Any

logger = logging.getLogger(__name__)

DEFAULT_SERVICE_NAME = "agenta-webhooks"
UNTRACED_PATHS = ("portal/open", "healthz", "readyz", "metrics")  # regexes, searched in the URL
_OFF = nullcontext()
_tracer = None  # an opentelemetry Tracer while tracing is on
_instrumentors: list = []
_open = threading.local()  # this thread's attempt or sweep span: (span, context token)


def wanted(environ: Mapping[str, str] = os.environ) -> bool:
    """Return whether the OTEL_* variables ask for traces (the SDK's names and meanings)."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporters:
        return exporters != "none"
    return bool(
        environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def enabled() -> bool:
    """Return whether this process traces."""
    return _tracer is not None


def configure(exporter=None, *, set_global: bool = True) -> bool:
    """Start tracing when OTEL_* asks for it, or into exporter (tests); return whether on."""
    global _tracer
    if _tracer is not None:
        return True
    if exporter is None and not wanted():
        return False
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    named = "OTEL_SERVICE_NAME" in os.environ or "service.name" in os.environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    )
    attributes = {} if named else {"service.name": DEFAULT_SERVICE_NAME}
    provider = TracerProvider(resource=Resource.create(attributes))  # OTEL_TRACES_SAMPLER too
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        for configured in _exporters():
            provider.add_span_processor(BatchSpanProcessor(configured))  # OTEL_BSP_* tune it
    if set_global:
        trace.set_tracer_provider(provider)
    _instrument(provider)
    _tracer = provider.get_tracer("webhooks")
    logger.info("tracing on: %s", os.environ.get("OTEL_TRACES_EXPORTER", "otlp"))
    return True


def _exporters() -> list:
    names = os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() or "otlp"
    found = []
    for name in (part.strip() for part in names.split(",")):
        if name == "otlp":
            protocol = os.environ.get(
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
                os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            )
            if protocol != "http/protobuf":
                logger.warning("OTLP protocol %r is not installed; using http/protobuf", protocol)
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            found.append(OTLPSpanExporter())  # OTEL_EXPORTER_OTLP_* configure it
        elif name == "console":
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            found.append(ConsoleSpanExporter())
        elif name and name != "none":
            logger.warning("unknown OTEL_TRACES_EXPORTER %r: ignored", name)
    return found


def _instrument(provider) -> None:
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor
    from opentelemetry.instrumentation.urllib3 import URLLib3Instrumentor

    from webhooks.wire import redacted_url

    # Receivers keep tokens in their URLs' paths and queries: spans show them redacted. The
    # portal link's single-use token is in its query: that request, the probes and the scrapes
    # are never traced (OTEL_PYTHON_DJANGO_EXCLUDED_URLS adds to these).
    excluded = ",".join(
        [*UNTRACED_PATHS, os.environ.get("OTEL_PYTHON_DJANGO_EXCLUDED_URLS", "")]
    ).strip(",")
    options: list[tuple[str, Any, dict]] = [
        ("django", DjangoInstrumentor(), {"excluded_urls": excluded}),
        ("psycopg", PsycopgInstrumentor(), {"enable_commenter": False, "skip_dep_check": True}),
        ("requests", RequestsInstrumentor(), {}),
        ("urllib3", URLLib3Instrumentor(), {"url_filter": redacted_url}),
    ]
    # The auto-instrumentation's variable: a comma-separated list of names to leave out.
    disabled = os.environ.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "")
    skipped = {name.strip() for name in disabled.split(",")}
    for name, instrumentor, kwargs in options:
        if name in skipped:
            continue
        instrumentor.instrument(tracer_provider=provider, **kwargs)
        _instrumentors.append(instrumentor)


def shutdown() -> None:
    """Stop tracing: undo the instrumentations and forget the tracer (tests)."""
    global _tracer
    while _instrumentors:
        _instrumentors.pop().uninstrument()
    _tracer = None


def span(name: str, **attributes):
    """Return a context manager running its block in a new span (a no-op while off)."""
    if _tracer is None:
        return _OFF
    return _tracer.start_as_current_span(name, attributes=attributes)


def traced(name: str) -> Callable:
    """Decorate a function so each call runs in a span called name (a no-op while off)."""

    def decorate(function: Callable) -> Callable:
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            if _tracer is None:
                return function(*args, **kwargs)
            with _tracer.start_as_current_span(name):
                return function(*args, **kwargs)

        return wrapper

    return decorate


def current_context() -> dict[str, str]:
    """Return the running span's W3C trace context (traceparent, tracestate), or {} when off."""
    if _tracer is None:
        return {}
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier)
    return carrier


def open_span(name: str, parent: Mapping[str, str] | None, **attributes) -> None:
    """Start a span as this thread's current one, a child of the W3C parent if given."""
    from opentelemetry import context, trace
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    close_span()  # one left open by an error: it ends here rather than never
    parent_context = TraceContextTextMapPropagator().extract(parent) if parent else None
    opened = _tracer.start_span(name, context=parent_context, attributes=attributes)
    _open.current = (opened, context.attach(trace.set_span_in_context(opened)))


def close_span(error: str = "", **attributes) -> None:
    """End this thread's span opened by open_span (if any), with these attributes."""
    from opentelemetry import context
    from opentelemetry.trace import Status, StatusCode

    current = getattr(_open, "current", None)
    if current is None:
        return
    _open.current = None
    opened, token = current
    opened.set_attributes({k: v for k, v in attributes.items() if v is not None})
    if error:
        opened.set_status(Status(StatusCode.ERROR, error))
    opened.end()
    context.detach(token)
