"""`ganforge serve`: the HTTP API (app.py), its micro-batcher, limits and metrics."""
