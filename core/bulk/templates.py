"""Payout templates: `/bulk save <batch> as <name>` keeps a batch's rows; `/bulk run <name>` makes a new batch of them.

A run goes through the upload path itself (core.handlers.bulk.upload): the rows become a CSV file that is checked,
counted against the upload limits, stored as a new batch and previewed, and Execute then applies the balance,
allowance, daily-limit and approval checks of any batch. A scheduled run (core.schedules) calls run_template.

Teams: one bot deployment is one team (one treasury and one set of roles), so a template belongs to the deployment
and a name is unique in it. A template saved by another team lives in another bot's database and cannot be named
here: `/bulk run` of such a name is refused as unknown, with the names this team has.
"""

from __future__ import annotations

import csv
import io

from core.bulk.model import Batch, BatchStatus
from core.bulk.template_schedules import schedule_template
from core.bulk.views import totals_text
from core.commands import Actor, Bulk, BulkRun, BulkSave, BulkUpload, Templates
from core.errors import NotAllowed, UsageError, UserError
from core.handlers import bulk
from core.money import TokenRegistry, format_units
from core.payees import PayoutTemplate, TemplateRow
from core.replies import Button, Reply, Span, bold, code
from core.roles import role_of
from core.services import Services, new_id
from core.views import counted

SHOWN = 50
RUN_REFUSAL = "Only operators may save or run a payout template. Ask an operator of this bot."


async def _operator(s: Services, actor: Actor) -> Actor:
    """`actor` with the role they hold now, or NotAllowed unless they may spend the treasury."""
    if actor.role is None:
        actor = Actor(actor.platform, actor.user_id, actor.display_name, actor.handle, actor.operator,
                      await role_of(s, actor))
    if not s.policy.is_operator(actor):
        raise NotAllowed(RUN_REFUSAL)
    return actor


async def save(s: Services, cmd: BulkSave) -> Reply:
    await _operator(s, cmd.actor)
    async with s.uow() as uow:
        batch = await uow.batches.get(cmd.batch_id)
        if batch is None:
            raise UserError(f"id: no bulk payout {cmd.batch_id} was found (/bulk status <id> shows one).", field="id")
        kept = [TemplateRow(r.recipient, r.token, r.amount, r.memo) for r in await uow.batches.rows(batch.id)]
        if not kept:
            raise UserError(f"id: {batch.id} has no rows to keep.", field="id")
        template = PayoutTemplate(new_id("tpl"), cmd.name, batch.id, len(kept), _totals(kept), cmd.actor.ref,
                                  s.clock.now())
        if not await uow.templates.add(template, kept):
            raise UserError(f"name: a template named {cmd.name} exists already; choose another name "
                            "(/bulk templates lists them).", field="name")
        await uow.commit()
    return Reply.of(
        ("Saved ", code(batch.id), f"'s {counted(len(kept), 'row')} as template ", bold(cmd.name), " (",
         totals_text(template.totals, s.chain.tokens), ")."),
        ("Run it again with ", code(f"/bulk run {cmd.name}"), ": a new batch, previewed before anything is paid."),
        kind="ok", buttons=(Button("Run it now", f"/bulk run {cmd.name}", "primary"),),
    )


