# syntax=docker/dockerfile:1.7
# Image for both console scripts: `token-service` (default command) and `resource-api`.
# docker-compose.yml runs it; docs/deployment.md explains the settings.

ARG PYTHON_VERSION=3.11

# ---- builder: resolve exactly uv.lock into /app/.venv -------------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS builder
COPY --from=ghcr.io/astral-sh/uv:0.5 /uv /usr/local/bin/uv
# Bytecode compiled at build time: the runtime user cannot write into the venv.
# Copy mode: the cache mount and the venv are different filesystems.
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app
# Dependencies first, in their own layer, so code edits do not reinstall them.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    uv sync --frozen --no-dev --no-install-project
COPY pyproject.toml uv.lock README.md ./
COPY shared ./shared
COPY token_service ./token_service
COPY resource_api ./resource_api
# --no-editable: the venv holds a real copy of the packages (migrations and static files
# included), so the runtime stage does not depend on the source tree's layout.
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable

# ---- runtime: the venv and the code, nothing to build with ---------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /app --shell /usr/sbin/nologin app \
 && mkdir -p /var/lib/token-service /var/lib/resource-api \
 && chown app:app /var/lib/token-service /var/lib/resource-api
WORKDIR /app
COPY --from=builder --chown=root:root /app/.venv /app/.venv
COPY --from=builder --chown=root:root /app/shared /app/shared
COPY --from=builder --chown=root:root /app/token_service /app/token_service
COPY --from=builder --chown=root:root /app/resource_api /app/resource_api
ENV PATH="/app/.venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    TOKEN_SERVICE_DATA_DIR=/var/lib/token-service
# The code is owned by root and read-only for `app`: a compromised process cannot
# rewrite the service it runs in. Only the data directories are writable.
USER app:app
EXPOSE 8000
# No curl in a slim image; the venv's Python is there anyway. /healthz is the liveness
# probe (/readyz would take every replica out when PostgreSQL blips, see docs/deployment.md).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('HEALTHCHECK_PORT', '8000') + '/healthz', timeout=2)"]
CMD ["token-service", "serve", "--host", "0.0.0.0"]
