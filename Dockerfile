# One image recipe for every workspace member that runs: the six services, the ops console and
# the simulators. Build from the repository root (the build needs the workspace's uv.lock) with
# the member's arguments; docker-compose.yml lists them for every image (`docker compose build`):
#
#   docker build --build-arg SERVICE=order-consumer --build-arg MODULE=order_consumer \
#                --build-arg PORT=8081 -t stocksync/order-consumer:dev .
#
#   SERVICE  the member's name: its package is stocksync-$SERVICE, also the image title and
#            STOCKSYNC_SERVICE_NAME
#   SOURCE   the member's folder (default services/$SERVICE; `simulators` for the simulators)
#   MODULE   what `python -m` runs
#   PORT     its HTTP port: STOCKSYNC_HTTP_PORT, EXPOSE and the HEALTHCHECK's
#   ARGS     command-line arguments after the module (the simulators take --host and --port)
#
# Stage 1 (manifests) keeps, of the build context, only the workspace's manifests: the root's
# pyproject.toml, uv.lock and every member's pyproject.toml, found by name (a new member needs
# no line here; .dockerignore lets only the members' manifests and sources in). Stage 2
# (builder) installs exactly that package, its workspace dependencies and their locked
# dependencies into /app/.venv with uv. Stage 3 is the same slim Python with only that venv.

ARG SERVICE
ARG MODULE
ARG PORT

FROM python:3.11-slim-bookworm AS manifests

WORKDIR /src
COPY . .
RUN find . -type f ! -name pyproject.toml ! -name uv.lock -delete \
    && find . -mindepth 1 -type d -empty -delete


FROM python:3.11-slim-bookworm AS builder

ARG SERVICE
ARG SOURCE=services/${SERVICE}

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv

RUN pip install --no-cache-dir uv==0.13.9

WORKDIR /src

# Dependencies first, for layer caching: the workspace root, the lock file and every member's
# pyproject.toml (uv needs all of them to read the workspace's lock), but no sources yet. The
# manifests stage runs again whenever a source changes, but what it leaves is the same files,
# and COPY --from compares contents: this layer and the sync below stay cached.
COPY --from=manifests /src ./
RUN uv sync --frozen --no-dev --package "stocksync-${SERVICE}" --no-install-workspace --no-editable

# Then the sources, installed as regular (non-editable) packages. `--package` installs only what
# the member depends on: the simulators' venv holds no stocksync-common although it is copied.
COPY libs/common/src libs/common/src
COPY ${SOURCE}/src ${SOURCE}/src
RUN uv sync --frozen --no-dev --package "stocksync-${SERVICE}" --no-editable


FROM python:3.11-slim-bookworm

ARG SERVICE
ARG MODULE
ARG PORT
ARG ARGS=""
ARG IMAGE_VERSION=0.1.0
ARG IMAGE_SOURCE=unknown
LABEL org.opencontainers.image.title="stocksync-${SERVICE}" \
      org.opencontainers.image.description="StockSync ${SERVICE} (python -m ${MODULE})" \
      org.opencontainers.image.version="${IMAGE_VERSION}" \
      org.opencontainers.image.source="${IMAGE_SOURCE}" \
      org.opencontainers.image.licenses="LicenseRef-StockSync-Proprietary"

RUN groupadd --system --gid 10001 stocksync \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin stocksync

# Owned by root and read-only for the service user.
COPY --from=builder /app/.venv /app/.venv

# SERVICE_MODULE and SERVICE_ARGS carry the build arguments to the command below (a build
# argument is gone at run time); they are not settings, hence no STOCKSYNC_ prefix.
ENV PATH="/app/.venv/bin:${PATH}" \
    VIRTUAL_ENV=/app/.venv \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    STOCKSYNC_SERVICE_NAME="${SERVICE}" \
    STOCKSYNC_HTTP_HOST=0.0.0.0 \
    STOCKSYNC_HTTP_PORT="${PORT}" \
    SERVICE_MODULE="${MODULE}" \
    SERVICE_ARGS="${ARGS}"

WORKDIR /app
USER 10001:10001
EXPOSE ${PORT}

# Liveness only (/healthz); readiness (/readyz) is for the orchestrator. No curl in the image.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as r; r.urlopen('http://127.0.0.1:' + os.environ['STOCKSYNC_HTTP_PORT'] + '/healthz', timeout=3)"]

# The shell only expands the module and its arguments, then `exec` hands PID 1 to python, so
# the service gets the orchestrator's SIGTERM itself.
CMD ["/bin/sh", "-c", "exec python -m \"$SERVICE_MODULE\" $SERVICE_ARGS"]
