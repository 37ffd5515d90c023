"""Repositories of core.ports over one AsyncSession, one module per concern; rows become core.model dataclasses here."""

from adapters.db.repositories.approvals import SqlApprovalRepository
from adapters.db.repositories.commands import SqlAuditRepository, SqlKeyRepository, SqlRoleRepository
from adapters.db.repositories.dialect import SessionRepository, insert_for, is_postgres
from adapters.db.repositories.intents import SqlIntentRepository
from adapters.db.repositories.ledger import SqlLedgerRepository
from adapters.db.repositories.nonces import SqlNonceRepository
from adapters.db.repositories.outbox import SqlOutboxRepository
from adapters.db.repositories.users import SqlChallengeRepository, SqlUserRepository

__all__ = [
    "SqlApprovalRepository",
    "SessionRepository",
    "SqlAuditRepository",
    "SqlChallengeRepository",
    "SqlIntentRepository",
    "SqlKeyRepository",
    "SqlLedgerRepository",
    "SqlNonceRepository",
    "SqlOutboxRepository",
    "SqlRoleRepository",
    "SqlUserRepository",
    "insert_for",
    "is_postgres",
]
