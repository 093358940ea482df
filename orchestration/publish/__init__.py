"""Publish: the audited warehouse copied into serving.duckdb, the read-only file BI tools and activation read."""
