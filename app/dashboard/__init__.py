"""The dashboard page: static HTML, CSS and JS (Chart.js vendored, MIT) fed by the analytics endpoints."""

from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"
