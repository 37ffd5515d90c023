"""Time phrases of a request -> the first due time and an RFC 5545 RRULE (dateutil), in the user's time zone."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Literal, cast
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from dateutil.rrule import DAILY, MONTHLY, WEEKLY, YEARLY, rrule, rrulestr, weekday
from dateutil.rrule import weekdays as RR_WEEKDAYS

from core.understand.words import MONTHS, SMALL_COUNTS, WEEKDAYS, ordinal

DEFAULT_TIME = time(9, 0)  # a day without a time of day means 09:00; the preview always shows the time
_UNITS = {"day": DAILY, "week": WEEKLY, "month": MONTHLY, "year": YEARLY}
_RR_NAMES = {DAILY: "DAILY", WEEKLY: "WEEKLY", MONTHLY: "MONTHLY", YEARLY: "YEARLY"}
_UNIT_OF = {DAILY: "day", WEEKLY: "week", MONTHLY: "month", YEARLY: "year"}

_WD = "(" + "|".join(WEEKDAYS) + ")"
_MONTH = "(" + "|".join(MONTHS) + ")"
_ORD = r"(\d{1,2})(?:st|nd|rd|th)?"
_ISO = r"(\d{4})-(\d{1,2})-(\d{1,2})(?:t(\d{1,2}):(\d{2}))?"
_DATE_DM = _ORD + r"\s+(?:of\s+)?" + _MONTH + r"(?:,?\s+(\d{4}))?"
_DATE_MD = _MONTH + r"\s+(?:the\s+)?" + _ORD + r"(?:,?\s+(\d{4}))?"
_COUNT = r"(\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|twelve)"


class Unclear(Exception):
    """The part of the request that must be asked about, or refused, with the question to ask."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message, self.field = message, field


@dataclass(frozen=True)
class When:
    at: datetime  # the first due time, aware, in the user's zone
    rule: str | None  # RRULE without DTSTART; None for a one-off
    phrase: str  # how the slash command says it: "at 2026-12-01 09:00" or "every friday at 09:00"


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w@⟨-])" + pattern + r"(?![\w⟩-])")


class _Text:
    """The sentence with each understood phrase blanked out, so no number is read twice."""

    def __init__(self, s: str) -> None:
        self.s = s

    def take(self, rx: re.Pattern[str], accept: Callable[[re.Match[str]], bool] | None = None) -> re.Match[str] | None:
        for m in rx.finditer(self.s):
            if accept is None or accept(m):
                self.s = self.s[: m.start()] + " " * (m.end() - m.start()) + self.s[m.end():]
                return m
        return None


def _count(word: str) -> int:
    return int(word) if word.isdigit() else 2 if word == "twice" else SMALL_COUNTS[word]


