"""Who may do what: the four roles, where a person's role comes from, and what each role may do."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only for annotations: core.commands imports Role from here
    from core.commands import Actor
    from core.services import Services


class Role(str, Enum):
    MEMBER = "member"  # the default: links a wallet, receives payments, sees their own
    OPERATOR = "operator"  # requests payments, bulk batches and mixer deposits from the treasury
    APPROVER = "approver"  # approves or rejects other people's requests
    ADMIN = "admin"  # everything above, plus managing roles and limits

    @property
    def may_spend(self) -> bool:
        return self in (Role.OPERATOR, Role.ADMIN)

    @property
    def may_approve(self) -> bool:
        return self in (Role.APPROVER, Role.ADMIN)

    @property
    def may_manage(self) -> bool:
        return self is Role.ADMIN


ROLE_NAMES = tuple(r.value for r in Role)


@dataclass(frozen=True)
class RoleGrant:
    """A role given in chat (`/role`), stored per platform identity: it overrides the settings' seeds, except
    that an ADMINS admin stays an admin (a team cannot lock itself out from chat)."""

    user_ref: str
    role: Role
    changed_by: str
    changed_at: datetime


def seeded_role(services: Services, actor: Actor) -> Role:
    """The role the settings give (ADMINS, OPERATORS or a Discord operator role, APPROVERS)."""
    policy = services.policy
    if actor.ref in policy.admins:
        return Role.ADMIN
    if actor.operator or actor.ref in policy.operators:
        return Role.OPERATOR
    if actor.ref in policy.approvers:
        return Role.APPROVER
    return Role.MEMBER


async def role_of(services: Services, actor: Actor) -> Role:
    """The actor's role now: an ADMINS admin is always one; otherwise a role stored from chat wins over the
    settings. Roles belong to one platform identity: the same wallet linked elsewhere shares none of them."""
    if actor.ref in services.policy.admins:
        return Role.ADMIN
    async with services.uow() as uow:
        grant = await uow.roles.get(actor.ref)
    return grant.role if grant is not None else seeded_role(services, actor)
