"""Turns core values into HTML for the dashboard's templates: replies, amounts, the spending chart (SVG)."""

from __future__ import annotations

from datetime import date

from markupsafe import Markup, escape

from core.dashboard import DaySpend, chart_bars, chart_days
from core.money import TokenRegistry, format_significant, format_units
from core.replies import Reply

CHART_W, CHART_H = 600, 120


def reply_html(reply: Reply) -> Markup:
    """A core Reply as HTML lines; every piece of text is escaped here and only here."""
    out = []
    for line in reply.lines:
        parts = []
        for span in line:
            text = escape(span.text)
            if span.kind == "bold":
                parts.append(Markup("<strong>%s</strong>") % text)
            elif span.kind == "code":
                parts.append(Markup("<code>%s</code>") % text)
            elif span.kind == "link" and span.url and span.url.startswith(("https://", "http://")):
                parts.append(Markup('<a href="%s" rel="noopener noreferrer">%s</a>') % (span.url, text))
            else:
                parts.append(text)
        out.append(Markup("").join(parts))
    return Markup("<br>").join(out)


def amount(units: int, symbol: str, tokens: TokenRegistry) -> str:
    try:
        token = tokens.get(symbol)
    except Exception:  # a token no longer configured: show base units rather than guess its decimals
        return f"{units} (base units) {symbol}"
    return f"{format_units(units, token.decimals)} {token.symbol}"


def spending_chart(spends: list[DaySpend], symbol: str, tokens: TokenRegistry, today: date) -> Markup:
    """Thirty days of one token's spending as an inline SVG: server-drawn, so it shows with JavaScript off."""
    days = chart_days(today)
    decimals = tokens.get(symbol).decimals
    bars = chart_bars(spends, symbol, days, width=CHART_W, height=CHART_H)
    step = CHART_W // len(days)
    top = max((b.amount for b in bars), default=0)
    rects = []
    for b in bars:
        title = f"{b.day.isoformat()}: {format_significant(b.amount, decimals)} {symbol}"
        rects.append(Markup('<rect class="bar" x="%d" y="%d" width="%d" height="%d"><title>%s</title></rect>')
                     % (b.x + 1, b.y, max(step - 2, 1), b.height, title))
    label = f"{symbol} paid per day, {days[0].isoformat()} to {days[-1].isoformat()}; highest day " \
            f"{format_significant(top, decimals)} {symbol}"
    return (Markup('<svg class="chart" role="img" viewBox="0 0 %d %d" width="%d" height="%d" aria-label="%s">'
                   '<title>%s</title>') % (CHART_W, CHART_H + 14, CHART_W, CHART_H + 14, label, label)
            + Markup("").join(rects)
            + Markup('<text x="0" y="%d" class="axis">%s</text><text x="%d" y="%d" class="axis" text-anchor="end">%s</text>'
                     '</svg>') % (CHART_H + 12, days[0].strftime("%d %b"), CHART_W, CHART_H + 12, days[-1].strftime("%d %b")))
