"""PostgreSQL / SQLite storage behind core.ports: engine, unit of work, migrations, meta helpers."""

from adapters.db.engine import create_engine_for, normalise_url, redact, storage_errors
from adapters.db.meta import get_meta, set_meta
from adapters.db.migrate import downgrade, upgrade, upgrade_sync
from adapters.db.uow import SqlUnitOfWork, make_uow_factory

__all__ = [
    "SqlUnitOfWork",
    "create_engine_for",
    "downgrade",
    "get_meta",
    "make_uow_factory",
    "normalise_url",
    "redact",
    "set_meta",
    "storage_errors",
    "upgrade",
    "upgrade_sync",
]