def _calendar_date(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise Unclear(f"when: there is no {day} {MONTHS[month - 1].title()} {year}; check the date.", "at") from None


def _month_day(month: int, day: int, year: str | None, today: date) -> date:
    """A date written without a year is the next one to come (a 29 February in the next leap year)."""
    if year:
        return _calendar_date(int(year), month, day)
    if not 1 <= day <= 31 or day > (29 if month == 2 else 30 if month in (4, 6, 9, 11) else 31):
        raise Unclear(f"when: there is no {day} {MONTHS[month - 1].title()}; check the date.", "at")
    for y in range(today.year, today.year + 5):
        try:
            d = date(y, month, day)
        except ValueError:
            continue
        if d >= today:
            return d
    raise Unclear(f"when: I could not place {day} {MONTHS[month - 1].title()}; write it as YYYY-MM-DD.", "at")


_ABS = [(_rx(_ISO), "iso"), (_rx(_DATE_DM), "dm"), (_rx(_DATE_MD), "md")]


def _abs_date(kind: str, m: re.Match[str], today: date) -> tuple[date, time | None]:
    g = m.groups()
    if kind == "iso":
        d = _calendar_date(int(g[0]), int(g[1]), int(g[2]))
        return d, (_clock(int(g[3]), int(g[4]), None) if g[3] else None)
    if kind == "dm":
        return _month_day(MONTHS.index(g[1]) + 1, int(g[0]), g[2], today), None
    return _month_day(MONTHS.index(g[0]) + 1, int(g[1]), g[2], today), None


def _clock(hour: int, minute: int, half: str | None) -> time:
    if half:
        if not 1 <= hour <= 12:
            raise Unclear(f"when: {hour} {half} is not a time; use 1 to 12 with am/pm, or 0 to 23.", "at")
        hour = hour % 12 + (12 if half.startswith("p") else 0)
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise Unclear(f"when: {hour}:{minute:02d} is not a time of day (00:00 to 23:59).", "at")
    return time(hour, minute)


_UNTIL_HEAD = re.compile(r"(?<![\w@⟨-])(?:until|till|til|through|thru|ending(?:\s+on)?|ends?(?:\s+on)?)\s+(?:on\s+)?(?:the\s+)?")
_TIMES = [_rx(r"(?<!:)" + _COUNT + r"\s+times"),  # not the minutes of "13:00 times 3"
          _rx(r"times\s+(\d+)"), _rx(r"(\d+)\s*x"), _rx(r"(twice)")]
_FOR = _rx(r"for\s+(?:the\s+next\s+)?" + _COUNT + r"\s+(day|week|month|year)s?")
_EVERY_N = _rx(r"(?:every|each)\s+(?:(other|second|\d+)\s+)?(day|week|month|year|fortnight)s?")
_EVERY_WD = _rx(r"(?:every|each)\s+" + _WD + r"s?((?:\s*(?:,|and|&)\s*" + _WD + r"s?)*)")
_PLURAL_WD = _rx(r"(?:on\s+)?" + _WD + r"s")
_EVERY_WEEKDAY = _rx(r"(?:every|each|on)\s+(?:week\s*days|weekdays|weekday|business\s+days?|working\s+days?)")
_ADVERB = _rx(r"(daily|weekly|biweekly|bi-weekly|fortnightly|monthly|yearly|annually|quarterly)")
_MONTHDAY = _rx(r"(?:on\s+)?(?:the\s+)?(\d{1,2})(?:st|nd|rd|th)(?:\s+(?:day\s+)?of\s+(?:the|each|every)\s+month)?")
_MONTHDAY_ON = _rx(r"on\s+(?:the\s+)?(?:day\s+)?(\d{1,2})")
_T_COLON = _rx(r"(?:at\s+|@\s*)?(\d{1,2}):(\d{2})\s*(am|pm)?")
_T_HALF = _rx(r"(?:at\s+)?(\d{1,2})\s*(am|pm)")
_T_AT = _rx(r"at\s+(\d{1,2})(?:\s*o'?clock)?")
_T_WORD = _rx(r"(?:at\s+)?(noon|midday|midnight)")
_STARTING = _rx(r"(?:starting|beginning|from|start|begin)(?:\s+on)?")
_PAST = _rx(r"(yesterday|last\s+(?:week|month|year|night|" + "|".join(WEEKDAYS) + r")|\d+\s+\w+\s+ago|ago)")
_VAGUE = _rx(r"((?:next|this)\s+(?:week|month|year)|later|soon|sometime|someday|end\s+of\s+(?:the\s+)?(?:week|month))")
_SLASHED = _rx(r"\d{1,2}/\d{1,2}(?:/\d{2,4})?")
_DAY_AFTER = _rx(r"(?:the\s+)?day\s+after\s+tomorrow")
_TOMORROW = _rx(r"tomorrow(?:\s+morning)?")
_PART_OF_DAY = _rx(r"(tonight|this\s+(?:morning|afternoon|evening)|tomorrow\s+morning)")
_TODAY = _rx(r"(today|tonight|this\s+(?:morning|afternoon|evening))")
_IN = _rx(r"in\s+" + _COUNT + r"\s+(minute|hour|day|week|month)s?")
_NEXT_WD = _rx(r"(?:(?:on\s+)?(?:next|this|coming|the\s+coming)\s+|on\s+)?" + _WD)


def extract(s: str, now: datetime, tz: ZoneInfo, *, protect: Callable[[re.Match[str]], bool]) -> tuple[str, When | None]:
    """Blank out the time phrases of `s` and read them. `protect(m)` vetoes a bare "at N" that is an amount."""
    t = _Text(s)
    today = now.date()
    if m := t.take(_SLASHED):
        raise Unclear(f"when: “{m.group(0)}” can be read two ways; write the date as YYYY-MM-DD.", "at")
    until = _until(t, today)
    count = _times(t)
    freq, interval, byday, phrase = _recurrence(t)
    monthday: int | None = None
    if freq is not None:
        per = t.take(_FOR)
        if per is not None:
            n, unit = _count(per.group(1)), _UNITS[per.group(2)]
            if unit != freq or interval != 1 or count is not None:
                raise Unclear(f"when: “{per.group(0)}” does not fit {phrase}; say “until DATE” or “N times”.", "every")
            count = n
        if freq in (MONTHLY, YEARLY):
            md = t.take(_MONTHDAY) or t.take(_MONTHDAY_ON)
            if md is not None:
                monthday = int(md.group(1))
                if not 1 <= monthday <= 31:
                    raise Unclear(f"every: there is no day {monthday} in a month (1 to 31).", "every")
    clock = _time_of_day(t, protect)
    if clock is None and (vague := _PART_OF_DAY.search(t.s)):
        raise Unclear(f"when: at what time {vague.group(0)}? Write e.g. 8pm or 20:00.", "at")
    day, exact, start_given = _day(t, today, now, recurring=freq is not None)
    if past := t.take(_PAST):
        raise Unclear(f"when: “{past.group(0)}” is in the past; payments can only be scheduled ahead.", "at")
    if freq is None:
        if until is not None or count is not None:
            raise Unclear("every: “until” and “times” need a repeat, such as “every month”.", "every")
        if day is None and clock is None and exact is None:
            return t.s, None
        return t.s, _one_off(day, clock, exact, now, tz)
    if exact is not None:
        raise Unclear("when: a repeating payment needs a day and a time of day, not “in N hours”.", "at")
    if until is not None and count is not None:
        raise Unclear("every: give either an end date (until) or a number of times, not both.", "every")
    return t.s, _recurring(freq, interval, byday, monthday, phrase, clock, day if start_given else None,
                           until, count, now, tz)


def _until(t: _Text, today: date) -> date | None:
    head = t.take(_UNTIL_HEAD)
    if head is None:
        return None
    for rx, kind in _ABS:
        m = rx.match(t.s, head.end())
        if m is not None and m.start() == head.end():
            d, _ = _abs_date(kind, m, today)
            t.s = t.s[: m.start()] + " " * (m.end() - m.start()) + t.s[m.end():]
            return d
    raise Unclear("until: I could not read the end date; write it as YYYY-MM-DD, e.g. until 2027-06-30.", "every")


def _times(t: _Text) -> int | None:
    for rx in _TIMES:
        m = t.take(rx)
        if m is not None:
            n = _count(m.group(1))
            if n < 1:
                raise Unclear("every: the number of times must be at least 1.", "every")
            return n
    return None


def _recurrence(t: _Text) -> tuple[int | None, int, list[int], str]:
    if t.take(_EVERY_WEEKDAY):
        return WEEKLY, 1, [0, 1, 2, 3, 4], "every weekday"
    m = t.take(_EVERY_WD) or t.take(_PLURAL_WD)
    if m is not None:
        names = [m.group(1)] + re.findall(_WD, m.group(2) if m.lastindex and m.lastindex >= 2 and m.group(2) else "")
        days = sorted({WEEKDAYS.index(n) for n in names})
        return WEEKLY, 1, days, "every " + " and ".join(WEEKDAYS[d] for d in days)
    m = t.take(_EVERY_N)
    if m is not None:
        n_text, unit = m.group(1), m.group(2)
        if unit == "fortnight":
            return WEEKLY, 2, [], "every 2 weeks"
        n = 2 if n_text in ("other", "second") else int(n_text) if n_text else 1
        if n < 1:
            raise Unclear(f"every: “{m.group(0)}” is not a period; the interval must be at least 1.", "every")
        if n > 1000:
            raise Unclear(f"every: {n} {unit}s is too long a period.", "every")
        return _UNITS[unit], n, [], f"every {n} {unit}s" if n > 1 else f"every {unit}"
    m = t.take(_ADVERB)
    if m is not None:
        word = m.group(1)
        table = {"daily": (DAILY, 1, "every day"), "weekly": (WEEKLY, 1, "every week"),
                 "biweekly": (WEEKLY, 2, "every 2 weeks"), "bi-weekly": (WEEKLY, 2, "every 2 weeks"),
                 "fortnightly": (WEEKLY, 2, "every 2 weeks"), "monthly": (MONTHLY, 1, "every month"),
                 "quarterly": (MONTHLY, 3, "every 3 months"), "yearly": (YEARLY, 1, "every year"),
                 "annually": (YEARLY, 1, "every year")}
        freq, n, phrase = table[word]
        return freq, n, [], phrase
    return None, 1, [], ""


def _time_of_day(t: _Text, protect: Callable[[re.Match[str]], bool]) -> time | None:
    found: list[time] = []
    while m := t.take(_T_COLON):
        found.append(_clock(int(m.group(1)), int(m.group(2)), m.group(3)))
    while m := t.take(_T_HALF):
        found.append(_clock(int(m.group(1)), 0, m.group(2)))
    while m := t.take(_T_WORD):
        found.append(time(0, 0) if m.group(1) == "midnight" else time(12, 0))
    while m := t.take(_T_AT, lambda m: not protect(m)):
        hour = int(m.group(1))
        if 1 <= hour <= 6:  # "at 5" is more often 17:00 than 05:00: ask rather than pick
            raise Unclear(f"when: “{m.group(0)}”: {hour} am or {hour} pm? Write e.g. {hour}pm or {hour + 12}:00.", "at")
        found.append(_clock(hour, 0, None))
    if len(set(found)) > 1:
        shown = " and ".join(f"{c:%H:%M}" for c in found)
        raise Unclear(f"when: two times of day ({shown}); which one?", "at")
    return found[0] if found else None


def _day(t: _Text, today: date, now: datetime, *, recurring: bool) -> tuple[date | None, datetime | None, bool]:
    """(a day, an exact moment for "in 2 hours", whether a start was written). Two different days: ask."""
    t.take(_STARTING)
    days: list[date] = []
    exact: datetime | None = None
    for rx, kind in _ABS:
        while m := t.take(rx):
            d, clock = _abs_date(kind, m, today)
            days.append(d)
            if clock is not None:
                exact = datetime.combine(d, clock)
    if t.take(_DAY_AFTER):
        days.append(today + timedelta(days=2))
    if t.take(_TOMORROW):
        days.append(today + timedelta(days=1))
    if t.take(_TODAY):
        days.append(today)
    if m := t.take(_IN):
        n, unit = _count(m.group(1)), m.group(2)
        if n < 1:
            raise Unclear(f"when: “{m.group(0)}” is not ahead of now.", "at")
        if unit in ("minute", "hour"):
            step = timedelta(minutes=n) if unit == "minute" else timedelta(hours=n)
            moment = (now + step).replace(second=0, microsecond=0)
            return None, moment.replace(tzinfo=None), True
        days.append(today + (relativedelta(months=n) if unit == "month" else timedelta(days=n * (7 if unit == "week" else 1))))
    if (v := t.take(_VAGUE)) is not None:
        word = v.group(0)
        if recurring and word in ("next week", "next month"):
            days.append(today + timedelta(days=7 - today.weekday()) if word == "next week"
                        else (today.replace(day=1) + relativedelta(months=1)))
        else:
            raise Unclear(f"when: “{word}” is not a day I can schedule; name one, e.g. next monday or 2026-12-07.", "at")
    if not recurring and (m := t.take(_MONTHDAY)) is not None:
        days.append(_next_monthday(int(m.group(1)), today))
    while m := t.take(_NEXT_WD):
        ahead = (WEEKDAYS.index(m.group(1)) - today.weekday() - 1) % 7 + 1
        days.append(today + timedelta(days=ahead))
    if len(set(days)) > 1:
        raise Unclear("when: two different days in one request; which one?", "at")
    if exact is not None:
        return None, exact, True
    return (days[0] if days else None), None, bool(days)


def _next_monthday(day: int, today: date) -> date:
    if not 1 <= day <= 31:
        raise Unclear(f"when: there is no day {day} in a month (1 to 31).", "at")
    first = today.replace(day=1)
    for k in range(13):
        month = first + relativedelta(months=k)
        try:
            d = month.replace(day=day)
        except ValueError:
            continue
        if d >= today:
            return d
    raise Unclear(f"when: I could not place the {ordinal(day)}; write the date as YYYY-MM-DD.", "at")


def _aware(naive: datetime, tz: ZoneInfo) -> datetime:
    aware = naive.replace(tzinfo=tz)
    if aware.astimezone(timezone.utc).astimezone(tz).replace(tzinfo=None) != naive:
        raise Unclear(f"when: {naive:%Y-%m-%d %H:%M} does not exist in {tz.key} (the clocks move forward).", "at")
    return aware


def _one_off(day: date | None, clock: time | None, exact: datetime | None, now: datetime, tz: ZoneInfo) -> When:
    if exact is not None:
        if clock is not None and clock != exact.time():
            raise Unclear("when: two times of day; which one?", "at")
        naive = exact
    elif day is None:
        assert clock is not None
        naive = datetime.combine(now.date(), clock)
        if naive <= now.replace(tzinfo=None):
            naive += timedelta(days=1)
    else:
        naive = datetime.combine(day, clock or DEFAULT_TIME)
    at = _aware(naive, tz)
    if at <= now:
        raise Unclear(f"when: {naive:%Y-%m-%d %H:%M} ({tz.key}) is in the past; pick a time ahead.", "at")
    return When(at, None, f"at {naive:%Y-%m-%d %H:%M}")


def _recurring(freq: int, interval: int, byday: list[int], monthday: int | None, phrase: str, clock: time | None,
               start: date | None, until: date | None, count: int | None, now: datetime, tz: ZoneInfo) -> When:
    at_clock = clock or DEFAULT_TIME
    now_naive = now.replace(tzinfo=None)
    begin = datetime.combine(start or now.date(), at_clock)
    if start is not None and begin <= now_naive:
        raise Unclear(f"when: the start {begin:%Y-%m-%d %H:%M} is in the past.", "at")
    if freq == MONTHLY and monthday is None:
        monthday = begin.day if begin > now_naive else (begin + timedelta(days=1)).day
    days: list[weekday] = [RR_WEEKDAYS[d] for d in byday]
    if not days and not monthday and begin <= now_naive:
        begin += timedelta(days=1)  # the period starts with the next such time of day, not one period later
    probe = rrule(cast(Literal[0, 1, 2, 3, 4, 5, 6], freq), interval=interval, byweekday=days or None, bymonthday=monthday, dtstart=begin)
    first = probe.after(now_naive, inc=False)
    if first is None:
        raise Unclear("every: this repeat never happens; check the days.", "every")
    parts = [f"FREQ={_RR_NAMES[freq]}"]
    if interval > 1:
        parts.append(f"INTERVAL={interval}")
    if days:
        parts.append("BYDAY=" + ",".join(str(d) for d in days))
    if monthday:
        parts.append(f"BYMONTHDAY={monthday}")
        if freq == MONTHLY and "on the" not in phrase:
            phrase += f" on the {ordinal(monthday)}"
    if freq == YEARLY and monthday:
        parts.append(f"BYMONTH={first.month}")
    text = f"{phrase} at {at_clock:%H:%M}"
    if start is not None:
        text += f" from {start:%Y-%m-%d}"
    at = _aware(first, tz)
    if count is not None:
        parts.append(f"COUNT={count}")
        text += f" times {count}"
    if until is not None:
        last = datetime.combine(until, time(23, 59, 59), tzinfo=tz).astimezone(timezone.utc)
        if last < at:
            raise Unclear(f"until: {until:%Y-%m-%d} is before the first payment on {first:%Y-%m-%d %H:%M}.", "every")
        parts.append(f"UNTIL={last:%Y%m%dT%H%M%SZ}")
        text += f" until {until:%Y-%m-%d}"
    rule = ";".join(parts)
    checked = rrulestr(rule, dtstart=at)
    if checked.after(at, inc=True) != at:  # the written rule must give back the first time we show
        raise Unclear("every: I could not build this repeat; say it as e.g. every month on the 1st.", "every")
    return When(at, rule, text)
