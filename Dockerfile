# One image for every mode: `docker run snowrail run worker`, `... run telegram`, `... migrate`, `... chain deploy`.
# The repository layout is kept (editable install): the mixer's prover reads circuits/artifacts and runs
# snarkjs from node_modules with Node.js.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY pyproject.toml README.md LICENSE alembic.ini ./
COPY core core
COPY adapters adapters
COPY bot bot
COPY workers workers
COPY migrations migrations
COPY circuits circuits
COPY contracts contracts
RUN pip install --no-cache-dir -e . && useradd --create-home snowrail && mkdir /data && chown snowrail /data
USER snowrail
WORKDIR /data
ENTRYPOINT ["snowrail"]
CMD ["console"]
