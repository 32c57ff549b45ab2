"""Observability: Prometheus metrics, scrape-time gauges, JSON logs and the delivery-path hooks."""
