"""Ingest: the HTTP and Kafka entry points of enterprise and work-group submissions."""
