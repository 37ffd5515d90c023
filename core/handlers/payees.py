"""/payee add|remove and /payees: the team's saved payees, seen by operators and changed by admins."""

from __future__ import annotations

from core.alerts import admin_refs
from core.commands import Actor, PayeeAdd, PayeeRemove, Payees
from core.errors import NotAllowed, UserError
from core.payees import SavedPayee
from core.ports import UnitOfWork
from core.replies import Reply, Span, bold, code
from core.roles import Role, role_of
from core.services import Services
from core.views import counted

SHOWN = 100  # a chat message holds this many payee lines comfortably; /payees says how many more there are


async def _role(s: Services, actor: Actor) -> Role:
    """The role the engine looked up for this command (or, called directly, looked up now)."""
    return actor.role if actor.role is not None else await role_of(s, actor)


async def _may_change(s: Services, uow: UnitOfWork, actor: Actor) -> None:
    """Admins change the team's payees; operators too while the team has no admin at all (a new deployment)."""
    role = await _role(s, actor)
    if role.may_manage:
        return
    if role.may_spend and not await admin_refs(uow, s):
        return
    if role.may_spend:
        raise NotAllowed("Only admins may change the team's payees, and this team has admins: ask one of them "
                         "(/roles lists them).")
    raise NotAllowed(f"Only admins (or operators, where a team has no admins) may change the team's payees; you "
                     f"are {'an' if role.value[0] in 'aeiou' else 'a'} {role.value}.")


async def add(s: Services, cmd: PayeeAdd) -> Reply:
    address, handle = cmd.target.address, cmd.target.handle
    if address is not None and address.lower() in (s.chain.treasury.lower(), s.chain.executor.lower()):
        raise UserError("address: that is the bot's own treasury or executor address; a payee is someone the "
                        "treasury pays.", field="address")
    payee = SavedPayee(cmd.name, address, handle, cmd.actor.platform, cmd.memo, cmd.actor.ref, s.clock.now())
    async with s.uow() as uow:
        await _may_change(s, uow, cmd.actor)
        if not await uow.payees.add(payee):
            held = await uow.payees.get(cmd.name)
            raise UserError(f"name: a payee named {cmd.name} exists already ({held.target if held else 'just saved'}); "
                            f"choose another name, or /payee remove {cmd.name} first.", field="name")
        holders = await uow.users.by_handle(cmd.name, platform=cmd.actor.platform)
        linked = await uow.users.by_handle(handle, platform=cmd.actor.platform) if handle else []
        await uow.commit()
    lines: list[str | tuple[str | Span, ...]] = [
        ("Saved payee ", bold(cmd.name), " → ", code(payee.target), f" ({cmd.memo})" if cmd.memo else "", "."),
        ("Pay them with ", code(f"/pay {cmd.name} <amount> [token]"), "."),
    ]
    if handle and not any(u.wallet for u in linked):
        lines.append(f"@{handle} has not linked a wallet on {cmd.actor.platform.title()} yet: payments to {cmd.name} "
                     "are refused until they send /link.")
    if any((h.wallet or "").lower() != (address or "").lower() and h.handle != handle for h in holders):
        lines.append(f"Someone else holds the handle @{cmd.name}: /pay {cmd.name} is refused as ambiguous until "
                     "one of you renames; write the address or @handle instead.")
    return Reply.of(*lines, kind="ok")


async def remove(s: Services, cmd: PayeeRemove) -> Reply:
    async with s.uow() as uow:
        await _may_change(s, uow, cmd.actor)
        payee = await uow.payees.get(cmd.name)
        if payee is None or not await uow.payees.remove(cmd.name):
            raise UserError(f"name: there is no payee named {cmd.name} (/payees lists them).", field="name")
        # Templates keep the addresses of their rows, not payee names: removing a name changes none of them.
        using = await uow.templates.paying(payee.address) if payee.address else []
        await uow.commit()
    lines: list[str | tuple[str | Span, ...]] = [("Removed payee ", bold(cmd.name), " (", code(payee.target), ").")]
    if using:
        names = ", ".join(t.name for t in using)
        lines.append(f"Still paying {payee.target}: {counted(len(using), 'template')} ({names}); they keep the "
                     "address, so their runs still pay it.")
    lines.append(f"/pay {cmd.name} no longer works.")
    return Reply.of(*lines, kind="ok")


async def list_payees(s: Services, cmd: Payees) -> Reply:
    role = await _role(s, cmd.actor)
    if role is Role.MEMBER:
        raise NotAllowed("The team's payees are visible to operators, approvers and admins; you are a member.")
    async with s.uow() as uow:
        payees = await uow.payees.all()
    if not payees:
        return Reply.of("No saved payees yet. An admin saves one with /payee add <name> <address | @handle> [memo].",
                        private=True)
    lines: list[str | tuple[str | Span, ...]] = [(bold(f"Payees ({len(payees)})"),)]
    for p in payees[:SHOWN]:
        where = f" on {p.platform.title()}" if p.handle else ""
        lines.append((bold(p.name), " → ", code(p.target), where, f" — {p.memo}" if p.memo else ""))
    if len(payees) > SHOWN:
        lines.append(f"… and {len(payees) - SHOWN} more.")
    lines.append(("Pay one with ", code("/pay <name> <amount> [token]"), "."))
    return Reply.of(*lines, private=True)
