"""Test doubles that use real I/O, shared by dreamcore's tests, its benchmarks and plugin authors.

``fake_openai`` is a loopback OpenAI-compatible HTTP server. It lives in the package (not in tests/)
so benchmarks and third-party plugins can import it; it is standard library only and loads nothing
unless imported.
"""
