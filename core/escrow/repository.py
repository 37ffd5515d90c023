"""Escrowed intents' storage, and the chain watcher's cursor (core.ports.UnitOfWork holds both)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from core.escrow.model import EscrowIntent, EscrowStatus


class EscrowRepository(Protocol):
    async def add(self, intent: EscrowIntent) -> None: ...
    async def get(self, intent_id: str, *, for_update: bool = False) -> EscrowIntent | None: ...
    async def by_hash(self, intent_hashes: list[str]) -> list[EscrowIntent]:
        """The intents with these hashes (the watcher attributes events by hash)."""
    async def save(self, intent: EscrowIntent) -> None: ...
    async def for_actor(self, actor_ref: str, limit: int) -> list[EscrowIntent]:
        """Created by them or paid to them, newest first."""
    async def with_status(self, statuses: list[EscrowStatus], limit: int = 1000) -> list[EscrowIntent]:
        """Oldest first."""
    async def due(self, now: datetime, limit: int = 1000) -> list[EscrowIntent]:
        """FUNDED intents with a time condition whose due_at <= now, oldest due first."""
    async def price_ready(self, pair: str, answer: int, limit: int = 1000) -> list[EscrowIntent]:
        """FUNDED price intents of `pair` whose condition `answer` satisfies (above: threshold < answer; below:
        threshold > answer), decided by an indexed query, not in Python: 1,000 open intents per tick is the goal."""
    async def expired(self, now: datetime, limit: int = 1000) -> list[EscrowIntent]:
        """AWAITING or FUNDED intents whose expires_at <= now."""


class CursorRepository(Protocol):
    """Where each chain watcher got to (block numbers), so a restart resumes rather than rescans."""

    async def get(self, name: str) -> int | None: ...
    async def put(self, name: str, block: int) -> None: ...
