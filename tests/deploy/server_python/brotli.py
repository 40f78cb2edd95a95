"""Put first on the stack's PYTHONPATH: a server's environment (``uv sync --no-dev``) has no
brotli, which only the load benchmarks' locust brings into the development environment. Without
it whitenoise's ``collectstatic`` compresses with gzip alone, as on a server, in seconds rather
than the minute brotli takes on the test machine's two shared cores."""

raise ImportError("brotli is not in a server's environment (uv sync --no-dev)")
