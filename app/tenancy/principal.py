"""Who is calling: the admin, a tenant's key, or nobody in particular (authentication off)."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


class Scope(StrEnum):
    """What a key may do; `admin` manages tenants and keys and sees every tenant."""

    ROUTE = "route"
    EXECUTE = "execute"
    ANALYTICS = "analytics"
    ADMIN = "admin"


ALL_SCOPES = frozenset(Scope)
TENANT_DEFAULT_SCOPES = frozenset({Scope.ROUTE, Scope.EXECUTE, Scope.ANALYTICS})


class Kind(StrEnum):
    ADMIN = "admin"          # the master key
    TENANT = "tenant"        # a tenant's API key
    ANONYMOUS = "anonymous"  # authentication is off (loopback only)


@dataclass(frozen=True, slots=True)
class TenantPolicy:
    """A tenant's limits as the request path needs them (cached with the key)."""

    id: str
    name: str
    default_budget: str = "medium"
    daily_soft_limit_usd: Decimal | None = None
    daily_hard_limit_usd: Decimal | None = None
    monthly_soft_limit_usd: Decimal | None = None
    monthly_hard_limit_usd: Decimal | None = None
    downgrade_on_budget: bool = False
    store_prompts: bool = False
    rate_limit_rpm: int | None = None
    rate_limit_tpm: int | None = None

    @property
    def has_budget(self) -> bool:
        """Whether spend must be tracked at all (any soft or hard limit is set)."""
        return any(v is not None for v in (self.daily_soft_limit_usd, self.daily_hard_limit_usd,
                                           self.monthly_soft_limit_usd, self.monthly_hard_limit_usd))


@dataclass(frozen=True, slots=True)
class Principal:
    """The verified caller of one request."""

    kind: Kind
    scopes: frozenset[Scope]
    tenant: TenantPolicy | None = None
    key_id: str | None = None
    key_prefix: str | None = None

    @property
    def tenant_name(self) -> str | None:
        return self.tenant.name if self.tenant is not None else None

    @property
    def restricted(self) -> bool:
        """True when the caller may see only its own tenant's data (a tenant key)."""
        return self.kind is Kind.TENANT

    def can(self, scope: Scope) -> bool:
        return scope in self.scopes


ADMIN = Principal(kind=Kind.ADMIN, scopes=ALL_SCOPES)
ANONYMOUS = Principal(kind=Kind.ANONYMOUS, scopes=ALL_SCOPES)

# Set by the authentication middleware for the request being served; the pipeline reads it so
# that every route that routes or executes binds the tenant and its limits, including new ones.
current: ContextVar[Principal | None] = ContextVar("llm_router_principal", default=None)


def current_principal() -> Principal | None:
    """The caller of the request being served (None outside a request: library use)."""
    return current.get()


def tenant_scope() -> str | None:
    """The tenant every data query must filter by, or None when the caller may see all tenants."""
    principal = current.get()
    return principal.tenant_name if principal is not None and principal.restricted else None
