# The code location image: the sync engine, the Dagster definitions, the CLI and the
# webhook receiver. The same image runs the gRPC code server, the webserver, the daemon,
# runs (K8sRunLauncher) and `tampuuri-sync webhooks serve`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DAGSTER_HOME=/opt/dagster/home

WORKDIR /opt/tampuuri-sync
COPY pyproject.toml README.md ./
COPY pipelines ./pipelines
COPY config ./config
COPY sql ./sql
COPY workspace.yaml ./
# Installed in place (-e): config/ and sql/ are found beside the `pipelines` package
# (settings.PROJECT_ROOT), so the package must be imported from this tree, not a copy in
# site-packages. No extras by default: the production image has neither the simulator's
# Faker nor the embedded PostgreSQL; `--build-arg EXTRAS=local` adds them (the simulator
# service of docker-compose.yml).
ARG EXTRAS=""
RUN pip install --no-compile -e ".${EXTRAS:+[$EXTRAS]}" \
 && useradd --create-home --uid 10001 tampuuri \
 && mkdir -p "$DAGSTER_HOME" \
 && cp config/dagster.yaml "$DAGSTER_HOME/dagster.yaml" \
 && chown -R tampuuri "$DAGSTER_HOME"

USER tampuuri
EXPOSE 4000
CMD ["dagster", "code-server", "start", "-m", "pipelines.definitions", "-h", "0.0.0.0", "-p", "4000"]
