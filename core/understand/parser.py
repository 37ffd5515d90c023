"""A sentence -> the slash command it means, or the question to ask. Deterministic, local, and never a guess."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from core.addresses import parse_address
from core.errors import UsageError
from core.money import TokenRegistry, parse_amount
from core.understand import when as when_
from core.understand.words import (
    ABBREVIATIONS,
    CURRENCY_WORDS,
    NEGATIONS,
    NOT_A_NAME,
    NUMBER_WORDS,
    PAY_FORMS,
    PAY_VERBS,
    repair_keyword,
    repair_token,
)

EXAMPLE = "e.g. “send 25 USDC to @bob tomorrow at 9” or “what did I pay last week”"
MAX_CHARS = 300


@dataclass(frozen=True)
class Understanding:
    """The JSON contract of `snowrail understand`: an action with its slash command, or the question to ask."""

    action: str | None = None
    recipient: str | None = None
    amount: str | None = None
    token: str | None = None
    at: str | None = None
    every: str | None = None
    command: str | None = None
    ask: str | None = None

    def as_json(self) -> dict[str, str | None]:
        return asdict(self)


def _ask(question: str) -> Understanding:
    return Understanding(ask=question)


_ADDRESS = re.compile(r"(?<![\w])0x\w*", re.I)
_HANDLE = re.compile(r"(?<![\w@])@[A-Za-z0-9_]{1,32}\b|\b[a-z]{2,16}:[0-9]{1,25}\b")
_ID = re.compile(r"\b(?:pay|int|bulk|batch|sch|mix|intent)-[a-z0-9]{4,40}\b", re.I)
_WORD = re.compile(r"⟨[ahi]\d+⟩|[$€£¥&]|[a-z0-9]+(?:[.,:'/_-][a-z0-9]+)*")  # "_": payee names (payroll_eu)
_GLUED = re.compile(r"(?<![\w.,])(\d+(?:[.,]\d+)*k?)(?!st\b|nd\b|rd\b|th\b|am\b|pm\b|x\b)([a-z]{3,})\b")
_AMOUNT = re.compile(r"^(\d{1,3}(?:,\d{3})+|\d+)?(\.\d+)?(k)?$")


class _Sentence:
    """The normalised words of a request, with addresses, @handles and ids held aside as placeholders."""

    def __init__(self, text: str, tokens: TokenRegistry) -> None:
        self.held: dict[str, str] = {}
        self.raw = text
        s = text.replace("’", "'").replace("‘", "'")
        s = _ID.sub(lambda m: self._hold("i", m.group(0).lower()), s)
        s = _ADDRESS.sub(lambda m: self._hold("a", m.group(0)), s)
        s = _HANDLE.sub(lambda m: self._hold("h", m.group(0)), s)
        s = s.lower()
        s = re.sub(r"([$€£¥])\s*(\d)", r"\1 \2", s)
        s = re.sub(r"(\d)\s*([$€£¥])", r"\1 \2", s)
        s = _GLUED.sub(r"\1 \2", s)
        self.symbols = {t.symbol.lower(): t.symbol for t in tokens}
        words: list[str] = []
        for w in _WORD.findall(s):
            w = w.strip("'")
            if w in ABBREVIATIONS:
                words.extend(ABBREVIATIONS[w].split())
                continue
            symbol = repair_token(w, list(self.symbols.values())) if w not in CURRENCY_WORDS else None
            words.append(symbol.lower() if symbol else repair_keyword(w))
        self.words = words
        self.text = " ".join(words)

    def _hold(self, kind: str, value: str) -> str:
        key = f"⟨{kind}{len(self.held)}⟩"
        self.held[key] = value
        return f" {key} "

    def kind(self, word: str) -> str | None:
        return word[1] if word in self.held else None


_SCHEDULE_WORDS = re.compile(r"\b(schedules?|scheduled|recurring|repeating|standing orders?|subscriptions?|autopay|payroll)\b")
_SCHEDULE_VERBS = {"cancel": "cancel", "stop": "cancel", "delete": "cancel", "remove": "cancel", "end": "cancel",
                   "kill": "cancel", "terminate": "cancel", "drop": "cancel", "pause": "pause", "suspend": "pause",
                   "hold": "pause", "freeze": "pause", "resume": "resume", "unpause": "resume",
                   "restart": "resume", "reactivate": "resume", "continue": "resume", "skip": "skip"}
_DISMISS = re.compile(r"^(?:no|nope|nah|cancel|stop|never mind|nevermind|forget it|abort|no thanks)$")
_GREETING = re.compile(r"^(?:hi|hello|hey|yo|thanks|thank you|good (?:morning|evening|afternoon))(?: there)?$")
_HELP = re.compile(r"^(?:help|what can you do|how does this work|commands|what are the commands|what do you do)$")
_HISTORY = re.compile(
    r"\b(?:history|what (?:did|have) (?:i|we) (?:pay|paid|send|sent|spend|spent)|who (?:did|have) (?:i|we) (?:pay|paid)"
    r"|how much (?:did|have) (?:i|we) (?:pay|paid|send|sent|spend|spent)"
    r"|(?:my|our|recent|last|past|latest|previous) (?:(\d+) )?(?:payments|transfers|transactions)"
    r"|payments (?:i|we) (?:made|sent|did)|(?:list|show)(?: me)?(?: my| our)?(?: recent| last| past)?"
    r" (?:payments|transactions|transfers))\b")
_SCHEDULES = re.compile(r"\b(?:schedules|scheduled payments|what is scheduled|upcoming payments|recurring payments"
                        r"|standing orders|my schedule|what will be paid)\b")
_STATUS = re.compile(r"\b(?:status|happened|where is|check|track|went through|go through|gone through|arrive|arrived)\b")
_WALLET = re.compile(r"\b(?:balance|balances|wallet|how much (?:money |funds )?(?:do (?:i|we) have|is left|"
                     r"is in the treasury|have we got)|treasury)\b")
_NOT_TEMPLATE = {"it", "that", "this", "the", "a", "an", "me", "my", "again", "now", "something", "what", "all"}
_BULK_RUN = re.compile(r"\b(?:run|execute)\s+(?:the\s+|my\s+|our\s+|this\s+months?\s+)?([a-z][a-z0-9_-]{1,31})"
                       r"(?:\s+(?:template|payouts?|batch))?\b")


def understand(text: str, *, tokens: TokenRegistry, now: datetime, tz: str = "UTC") -> Understanding:
    """Read one sentence. `now` is the moment it was said (any offset); dates are read in the zone `tz`."""
    raw = (text or "").strip()
    if not raw:
        return _ask(f"Tell me what to do, {EXAMPLE}.")
    if len(raw) > MAX_CHARS:
        return _ask(f"That is a long message ({len(raw)} characters); say one request at a time, at most {MAX_CHARS}.")
    if raw.startswith("/"):
        return _ask("That is already a slash command: send it as it is.")
    zone = ZoneInfo(tz)
    local_now = now.astimezone(zone)
    sent = _Sentence(raw, tokens)
    s = sent.text
    if _DISMISS.match(s):
        return Understanding(action="dismiss")
    if _GREETING.match(s) or _HELP.match(s):
        return Understanding(action="help", command="/help")
    try:
        return _classify(sent, tokens, local_now, zone)
    except when_.Unclear as e:
        return _ask(e.message)
    except (ValueError, OverflowError):  # a date beyond the calendar ("in 99999999 days", year 9999 + 1)
        return _ask("when: that date is out of range; write it as YYYY-MM-DD.")


def _ids(sent: _Sentence) -> list[str]:
    return [sent.held[w] for w in sent.words if sent.kind(w) == "i"]


def _classify(sent: _Sentence, tokens: TokenRegistry, now: datetime, tz: ZoneInfo) -> Understanding:
    s, words = sent.text, sent.words
    ids = _ids(sent)
    verbs = [_SCHEDULE_VERBS[w] for w in words if w in _SCHEDULE_VERBS]
    paying = any(w in PAY_VERBS or w in PAY_FORMS for w in words)
    if verbs and (_SCHEDULE_WORDS.search(s) or any(i.startswith("sch-") for i in ids)):
        return _schedule_op(sent, verbs[0])
    if ids:
        return _about_payment(sent, ids, verbs)
    if _HISTORY.search(s):
        m = _HISTORY.search(s)
        n = m.group(1) if m else None
        if n is not None and not 1 <= int(n) <= 50:
            return _ask(f"history: I can show 1 to 50 payments, not {n}.")
        return Understanding(action="history", command=f"/history {n}" if n else "/history")
    if verbs and paying:
        return _ask("schedule: which schedule? Send /schedules to see their ids, then e.g. /schedule cancel <id>.")
    if _SCHEDULES.search(s):
        return Understanding(action="schedules", command="/schedules")
    if _STATUS.search(s) and not paying:
        return _ask("status: which payment? Give its id (e.g. pay-abc234de), or send /history to find it.")
    if _WALLET.search(s) and not paying:
        return Understanding(action="wallet", command="/wallet")
    if not paying and (m := _BULK_RUN.search(s)) and m.group(1) not in _NOT_TEMPLATE:
        rest, due = when_.extract(s[: m.start()] + " " * (m.end() - m.start()) + s[m.end():], now, tz,
                                  protect=lambda _: False)
        if due is not None and due.rule is None:
            return _ask("when: a template runs now or on a repeat (e.g. every month on the 25th), not once later.")
        command = f"/bulk run {m.group(1)}" + (f" {due.phrase}" if due else "")
        return Understanding(action="bulk_run", at=due.at.isoformat() if due else None,
                             every=due.rule if due else None, command=command)
    return _pay(sent, tokens, now, tz, paying)


def _schedule_op(sent: _Sentence, verb: str) -> Understanding:
    ids = _ids(sent)
    name: str | None = ids[0] if len(ids) == 1 else None
    if name is None and not ids:
        words = sent.words
        for i, w in enumerate(words):
            if w in ("schedule", "schedules", "subscription", "autopay"):
                before = words[i - 1] if i > 0 else ""
                after = words[i + 1] if i + 1 < len(words) else ""
                for cand in (before, after):
                    if cand and re.match(r"^[a-z][a-z0-9_-]{1,31}$", cand) and cand not in NOT_A_NAME | {
                            "recurring", "monthly", "weekly", "daily", "schedule", "next", "named", "called"}:
                        name = cand
                        break
            if w == "payroll" and name is None:
                name = "payroll"
            if name:
                break
    if name is None:
        return _ask(f"schedule: which schedule should I {verb}? Send /schedules to see their ids.")
    return Understanding(action=f"schedule_{verb}", command=f"/schedule {verb} {name}")


def _about_payment(sent: _Sentence, ids: list[str], verbs: list[str]) -> Understanding:
    if len(set(ids)) > 1:
        return _ask(f"id: two payment ids ({', '.join(sorted(set(ids)))}); one at a time, please.")
    ref = ids[0]
    if "confirm" in sent.words or "approve" in sent.words:
        action = "approve" if "approve" in sent.words else "confirm"
        return Understanding(action=action, command=f"/{action} {ref}")
    if verbs and verbs[0] == "cancel":
        return Understanding(action="cancel", command=f"/cancel {ref}")
    if verbs:
        return _ask(f"{verbs[0]}: a payment can be cancelled or confirmed, not {verbs[0]}d; send /status {ref}.")
    return Understanding(action="status", command=f"/status {ref}")


def _is_name(word: str, sent: _Sentence) -> bool:
    return (bool(re.match(r"^[a-z][a-z0-9_.]{1,31}$", word)) and word not in NOT_A_NAME and word not in sent.symbols
            and word not in NUMBER_WORDS and word not in PAY_FORMS)


def _and_another(words: list[str], j: int, sent: _Sentence) -> str | None:
    """The second person of "alice and bob" / "alice or bob", if words[j:] starts that way."""
    if j + 1 < len(words) and words[j] in ("and", "or", "&", "plus"):
        w = words[j + 1]
        if sent.kind(w) in ("a", "h"):
            return sent.held[w]
        if _is_name(w, sent):
            return w
    return None


_DETERMINERS = {"my", "our", "the", "his", "her", "their", "a", "an", "this", "that", "your"}


def _pay(sent: _Sentence, tokens: TokenRegistry, now: datetime, tz: ZoneInfo, paying: bool) -> Understanding:
    symbols = sent.symbols

    def is_amount_ahead(m: re.Match[str]) -> bool:  # "at 5 usdc" is an amount, "at 5" a time of day
        nxt = m.string[m.end():].split()[:1]
        return bool(nxt) and (nxt[0] in symbols or nxt[0] in CURRENCY_WORDS or nxt[0] == "k")

    if re.search(r"(?:^|\s)[-−]\s*\d", sent.raw):
        return _ask("amount: a payment cannot be negative; write the amount as a positive number.")
    rest, due = when_.extract(sent.text, now, tz, protect=is_amount_ahead)
    words = rest.split()
    if any(w in NEGATIONS or w == "do not" for w in words) or "do not" in rest:
        return _ask("I am not sure what you want done (the sentence says not to); say what to pay, " + EXAMPLE + ".")
    recipients: list[str] = []
    amounts: list[str] = []
    found: list[str] = []
    unknown_token: str | None = None
    for i, w in enumerate(words):
        nxt = words[i + 1] if i + 1 < len(words) else ""
        kind = sent.kind(w)
        if kind in ("a", "h"):
            recipients.append(sent.held[w])
        elif w in CURRENCY_WORDS:
            shown = {"$": "$", "€": "€", "£": "£"}.get(w, w)
            return _ask(f"token: “{shown}” is not a token here; which token? Known: {', '.join(tokens.symbols())}.")
        elif w in symbols:
            found.append(symbols[w])
        elif _AMOUNT.match(w) and re.search(r"\d", w):
            amounts.append(w)
            if nxt and nxt not in symbols and nxt not in CURRENCY_WORDS and re.match(r"^[a-z]{2,10}$", nxt) \
                    and nxt not in NOT_A_NAME and nxt not in ("to", "for"):
                unknown_token = unknown_token or nxt
        elif re.search(r"\d", w) and kind is None:
            return _ask(f"amount: I cannot read “{w}” as an amount; write digits with a dot for decimals, e.g. 1500 or 0.5.")
        elif w in NUMBER_WORDS and nxt in symbols:
            amounts.append(str(NUMBER_WORDS[w]))
        elif w == "to" and nxt:
            if nxt in _DETERMINERS:
                after = " ".join(words[i + 1:i + 3])
                return _ask(f"recipient: who is “{after}”? Write their @handle, an address (0x…) or a saved payee's name.")
            if _is_name(nxt, sent):
                recipients.append(nxt)
                if (more := _and_another(words, i + 2, sent)) is not None:
                    return _ask(f"recipient: {nxt} {words[i + 2]} {more}? One payment per message: who should be paid?")
        elif (w in PAY_VERBS) and _is_name(nxt, sent):
            recipients.append(nxt)
            if (more := _and_another(words, i + 2, sent)) is not None:
                return _ask(f"recipient: {nxt} {words[i + 2]} {more}? One payment per message: who should be paid?")
            after = words[i + 2] if i + 2 < len(words) else ""
            if after and _is_name(after, sent):
                return _ask(f"recipient: “{nxt} {after}” — who exactly? Write one @handle, address or payee name.")
    if not paying and not (recipients and amounts):
        return _ask(f"I did not understand that. Tell me what to do, {EXAMPLE}, or send /help.")
    distinct = sorted({r.lower() for r in recipients})
    if len(distinct) > 1:
        return _ask(f"recipient: I see more than one ({', '.join(dict.fromkeys(recipients))}); who should be paid? "
                    "One payment per message.")
    if not recipients:
        return _ask("recipient: who should be paid? Write their @handle, an address (0x…) or a saved payee's name.")
    recipient = recipients[0]
    if recipient.lower().startswith("0x"):
        try:
            parse_address(recipient, field="recipient")
        except UsageError as e:
            return _ask(e.message)
    if len(set(amounts)) > 1 or (len(amounts) > 1):
        return _ask(f"amount: I see {len(amounts)} amounts ({', '.join(amounts)}); which one? One payment per message.")
    if not amounts:
        return _ask(f"amount: how much should {recipient} get? Write the amount and the token, e.g. 25 USDC.")
    distinct_tokens = sorted(set(found))
    if len(distinct_tokens) > 1:
        return _ask(f"token: two tokens ({', '.join(distinct_tokens)}); which one?")
    if not distinct_tokens:
        if unknown_token:
            return _ask(f"token: “{unknown_token}” is not a token on this chain; known: {', '.join(tokens.symbols())}.")
        return _ask(f"token: which token? Known: {', '.join(tokens.symbols())}.")
    token = tokens.get(distinct_tokens[0])
    amount = _decimal(amounts[0])
    if amount is None:
        return _ask(f"amount: I cannot read “{amounts[0]}” as an amount.")
    try:
        parse_amount(amount, token)
    except UsageError as e:
        return _ask(e.message)
    command = f"/pay {recipient} {amount} {token.symbol}" + (f" {due.phrase}" if due else "")
    return Understanding(action="pay", recipient=recipient, amount=amount, token=token.symbol,
                         at=due.at.isoformat() if due else None, every=due.rule if due else None, command=command)


def _decimal(text: str) -> str | None:
    m = _AMOUNT.match(text)
    if m is None:
        return None
    try:
        value = Decimal(text.replace(",", "").rstrip("k"))
    except InvalidOperation:
        return None
    if m.group(3):
        value *= 1000
    out = format(value.normalize(), "f")
    return out
