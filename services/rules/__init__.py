"""The rules service (built in its own issue; see the README's roadmap)."""
