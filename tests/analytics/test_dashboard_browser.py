"""The dashboard in headless Chromium: after a few executions it shows the providers and the savings."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from app.config.catalog import Catalog
from app.simulator import SimulatorServer
from tests.analytics.live import API, execute_some, running_service, wait_for_records

pytestmark = pytest.mark.slow
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--virtual-time-budget=8000",
]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is required in CI (.ci/run installs the Debian package)")
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run does it)")
    return found


def browse(binary: str, url: str, profile: Path, *extra: str) -> str:
    """Chromium's output for the page once its scripts have run (virtual time lets fetches finish)."""
    done = subprocess.run(
        [binary, *FLAGS, f"--user-data-dir={profile}", *extra, url],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def simulator(catalog: Catalog) -> Iterator[SimulatorServer]:
    with SimulatorServer(catalog=catalog) as server:
        yield server


def test_dashboard_shows_providers_and_savings(
    tmp_path: Path,
    simulator: SimulatorServer,
    catalog: Catalog,
    provider_keys: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    binary = chromium()
    url = f"sqlite+aiosqlite:///{tmp_path}/router.db"
    with running_service(url, tmp_path, simulator, catalog, monkeypatch) as service:
        answers = execute_some(service, simulator, 4)
        costs = wait_for_records(service, 4)
        assert costs["requests"] == 4
        providers = httpx.get(f"{service.url}{API}/analytics/providers").json()["providers"]
        page = f"{service.url}/dashboard"
        dom = browse(binary, page, tmp_path / "profile-dom", "--dump-dom")
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "dashboard.png"
        shot.unlink(missing_ok=True)
        browse(binary, page, tmp_path / "profile-shot", f"--screenshot={shot}", "--window-size=1280,1100")
    assert 'data-loaded="true"' in dom, dom[-3000:]
    rows = re.findall(r'<tr data-provider="([^"]+)">', dom)
    assert rows == [p["provider"] for p in providers]
    assert {a["provider"] for a in answers} <= set(rows)
    savings = re.search(r'<dd id="savings">\$([0-9.,]+) \(([0-9.]+)%\)</dd>', dom)
    assert savings is not None, dom[-3000:]
    shown = Decimal(savings.group(1).replace(",", ""))
    assert abs(shown - Decimal(repr(costs["savings_usd"]))) <= Decimal("0.00005")
    assert float(savings.group(2)) == pytest.approx(costs["savings_percent"], abs=0.05)
    assert "★" in dom and '<canvas id="timeline"' in dom
    assert shot.stat().st_size > 10_000
