"""Reads the catalog YAML, validates it, and names the file and field of every problem."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from app.config.catalog import Catalog
from app.config.enums import BudgetTier, Strategy

DEFAULT_CATALOG = Path(__file__).resolve().parents[2] / "config" / "routing_config.yaml"


# libyaml's parser when PyYAML has it (every wheel does): ~10x faster on the catalog at start-up
_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_SafeLoader):  # type: ignore[misc]
    """A safe loader that refuses duplicate mapping keys instead of keeping the last one."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping
)


def catalog_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The catalog file to load: the argument, then ROUTER_CONFIG, then the shipped file."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("ROUTER_CONFIG")
    if env:
        return Path(env)
    return DEFAULT_CATALOG


def format_loc(loc: Iterable[int | str]) -> str:
    """('providers', 'mistral', 'models', 1, 'input_price') -> providers.mistral.models[1].input_price."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def load_catalog(path: str | os.PathLike[str] | None = None) -> Catalog:
    """Load and validate the catalog; raise ConfigError listing every problem with its path."""
    from app.errors import ConfigError

    source = catalog_path(path)
    try:
        raw = yaml.load(source.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506
    except OSError as exc:
        raise ConfigError(str(source), [
            f"cannot read the file: {exc.strerror or exc} (set ROUTER_CONFIG to the catalog's path)"
        ]) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(str(source), [f"not valid YAML: {exc}"]) from exc
    if not isinstance(raw, dict):
        raise ConfigError(str(source), ["(top level): expected a mapping of sections"])
    try:
        catalog = Catalog.model_validate(raw)
    except ValidationError as exc:
        problems = [
            f"{format_loc(err['loc'])}: {err['msg']}"
            + (f" (got {err['input']!r})" if _short(err.get("input")) else "")
            for err in exc.errors()
        ]
        raise ConfigError(str(source), problems) from None
    problems = list(cross_check(catalog))
    if problems:
        raise ConfigError(str(source), problems)
    return catalog


def _short(value: Any) -> bool:
    return isinstance(value, str | int | float) and len(str(value)) <= 60


def cross_check(catalog: Catalog) -> Iterable[str]:
    """Rules that span sections: names must resolve, no duplicates, every tier and strategy set."""
    providers = catalog.providers
    for tier in BudgetTier:
        if tier not in catalog.budget_tiers:
            yield f"budget_tiers.{tier.value}: missing (every tier must be configured)"
    for strategy in Strategy:
        if strategy not in catalog.strategies:
            yield f"strategies.{strategy.value}: missing (every strategy needs its weights)"
    for pname, provider in providers.items():
        deployment_names = [d.name for d in provider.all_deployments()]
        if len(set(deployment_names)) != len(deployment_names):
            yield f"providers.{pname}.deployments: duplicate deployment name"
        seen: set[str] = set()
        for i, model in enumerate(provider.models):
            where = f"providers.{pname}.models[{i}]"
            if model.name in seen:
                yield f"{where}.name: duplicate model {model.name!r} in provider {pname!r}"
            seen.add(model.name)
            missing = sorted(t.value for t in model.capabilities if t not in model.quality)
            if missing:
                yield f"{where}.quality: no score for capabilities {missing}"
            extra = sorted(t.value for t in model.quality if t not in model.capabilities)
            if extra:
                yield f"{where}.quality: scores for tasks the model lacks {extra}"
            for dname in model.deployments or ():
                if dname not in deployment_names:
                    yield f"{where}.deployments: unknown deployment {dname!r} of {pname!r}"
    named_lists: list[tuple[str, tuple[str, ...]]] = []
    named_lists += [(f"task_preferences.{t.value}", v) for t, v in catalog.task_preferences.items()]
    named_lists += [
        (f"budget_tiers.{t.value}.preferred_providers", s.preferred_providers)
        for t, s in catalog.budget_tiers.items()
    ]
    named_lists += [
        (f"regional_rules.{r.value}.preferred_providers", s.preferred_providers)
        for r, s in catalog.regional_rules.items()
    ]
    named_lists += [
        (f"context_classes[{i}].preferred_providers", c.preferred_providers)
        for i, c in enumerate(catalog.context_classes)
    ]
    for where, names in named_lists:
        for j, name in enumerate(names):
            if name not in providers:
                yield f"{where}[{j}]: unknown provider {name!r}"
        if len(set(names)) != len(names):
            yield f"{where}: a provider is listed twice"
    limits = [c.max_tokens for c in catalog.context_classes]
    for i, limit in enumerate(limits):
        if limit is None and i != len(limits) - 1:
            yield f"context_classes[{i}].max_tokens: only the last class may be unbounded"
        if i and limit is not None and limits[i - 1] is not None and limit <= limits[i - 1]:  # type: ignore[operator]
            yield f"context_classes[{i}].max_tokens: classes must grow"
    base = catalog.baseline
    if base.provider not in providers:
        yield f"baseline.provider: unknown provider {base.provider!r}"
    elif base.model not in {m.name for m in providers[base.provider].models}:
        yield f"baseline.model: {base.model!r} is not a model of {base.provider!r}"