def _totals(rows: list[TemplateRow]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in rows:
        out[r.token] = out.get(r.token, 0) + r.amount
    return out


async def _known(s: Services, name: str) -> PayoutTemplate:
    async with s.uow() as uow:
        template = await uow.templates.get(name)
        others = [t.name for t in await uow.templates.all()] if template is None else []
    if template is None:
        have = f"this team's templates: {', '.join(others[:SHOWN])}" if others else "this team has no templates yet"
        raise UserError(f"name: there is no template named {name} in this team ({have}). A bot serves one team: "
                        "templates saved with another team's bot cannot be run here.", field="name")
    return template


async def run(s: Services, cmd: BulkRun) -> Reply:
    actor = await _operator(s, cmd.actor)
    template = await _known(s, cmd.name)
    if cmd.when:  # a schedule of core.schedules whose due runs call run_template below
        return await schedule_template(s, cmd, actor, template)
    return (await _upload(s, actor, template, cmd.key))[1]


async def _upload(s: Services, actor: Actor, template: PayoutTemplate, key: str) -> tuple[Batch | None, Reply]:
    """The template's rows sent through the upload path as a file; the batch it stored (None: refused or invalid)."""
    async with s.uow() as uow:
        rows = await uow.templates.rows(template.id)
    data = _as_csv(rows, s.chain.tokens)
    reply = await bulk.upload(s, BulkUpload(actor, key, "upload", filename=f"template-{template.name}.csv", data=data))
    return await _batch_of(s, actor.ref, key), reply


def _as_csv(rows: list[TemplateRow], tokens: TokenRegistry) -> bytes:
    """The rows as the CSV an operator would upload (exact amounts in whole units, a header naming the columns)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["recipient", "amount", "token", "memo"])
    for r in rows:
        try:
            decimals = tokens.get(r.token).decimals
        except UsageError:
            raise UserError(f"token: the template pays {r.token}, which this chain no longer lists; save a new "
                            "template from a current batch.", field="token") from None
        w.writerow([r.recipient, format_units(r.amount, decimals), r.token, r.memo or ""])
    return out.getvalue().encode("utf-8")


async def _batch_of(s: Services, actor_ref: str, key: str) -> Batch | None:
    """The batch stored under `key` (a batch's key is UNIQUE), among the newest of its uploader's."""
    async with s.uow() as uow:
        found = await uow.batches.for_actor(actor_ref, 50)
    return next((b for b in found if b.key == key), None)


async def list_templates(s: Services, cmd: Templates) -> Reply:
    role = cmd.actor.role if cmd.actor.role is not None else await role_of(s, cmd.actor)
    if not (role.may_spend or role.may_approve):
        raise NotAllowed("The team's payout templates are visible to operators, approvers and admins.")
    async with s.uow() as uow:
        templates = await uow.templates.all()
    if not templates:
        return Reply.of("No payout templates yet. Save one with /bulk save <batch id> as <name>.", private=True)
    lines: list[str | tuple[str | Span, ...]] = [(bold(f"Payout templates ({len(templates)})"),)]
    for t in templates[:SHOWN]:
        lines.append((bold(t.name), f" — {counted(t.rows, 'row')}, {totals_text(t.totals, s.chain.tokens)}, from ",
                      code(t.source_batch), f" by {t.created_by} on {t.created_at:%Y-%m-%d}"))
    lines.append(("Run one with ", code("/bulk run <name>"), "."))
    return Reply.of(*lines, private=True)


async def run_template(s: Services, owner_ref: str, template_id: str, key: str) -> Reply:
    """A scheduled run, due now: a new batch from the template on behalf of `owner_ref`, stored under `key` (the
    occurrence's key, so a second call with it stores nothing new), then executed as if the owner pressed Execute
    (the schedule was their confirmation): balance, allowance, daily limit and approvals apply as to any batch.
    Never raises for anything the owner can fix: every outcome is a Reply for them."""
    platform, _, user_id = owner_ref.partition(":")
    actor = Actor(platform, user_id)
    try:
        actor = await _operator(s, actor)
        async with s.uow() as uow:
            template = await uow.templates.by_id(template_id)
        if template is None:
            return Reply.error(f"The payout template {template_id} no longer exists; nothing was paid.")
        batch = await _batch_of(s, owner_ref, key)
        if batch is None:
            batch, reply = await _upload(s, actor, template, key)
            if batch is None:  # a row no longer passes the checks (or a limit): the preview says which
                return reply
        if batch.status is not BatchStatus.PREVIEW:
            return await bulk.status(s, Bulk(actor, key, "status", batch_id=batch.id))
        if batch.needs_warning and batch.warned_at is None:
            async with s.uow() as uow:  # duplicates or a repeat of last run's file: the schedule said yes already
                current = await uow.batches.get(batch.id, for_update=True) or batch
                current.warned_at = s.clock.now()
                await uow.batches.save(current)
                await uow.commit()
        return await bulk.execute(s, Bulk(actor, f"{key}-execute", "execute", batch_id=batch.id))
    except UserError as e:
        return Reply.error(f"The scheduled run of a payout template was not paid: {e.message}")
