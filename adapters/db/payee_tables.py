"""Tables of saved payees and payout templates (core.payees), declared on adapters.db.tables' metadata."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlmodel import Field

from adapters.db.tables import Table, _utc
from adapters.db.types import Uint256


class PayeeRow(Table, table=True):
    """A name the team pays by; the name (lower case) is the key, so two processes cannot both save one."""

    __tablename__ = "payees"

    name: str = Field(sa_type=String(32), primary_key=True)
    address: str | None = Field(default=None, sa_type=String(64))  # exactly one of address and handle
    handle: str | None = Field(default=None, sa_type=String(64))
    platform: str = Field(sa_type=String(16))  # where it was saved: the @handle resolves among its accounts
    memo: str | None = Field(default=None, sa_type=Text)
    added_by: str = Field(sa_type=String(128))
    added_at: datetime = _utc()


class PayoutTemplateRow(Table, table=True):
    """A batch's rows kept under a name (UNIQUE) to run again."""

    __tablename__ = "payout_templates"

    id: str = Field(sa_type=String(64), primary_key=True)
    name: str = Field(sa_type=String(32), unique=True)
    source_batch: str = Field(sa_type=String(64))
    rows: int = Field(sa_type=Integer)
    totals: str = Field(sa_type=Text)  # JSON {symbol: base units as a decimal string}, as bulk_batches keeps them
    created_by: str = Field(sa_type=String(128))
    created_at: datetime = _utc()


class PayoutTemplateLineRow(Table, table=True):
    """One payout of a template, in the order it was saved."""

    __tablename__ = "payout_template_rows"

    template_id: str = Field(sa_type=String(64), sa_column_args=[ForeignKey("payout_templates.id")], primary_key=True)
    seq: int = Field(sa_type=Integer, primary_key=True)
    recipient: str = Field(sa_type=String(64))
    token: str = Field(sa_type=String(32))
    amount: int = Field(sa_type=Uint256)
    memo: str | None = Field(default=None, sa_type=Text)
