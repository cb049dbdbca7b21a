"""Thin HTTP layer: routers, dependencies and the one error handler.

Importing it also keeps httpx's command-line client out of the service: httpx imports it (click,
rich and pygments, ~80 modules and ~0.15 s of start-up here) whenever those happen to be installed,
as the dev extras install them, and the service never runs it. A None entry in sys.modules makes
that optional import fail as if they were absent; httpx then defines its stub `main` instead.
"""

import sys

sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
