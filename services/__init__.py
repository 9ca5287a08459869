"""Liaison services: ingest, rules, notify and registry. None imports another."""
