"""Prometheus metrics that every HTTP service exports the same way."""

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

# No `_created` series beside each counter and histogram: nothing reads them, and every scrape
# of every service wrote and parsed them (issue 39.4: an idle platform's CPU went to its scrapes).
disable_created_metrics()

HTTP_REQUESTS = Counter(
    "liaison_http_requests_total",
    "HTTP requests answered, by service, method, route template and status code.",
    ["service", "method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "liaison_http_request_duration_seconds",
    "Time to answer an HTTP request, by service, method and route template.",
    ["service", "method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)


def exposition() -> tuple[bytes, str]:
    """The Prometheus text format of every metric in this process."""
    return generate_latest(), CONTENT_TYPE_LATEST
