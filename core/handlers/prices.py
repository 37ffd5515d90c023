"""/alert, /alerts and /price in chat: price alerts made and cancelled, feed readings shown, the dev feed moved."""

from __future__ import annotations

from core.commands import Alert, Alerts, Price, SetPrice
from core.errors import NotAllowed, TransientError, UserError
from core.pricealerts import PriceAlert, ago, known_pair, parse_price, show_price, usable
from core.prices import PriceFeed, PriceReading
from core.replies import Reply, Span, bold, code
from core.services import Services, new_id

_Line = tuple[str | Span, ...]


def _feed(s: Services) -> PriceFeed:
    if s.prices is None:
        raise UserError("There are no price feeds on this bot (PRICE_FEEDS is not set), so there are no prices to "
                        "show or watch.")
    return s.prices


async def alert(s: Services, cmd: Alert) -> Reply:
    """Make an alert (at most PRICE_ALERTS_MAX_PER_USER active each), or cancel one of your own."""
    if cmd.cancel_id is not None:
        return await _cancel(s, cmd)
    feed = _feed(s)
    pair = known_pair(feed, cmd.pair)
    decimals = feed.decimals(pair)
    threshold = parse_price(cmd.price, decimals, pair)
    reading: PriceReading | None = None
    try:
        reading = await feed.latest(pair)
    except TransientError:  # made anyway: the first fresh reading decides (see PriceAlert)
        pass
    now = s.clock.now()
    made = PriceAlert(new_id("alert"), cmd.actor.ref, pair, cmd.above, threshold, decimals, now)
    fresh = reading is not None and reading.decimals == decimals and usable(reading, now, s.policy.price_max_age) is None
    if fresh and reading is not None:
        made.on_side = made.side_of(reading.answer)
    async with s.uow() as uow:
        mine = await uow.price_alerts.for_owner(cmd.actor.ref)
        if len(mine) >= s.policy.price_alerts_max:
            raise UserError(f"alert: you have {len(mine)} price alerts, the most one person may have; cancel one "
                            "first (/alerts lists them)", field="alert")
        await uow.price_alerts.add(made)
        await uow.commit()
    goes = f"{pair} goes {'above' if made.above else 'below'} {show_price(threshold, decimals, pair)}"
    lines: list[_Line] = [("🔔 Alert ", code(made.id), ": I will message you privately when ", bold(goes),
                           ", once each time it crosses.")]
    if reading is None:
        lines.append(("The feed is not answering right now; I will watch it as soon as it does.",))
    elif not fresh:
        why = usable(reading, now, s.policy.price_max_age) or "the feed changed its decimals"
        lines.append((f"Now: {show_price(reading.answer, reading.decimals, pair)} ({why}).",))
    elif made.on_side:
        lines.append((f"It is already {'above' if made.above else 'below'} ({show_price(reading.answer, decimals, pair)} "
                      "now), so I will tell you the next time it crosses.",))
    else:
        lines.append((f"Now: {show_price(reading.answer, decimals, pair)}, updated {ago(now - reading.updated_at)} ago.",))
    lines.append(("Stop it with ", code(f"/alert cancel {made.id}"), "."))
    return Reply.of(*lines, kind="ok")


async def _cancel(s: Services, cmd: Alert) -> Reply:
    assert cmd.cancel_id is not None
    async with s.uow() as uow:
        found = await uow.price_alerts.get(cmd.cancel_id)
        if found is None or found.owner_ref != cmd.actor.ref:  # someone else's is as unknown as a typo
            raise UserError(f"id: you have no price alert {cmd.cancel_id}; /alerts lists yours", field="id")
        if not found.active:
            raise UserError(f"id: alert {found.id} is already cancelled", field="id")
        found.active, found.cancelled_at = False, s.clock.now()
        await uow.price_alerts.save(found)
        await uow.commit()
    return Reply.of(("Alert ", code(found.id), f" ({found.condition}) is cancelled."), kind="ok")


async def alerts(s: Services, cmd: Alerts) -> Reply:
    async with s.uow() as uow:
        mine = await uow.price_alerts.for_owner(cmd.actor.ref)
    if not mine:
        return Reply.of("You have no price alerts. Make one with /alert CRO above 0.12.")
    lines: list[_Line] = [(bold(f"Your price alerts ({len(mine)} of {s.policy.price_alerts_max})"),)]
    for a in mine:
        told = f", told {a.crossings}×" if a.crossings else ""
        lines.append(("• ", code(a.id), f" {a.condition}{told}"))
    lines.append(("Stop one with ", code("/alert cancel <id>"), "."))
    return Reply.of(*lines)


async def price(s: Services, cmd: Price) -> Reply:
    """One pair's latest reading and its age, or every pair's."""
    feed = _feed(s)
    pairs = [known_pair(feed, cmd.pair)] if cmd.pair else feed.pairs()
    if not pairs:
        raise UserError("No price feeds are configured on this bot.")
    lines = [await _reading_line(s, feed, pair) for pair in pairs]
    return Reply.of(*lines)


async def _reading_line(s: Services, feed: PriceFeed, pair: str) -> _Line:
    reading = await feed.latest(pair)
    now = s.clock.now()
    shown = show_price(reading.answer, reading.decimals, pair)
    head: _Line = (bold(pair), ": ", bold(shown), f", updated {ago(now - reading.updated_at)} ago")
    problem = usable(reading, now, s.policy.price_max_age)
    return (*head, f" — {problem}." if problem else ".")


async def set_price(s: Services, cmd: SetPrice) -> Reply:
    """An admin moves the dev feed (dev chains only): how the console demonstrates price conditions and alerts."""
    if cmd.actor.role is None or not cmd.actor.role.may_manage:
        raise NotAllowed("Only admins may move a price feed (and only the dev feed of a dev chain). "
                         "/price shows the current price.")
    feed = _feed(s)
    pair = known_pair(feed, cmd.pair)
    answer = parse_price(cmd.price, feed.decimals(pair), pair)
    tx = await feed.set_price(pair, answer)
    if tx is None:
        raise UserError(f"price: the {pair} feed on this chain is a real one and cannot be moved; only the dev feed "
                        "of a dev chain (the embedded chain or `snowrail chain dev`) can", field="price")
    return Reply.of(("Moved the dev feed: ", *await _reading_line(s, feed, pair)), ("Transaction ", code(tx)), kind="ok")
