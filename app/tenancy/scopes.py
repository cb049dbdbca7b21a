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
_BELOW = tuple((prefix + "/", scope) for prefix, scope in
               sorted(SCOPES.items(), key=lambda item: len(item[0]), reverse=True))
DOC_PAGES = ("/docs", "/redoc")


def required_scope(path: str) -> Scope:
    """The scope a request to `path` needs."""
    exact = SCOPES.get(path)
    if exact is not None:
        return exact
    for below, scope in _BELOW:
        if path.startswith(below):
            return scope
    return Scope.ADMIN


def is_public(path: str, public: tuple[str, ...]) -> bool:
    """Health, readiness, metrics and the docs (Swagger's OAuth redirect page included)."""
    if path in public:
        return True
    return any(p in public and path.startswith(p + "/") for p in DOC_PAGES)


class PathPolicy:
    """Per path: None when public, else the scope it needs; memoised (bounded) for the hot path."""

    def __init__(self, public: tuple[str, ...], max_paths: int = 4096) -> None:
        self.public = public
        self.max_paths = max_paths
        self._known: dict[str, Scope | None] = {}

    def __call__(self, path: str) -> Scope | None:
        try:
            return self._known[path]
        except KeyError:
            pass
        needed = None if is_public(path, self.public) else required_scope(path)
        if len(self._known) >= self.max_paths:  # ids in paths: forget rather than grow
            self._known.clear()
        self._known[path] = needed
        return needed
