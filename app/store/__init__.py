"""The persistent store: every decision, attempt and cost, written off the request path.

engine.py      async engine and session scope (SQLite embedded, PostgreSQL in production)
types.py       exact money, UTC times and JSON that behave the same on both databases
models.py      the tables;   migrations/   their Alembic history;   migrate.py   applying it
repositories.py  queries (flush only; the caller's session scope commits)
bulk.py        PostgreSQL batch insert: binary COPY, or an array of rows ON CONFLICT DO NOTHING
decision_lists.py  chains and shared exclusions stored once each, by digest
rows.py        records as rows and as spool lines
writer.py      the durable write-behind RecordSink;   spool.py   its on-disk overflow
batch.py       the writer's unit of work: a batch in one transaction (commits)
failures.py    bad rows vs a sick database, and the dead-letter file
options.py     the writer's limits (ROUTER_RECORD_* / ROUTER_SPOOL_*)
lifecycle.py   open_store()/Store.close() for the service lifespan
"""
