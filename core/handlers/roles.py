"""Who may do what, from chat: /role and /roles, and the audit log admins read with /audit."""

from __future__ import annotations

from core.alerts import alert_admins, security_alert
from core.commands import Actor, Audit, Recipient, Roles, SetRole
from core.errors import NotAllowed, UserError
from core.model import AuditEntry
from core.money import format_units
from core.ports import UnitOfWork
from core.replies import Reply, Span, bold, code
from core.roles import Role, RoleGrant, role_of, seeded_role
from core.services import Services


def _a(role: Role) -> str:
    return f"{'an' if role.value[0] in 'aeiou' else 'a'} {role.value}"


async def _role(s: Services, actor: Actor) -> Role:
    """The role the engine looked up for this command (or, called directly, looked up now)."""
    return actor.role if actor.role is not None else await role_of(s, actor)


async def _target(uow: UnitOfWork, target: Recipient, platform: str) -> tuple[str, str]:
    """(user ref, how to show them) of the person a /role names. A @handle resolves only among the accounts of
    the platform the command was typed on, as /pay's do; a ref ("telegram:123", a Discord mention) is exact."""
    if target.user_ref:
        user = await uow.users.get(target.user_ref)
        label = f"@{user.handle} ({user.ref})" if user is not None and user.handle else target.user_ref
        return target.user_ref, label
    holders = await uow.users.by_handle(target.handle or "", platform=platform)
    if len(holders) > 1:
        raise UserError(f"user: @{target.handle} is claimed by {len(holders)} accounts on {platform.title()}; "
                        f"name them by id ({platform}:<id>)", field="user")
    if not holders:
        raise UserError(f"user: nobody on {platform.title()} has written to me as @{target.handle}; ask them to "
                        f"send /start, or name them by id ({platform}:<id>)", field="user")
    return holders[0].ref, f"@{holders[0].handle} ({holders[0].ref})"


def _actor_of(ref: str) -> Actor:
    platform, _, user_id = ref.partition(":")
    return Actor(platform, user_id)


async def set_role(s: Services, cmd: SetRole) -> Reply:
    mine = await _role(s, cmd.actor)
    if not mine.may_manage:
        raise NotAllowed(f"Only an admin can change roles; you are {_a(mine)}. Ask one of your team's admins.")
    now = s.clock.now()
    async with s.uow() as uow:
        ref, who = await _target(uow, cmd.target, cmd.actor.platform)
        if ref == cmd.actor.ref:
            raise NotAllowed("You cannot change your own role; another admin can.")
        if ref in s.policy.admins and cmd.role is not Role.ADMIN:
            raise NotAllowed(f"{who} is an admin by the ADMINS setting, which chat cannot change (so a team cannot "
                             "lock itself out); remove them from ADMINS and restart to demote them.")
        grant = await uow.roles.get(ref)
        before = Role.ADMIN if ref in s.policy.admins else (
            grant.role if grant is not None else seeded_role(s, _actor_of(ref)))
        if before is cmd.role:
            return Reply.of(f"{who} is already {_a(before)}; nothing changed.")
        await uow.roles.put(RoleGrant(ref, cmd.role, cmd.actor.ref, now))
        # Every admin hears of it, a demoted admin too, in the transaction that changes the role.
        alert = security_alert("role changed", f"{cmd.actor.ref} made {who} {_a(cmd.role)} (was {_a(before)}).")
        await alert_admins(uow, s, f"role:{cmd.key}", alert, also=(ref,) if before is Role.ADMIN else ())
        await uow.commit()
    s.notify_soon()
    return Reply.of(f"{who} is now {_a(cmd.role)} (was {_a(before)}). The admins have been told.", kind="ok")


async def list_roles(s: Services, cmd: Roles) -> Reply:
    mine = await _role(s, cmd.actor)
    if mine is Role.MEMBER:
        raise NotAllowed("Only admins, operators and approvers can see who holds which role; you are a member.")
    held: dict[str, tuple[Role, str]] = {}
    for role, refs, setting in ((Role.APPROVER, s.policy.approvers, "APPROVERS"),
                                (Role.OPERATOR, s.policy.operators, "OPERATORS"), (Role.ADMIN, s.policy.admins, "ADMINS")):
        held.update({ref: (role, f"{setting} setting") for ref in refs})
    async with s.uow() as uow:
        for g in await uow.roles.all():
            if g.user_ref not in s.policy.admins:
                held[g.user_ref] = (g.role, f"set by {g.changed_by} on {g.changed_at:%Y-%m-%d}")
        names = {ref: await uow.users.get(ref) for ref in held}
    lines: list[tuple[str | Span, ...]] = [(bold("Roles"),)]
    for role in (Role.ADMIN, Role.OPERATOR, Role.APPROVER):
        for ref in sorted(r for r, (got, _) in held.items() if got is role):
            user = names[ref]
            label = f" (@{user.handle})" if user is not None and user.handle else ""
            lines.append((f"{role.value}: ", code(ref), f"{label} — {held[ref][1]}"))
    if len(lines) == 1:
        lines.append(("Nobody holds a role yet; admins give one with /role @user <role>.",))
    lines.append(("Everyone else is a member. A role belongs to one platform account: the same person on another "
                  "platform needs their own.",))
    return Reply.of(*lines, private=True)


def audit_line(e: AuditEntry) -> str:
    amount = f" {format_units(e.amount, e.decimals or 0)} {e.token}" if e.amount is not None else ""
    detail = e.detail if len(e.detail) <= 80 else e.detail[:80] + "…"
    return f"{e.at:%Y-%m-%d %H:%M}Z {e.actor_ref} ({e.role or '?'}) /{e.command} {e.outcome}{amount}: {detail}"


async def audit(s: Services, cmd: Audit) -> Reply:
    mine = await _role(s, cmd.actor)
    if not mine.may_manage:
        raise NotAllowed(f"Only an admin can read the audit log; you are {_a(mine)}.")
    async with s.uow() as uow:
        entries = await uow.audit.recent(cmd.limit)
    if not entries:
        return Reply.of("The audit log is empty.", private=True)
    head = f"The last {len(entries)} decisions, newest first" if len(entries) > 1 else "The last decision"
    return Reply.of((bold(head),), *(audit_line(e) for e in entries), private=True)


AUDIT_COLUMNS = ["at", "actor", "role", "command", "outcome", "amount", "token", "key", "detail"]


def audit_rows(entries: list[AuditEntry]) -> list[list[object]]:
    """The audit log for an accountant: ISO 8601 UTC times, amounts exact in whole units with their token."""
    return [
        [e.at.isoformat(), e.actor_ref, e.role or "", e.command, e.outcome,
         format_units(e.amount, e.decimals or 0) if e.amount is not None else "", e.token or "", e.key, e.detail]
        for e in entries
    ]
