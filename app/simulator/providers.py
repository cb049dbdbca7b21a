"""The simulated providers, their wire dialects and real base paths, the URL rule and model limits."""

from __future__ import annotations

from urllib.parse import urlsplit

from app.config.catalog import Catalog

# provider -> dialect (one module per wire format serves each dialect)
DIALECTS: dict[str, str] = {
    "openai": "openai",
    "deepseek": "openai",
    "mistral": "openai",
    "openrouter": "openai",
    "perplexity": "openai",
    "huggingface": "openai",
    "azure_openai": "azure",
    "anthropic": "anthropic",
    "gemini": "gemini",
    "vertex_ai": "vertex",
    "cohere": "cohere",
    "bedrock": "bedrock",
}

# The path part of each provider's real base URL (as in config/routing_config.yaml).
REAL_BASE_PATHS: dict[str, str] = {
    "openai": "/v1",
    "deepseek": "",
    "mistral": "/v1",
    "openrouter": "/api/v1",
    "perplexity": "",
    "huggingface": "/v1",
    "azure_openai": "",
    "anthropic": "",
    "gemini": "",
    "vertex_ai": "",
    "cohere": "",
    "bedrock": "",
}

# OpenAI-compatible providers answer under their real base path and under /v1 as well.
OPENAI_PREFIXES: dict[str, tuple[str, ...]] = {
    p: tuple(dict.fromkeys((REAL_BASE_PATHS[p], "/v1"))) for p, d in DIALECTS.items() if d == "openai"
}

DEFAULT_MAX_OUTPUT = 32_768


def simulated_base_url(root: str, provider: str, real_base_url: str | None = None) -> str:
    """The simulator's stand-in for a provider's base URL: root + /{provider} + the real URL's path."""
    if provider not in DIALECTS:
        raise KeyError(f"the simulator has no provider {provider!r}")
    path = urlsplit(real_base_url).path if real_base_url else REAL_BASE_PATHS[provider]
    return f"{root.rstrip('/')}/{provider}{path.rstrip('/')}"


def simulated_catalog(catalog: Catalog, root: str) -> Catalog:
    """A copy of the catalog whose base URLs (deployments included) all point at the simulator."""
    raw = catalog.model_dump(mode="json")
    for name, spec in raw["providers"].items():
        if name not in DIALECTS:
            continue
        spec["base_url"] = simulated_base_url(root, name, spec["base_url"])
        for deployment in spec.get("deployments") or ():
            if deployment.get("base_url"):
                deployment["base_url"] = simulated_base_url(root, name, deployment["base_url"])
    return Catalog.model_validate(raw)


class ModelTable:
    """Model names and output-token limits per provider, from the catalog."""

    def __init__(self, catalog: Catalog | None) -> None:
        self._limits: dict[str, dict[str, int]] = {}
        for name, spec in catalog.providers.items() if catalog else ():
            table = self._limits.setdefault(name, {})
            for model in spec.models:
                limit = model.max_output_tokens or min(model.context_window, DEFAULT_MAX_OUTPUT)
                table[model.name] = limit
                if model.upstream_name:
                    table[model.upstream_name] = limit

    def max_output(self, provider: str, model: str) -> int:
        """The largest max_tokens the model accepts (a generous default for unknown models)."""
        return self._limits.get(provider, {}).get(model.removeprefix("models/"), DEFAULT_MAX_OUTPUT)

    def names(self, provider: str) -> tuple[str, ...]:
        """The models a provider lists."""
        return tuple(self._limits.get(provider, {}))
