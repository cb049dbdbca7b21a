"""Which scope each path needs. Unlisted paths need `admin`: a new route is closed until mapped."""

from __future__ import annotations

from app.tenancy.principal import Scope

API = "/api/brain/ai-assistant"
ADMIN_PREFIX = f"{API}/admin"

# Longest prefix wins; a prefix matches the path itself and anything below it ("/x" and "/x/...").
SCOPES: dict[str, Scope] = {
    f"{API}/route": Scope.ROUTE,
    f"{API}/providers": Scope.ROUTE,
    f"{API}/tenant": Scope.ROUTE,
    f"{API}/execute": Scope.EXECUTE,
    f"{API}/feedback": Scope.EXECUTE,
    f"{API}/analytics": Scope.ANALYTICS,
    f"{API}/decisions": Scope.ANALYTICS,
    "/dashboard": Scope.ANALYTICS,
    "/v1/chat/completions": Scope.EXECUTE,
    "/v1/completions": Scope.EXECUTE,
    "/v1/models": Scope.ROUTE,
    ADMIN_PREFIX: Scope.ADMIN,
}
_ORDERED = sorted(SCOPES.items(), key=lambda item: len(item[0]), reverse=True)


def required_scope(path: str) -> Scope:
    """The scope a request to `path` needs."""
    for prefix, scope in _ORDERED:
        if path == prefix or path.startswith(prefix + "/"):
            return scope
    return Scope.ADMIN


def is_public(path: str, public: tuple[str, ...]) -> bool:
    """Health, readiness, metrics and the docs (Swagger's OAuth redirect page included)."""
    return any(path == p or (p in ("/docs", "/redoc") and path.startswith(p + "/")) for p in public)
