"""Tests of ``sourcewise serve``: a real uvicorn server in a subprocess, called over HTTP."""
