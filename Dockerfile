# One image for every mode: `docker run snowrail run worker`, `... run telegram`, `... migrate`, `... mixer deploy`.
# Proven on this kind of machine by scripts/container-test (built on a Debian base of our own, then entered).
# Two stages: the builder has the compilers, npm and pip caches; the runtime image gets only the virtualenv,
# the repository's code, the prover's files and Node.js (the mixer's prover runs snarkjs), and runs as a user.
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 DEBIAN_FRONTEND=noninteractive
# Debian's own python3 (a base built with mmdebstrap) needs its venv and headers; the official image has both.
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential nodejs npm ca-certificates \
 && if dpkg -s python3 >/dev/null 2>&1; then apt-get install -y --no-install-recommends python3-dev python3-venv; fi \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# The lock file's tools, then only what the prover needs at run time: the compilers and anvil stay here.
RUN npm ci --no-audit --no-fund --loglevel=error \
 && rm -rf node_modules/@foundry-rs node_modules/solc node_modules/circom2 node_modules/@openzeppelin \
    node_modules/.bin/anvil node_modules/.bin/solcjs node_modules/.bin/circom2
COPY pyproject.toml README.md LICENSE alembic.ini ./
COPY core core
COPY adapters adapters
COPY bot bot
COPY workers workers
COPY migrations migrations
COPY circuits circuits
COPY contracts contracts
# Editable: the prover finds circuits/artifacts beside the code, so the repository's layout is kept under /app.
RUN python3 -m venv /opt/snowrail && /opt/snowrail/bin/pip install -q -e . && /opt/snowrail/bin/pip check

FROM ${BASE_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/snowrail/bin:$PATH HEALTH_PORT=8080 \
    DATA_DIR=/data
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 snowrail && mkdir /data && chown snowrail /data
COPY --from=builder /opt/snowrail /opt/snowrail
COPY --from=builder /app /app
USER snowrail
WORKDIR /data
# The run modes serve /healthz on HEALTH_PORT (the process is alive); the console and one-off commands do not.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ['HEALTH_PORT'], timeout=4)"]
ENTRYPOINT ["snowrail"]
CMD ["console"]
