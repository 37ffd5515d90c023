# One image for every mode: `docker run snowrail run worker`, `... console`, `... migrate`, `... chain deploy`.
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY core core
COPY adapters adapters
COPY bot bot
COPY workers workers
COPY migrations migrations
RUN pip install --no-cache-dir . && useradd --create-home snowrail
USER snowrail
WORKDIR /home/snowrail
ENTRYPOINT ["snowrail"]
CMD ["console"]
