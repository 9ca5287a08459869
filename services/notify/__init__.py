"""Notify: store, deliver, acknowledge, escalate and summarise alerts for the coordination groups."""
