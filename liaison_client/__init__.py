"""A client for enterprise systems and liaisons: submit JSON or CSV reports to ingest."""

from liaison_client.client import LiaisonClient, SubmitSummary, load_file

__all__ = ["LiaisonClient", "SubmitSummary", "load_file"]
