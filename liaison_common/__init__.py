"""What every Liaison service shares: settings, topic names, tokens, routing, metrics helpers."""
