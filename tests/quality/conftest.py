"""The RouteLLM development data for the quality tests: beside the repository, or skipped outside CI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.quality.dataset import default_data_dir


@pytest.fixture(scope="session")
def routing_data() -> Path:
    """The folder holding gsm8k_dev.csv and mmlu_dev.csv."""
    folder = default_data_dir()
    if not (folder / "gsm8k_dev.csv").is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"routing-eval data missing at {folder} (expected ../shared/data/routing-eval in CI)")
        pytest.skip(f"routing-eval data not found at {folder} (nor ../shared/data/routing-eval)")
    return folder
