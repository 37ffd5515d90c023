"""Background work: inline for the embedded default, RQ on Redis for real deployments."""
