"""Metrics adapters: core.metrics.Metrics as Prometheus series (prometheus.PrometheusMetrics)."""
