"""GET /v1/models: `auto` and every catalog model as `provider/model`, in OpenAI's list shape."""

from __future__ import annotations

import calendar
from collections.abc import Collection
from typing import Any

from app.config.catalog import Catalog
from app.openai_compat.wire import model_id

OWNER = "smart-llm-router"


def model_list(catalog: Catalog, keyed: Collection[str]) -> dict[str, Any]:
    """Every model the router can be asked for; `available` says whether its provider has a key."""
    data: list[dict[str, Any]] = [{
        "id": "auto", "object": "model", "created": 0, "owned_by": OWNER,
        "description": "routed per request: task, budget, region and health decide the model",
    }]
    for provider, spec in catalog.providers.items():
        for model in spec.models:
            data.append({
                "id": model_id(provider, model.name),
                "object": "model",
                "created": calendar.timegm(model.prices_checked.timetuple()),
                "owned_by": provider,
                "context_window": model.context_window,
                "capabilities": sorted(t.value for t in model.capabilities),
                "input_price_per_million": float(model.input_price),
                "output_price_per_million": float(model.output_price),
                "available": provider in keyed,
            })
    return {"object": "list", "data": data}
