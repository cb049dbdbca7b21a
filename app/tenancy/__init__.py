"""Tenants, API keys, budgets, rate limits and the request-edge security checks.

principal.py   who is calling (Principal, Scope, TenantPolicy) and the per-request ContextVar
apikeys.py     key format, generation (shown once), keyed hashing, constant-time checks
settings.py    ROUTER_AUTH_* / ROUTER_BUDGET_* / ROUTER_MAX_* environment settings
repository.py  tenant and key queries (flush only)
tables.py      the budget tables (revision 0002);  schemas.py  admin request bodies
ledger.py      budget counters and reservations: atomic conditional UPDATEs on both databases
authn.py       Authenticator: credential -> Principal, with a short TTL cache
scopes.py      which scope each path needs, and the public paths
ratelimit.py   token buckets, in-process or shared through Redis (one Lua script)
budgets.py     reserve-then-settle around an execution, soft alerts, 402 details
admission.py   the pipeline's hooks: bind the tenant, take tokens, hold the budget
admin.py       tenant and key administration (API and CLI share it)
middleware.py  ASGI: authenticate, check the scope, per-tenant request rate
edge.py        ASGI: request ids, security headers, the in-flight cap (load shedding)
exposure.py    with authentication off, listen on loopback only
openapi.py     the OpenAPI document declares the credential schemes and every auth error
provider_keys.py  provider key reloads (SIGHUP, admin call) and their state by fingerprint
service.py     Tenancy: the parts above, opened in the lifespan
"""
