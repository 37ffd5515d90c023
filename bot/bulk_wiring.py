"""Bulk payouts in the composition root: the batch-aware unit of work, chain and policy, and the inline jobs."""

from __future__ import annotations

from functools import partial
from typing import Any

from core.bulk import settle
from core.bulk.policy import BulkPolicy
from core.engine import Engine


def uow_factory(db_engine: Any) -> Any:
    from adapters.db.bulk_repositories import make_bulk_uow_factory

    return make_bulk_uow_factory(db_engine)


def batching(chain: Any) -> Any:
    from adapters.chain.batching import BatchingChain

    return chain if hasattr(chain, "fee_per_gas") else BatchingChain(chain)


def attach(engine: Engine, queue: Any, *, chunk_size: int | None = None, **overrides: Any) -> None:
    """Size chunks from the chain's gas cap (or BULK_CHUNK_SIZE, when smaller) and let the inline queue
    (no Redis) run bulk jobs in-process."""
    capacity = getattr(engine.chain, "batch_capacity", None) or BulkPolicy.chunk_size
    if chunk_size:
        capacity = min(capacity, chunk_size)
    engine.services.bulk = BulkPolicy(chunk_size=capacity, **overrides)  # type: ignore[attr-defined]
    jobs = getattr(queue, "jobs", None)
    if isinstance(jobs, dict):
        jobs.setdefault(settle.JOB, partial(settle.work, engine.services))
