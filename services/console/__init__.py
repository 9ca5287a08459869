"""The web console: server-rendered Chinese pages for the coordination and work groups."""
