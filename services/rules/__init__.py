"""Rules: Faust stream processors that detect problems and route them to the groups responsible."""
