# syntax=docker/dockerfile:1
# The service image: dependencies built into a virtual environment in one stage, run as a
# non-root user in a slim one. tests/health/test_deploy.py runs the build stage's RUN
# commands in a fresh virtual environment, then this CMD and HEALTHCHECK against it.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 VENV=/opt/venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
RUN python -m venv "$VENV"
RUN "$VENV/bin/pip" install --quiet .

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ROUTER_CONFIG=/app/config/routing_config.yaml \
    ROUTER_DATA_DIR=/data \
    DATABASE_URL=sqlite+aiosqlite:////data/router.db \
    PROMETHEUS_MULTIPROC_DIR=/tmp/llm-router-metrics \
    ROUTER_HOST=0.0.0.0 \
    ROUTER_PORT=8000 \
    WEB_CONCURRENCY=2
RUN useradd --system --uid 10001 --home-dir /app --no-create-home router \
    && mkdir -p /data \
    && chown router:router /data
COPY --from=build /opt/venv /opt/venv
COPY config /app/config
WORKDIR /app
USER router
EXPOSE 8000
VOLUME ["/data"]
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('ROUTER_PORT', '8000'), timeout=2)"
# The metrics directory is emptied at each start: files of dead workers would skew the sums.
CMD ["sh", "-c", "rm -rf \"$PROMETHEUS_MULTIPROC_DIR\" && mkdir -p \"$PROMETHEUS_MULTIPROC_DIR\" && exec llm-router serve --host \"$ROUTER_HOST\" --port \"$ROUTER_PORT\" --workers \"$WEB_CONCURRENCY\""]
