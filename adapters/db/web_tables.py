"""The web dashboard's tables (core.dashboard), and the indexes its pages read by, on adapters.db.tables' metadata."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlmodel import Field

from adapters.db.bulk_tables import BulkRowRow
from adapters.db.tables import IntentRow, NotificationRow, Table, _utc


class WebSignInRow(Table, table=True):
    """A sign-in link that was followed: its id is the primary key, so a second use fails in any process.
    Kept past expiry on purpose (a few bytes a sign-in); `expires_at` says when a row may be pruned."""

    __tablename__ = "web_sign_ins"

    link_id: str = Field(sa_type=String(64), primary_key=True)
    user_ref: str = Field(sa_type=String(128))
    used_at: datetime = _utc()
    expires_at: datetime = _utc()


class WebReadRow(Table, table=True):
    """How far a person has read their notifications on the dashboard."""

    __tablename__ = "web_reads"

    user_ref: str = Field(sa_type=String(128), primary_key=True)
    read_until: datetime = _utc()


_N, _I, _R = NotificationRow.__table__, IntentRow.__table__, BulkRowRow.__table__
# The notifications page: one person's, newest first.
Index("ix_notifications_user_ref_created_at", _N.c.user_ref, _N.c.created_at)
# The ledger's keyset, newest first, with or without a token or status filter: a filter that matches little must not
# read the whole table to fill a page (a person's payments have ix_intents_actor_ref_created_at already).
Index("ix_bulk_rows_batch_id_line", _R.c.batch_id, _R.c.line)
Index("ix_bulk_rows_batch_id_token_line", _R.c.batch_id, _R.c.token, _R.c.line)
Index("ix_bulk_rows_batch_id_status_line", _R.c.batch_id, _R.c.status, _R.c.line)
Index("ix_intents_token_created_at", _I.c.token, _I.c.created_at)
Index("ix_intents_status_created_at", _I.c.status, _I.c.created_at)
