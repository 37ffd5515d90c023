"""The vocabulary of plain-language requests: keywords, typo repair, number words and currency words."""

from __future__ import annotations

import re
from collections.abc import Iterable

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")
# Short forms read as the full word. "may" is left alone: it is a verb far more often than a month.
ABBREVIATIONS: dict[str, str] = {
    "mon": "monday", "tue": "tuesday", "tues": "tuesday", "wed": "wednesday", "thu": "thursday",
    "thur": "thursday", "thurs": "thursday", "fri": "friday", "sat": "saturday", "sun": "sunday",
    "jan": "january", "feb": "february", "mar": "march", "apr": "april", "jun": "june", "jul": "july",
    "aug": "august", "sep": "september", "sept": "september", "oct": "october", "nov": "november",
    "dec": "december", "tmrw": "tomorrow", "tmr": "tomorrow", "tmw": "tomorrow", "pls": "please",
    "plz": "please", "wk": "week", "wks": "weeks", "mo": "month", "mos": "months", "hrs": "hours", "hr": "hour",
    "mins": "minutes", "min": "minute", "w/": "with", "u": "you", "im": "i am",
    "what's": "what is", "whats": "what is", "don't": "do not", "dont": "do not", "didn't": "did not",
    "i've": "i have", "i'd": "i would", "can't": "can not", "cant": "can not", "let's": "let us",
}

PAY_VERBS = frozenset({"pay", "send", "transfer", "give", "wire", "tip", "remit", "reimburse"})
PAY_FORMS = frozenset({"paying", "sending", "transferring", "giving", "wiring", "tipping", "paid", "sent"})

# Words that a typo may be repaired to (never to a token symbol: tokens have their own, stricter repair).
KEYWORDS = frozenset(
    set(PAY_VERBS) | set(WEEKDAYS) | set(MONTHS) | {
        "every", "each", "tomorrow", "today", "tonight", "until", "times", "weekly", "monthly", "daily",
        "yearly", "week", "weeks", "month", "months", "day", "days", "year", "years", "hour", "hours", "minute",
        "minutes", "schedule", "schedules", "scheduled", "cancel", "pause", "resume", "history", "payments",
        "payment", "status", "balance", "wallet", "starting", "please", "weekday", "weekdays", "payroll",
        "template", "recurring", "fortnight", "fortnightly", "biweekly", "next", "dollars", "dollar", "euros",
    }
)

CURRENCY_WORDS = frozenset({"$", "€", "£", "¥", "usd", "dollar", "dollars", "bucks", "buck", "eur", "euro", "euros",
                            "gbp", "pound", "pounds", "sterling", "yen", "cents", "cent", "fiat", "cash"})

NUMBER_WORDS: dict[str, int] = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "hundred": 100, "thousand": 1000,
}
SMALL_COUNTS: dict[str, int] = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
                                "seven": 7, "eight": 8, "nine": 9, "ten": 10, "twelve": 12}

NEGATIONS = frozenset({"not", "never", "dont", "without"})

# Words that never name a recipient: "pay the bill", "send it", "give me".
NOT_A_NAME = frozenset(KEYWORDS | CURRENCY_WORDS | NEGATIONS | {
    "a", "an", "the", "to", "for", "from", "of", "in", "on", "at", "by", "and", "or", "with", "me", "my", "mine",
    "i", "you", "your", "him", "her", "his", "them", "their", "it", "its", "us", "our", "we", "they", "this",
    "that", "these", "those", "some", "please", "now", "right", "away", "asap", "again", "back", "also", "too",
    "just", "then", "so", "ok", "okay", "hey", "hi", "hello", "can", "could", "would", "will", "should", "do",
    "is", "are", "be", "was", "what", "who", "how", "much", "many", "more", "less", "money", "funds", "amount",
    "usdc", "cro", "token", "tokens", "coin", "coins", "crypto", "worth", "same", "as", "usual", "last", "other",
    "starting", "beginning", "from", "after", "before", "up", "out", "off", "into", "onto", "via", "through",
    "here", "there", "someone", "somebody", "everyone", "all", "both", "anyone", "one", "two", "k", "noon",
    "midnight", "morning", "evening", "afternoon", "night", "am", "pm", "kindly", "go", "ahead", "quickly",
    "let", "need", "want", "like", "has", "have", "had", "get", "gets", "got", "did", "does", "if", "when",
})

_WORD_CHARS = re.compile(r"^[a-z]+$")


def damerau1(a: str, b: str) -> bool:
    """True when b is one edit (insert, delete, substitute, or swap of neighbours) away from a."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


def repair_keyword(word: str) -> str:
    """A misspelt keyword ("sned", "tomorow", "evrey") becomes the keyword when exactly one is one edit away.
    Short words are repaired only to a payment verb, and only for a missing, extra or swapped letter ("snd",
    "pyay", "pya"): a substituted letter in a short word is more often another word ("pat", "ray")."""
    if word in KEYWORDS or not _WORD_CHARS.match(word):
        return word
    if len(word) <= 4:
        verbs = [v for v in PAY_VERBS if damerau1(word, v) and (len(v) != len(word) or sorted(v) == sorted(word))]
        if len(verbs) == 1:
            return verbs[0]
    if len(word) < 4:
        return word
    found = [k for k in KEYWORDS if len(k) >= 4 and damerau1(word, k)]
    return found[0] if len(found) == 1 else word


def repair_token(word: str, symbols: Iterable[str]) -> str | None:
    """A token symbol typed with a doubled letter or two neighbours swapped ("usdcc", "ucsd", "crro").
    A substituted letter is not repaired: "usdt" is another token, not a typo of USDC."""
    low = word.lower()
    for symbol in symbols:
        s = symbol.lower()
        if low == s:
            return symbol
    hits: list[str] = []
    for symbol in symbols:
        s = symbol.lower()
        if len(s) < 3:
            continue
        doubled = len(low) == len(s) + 1 and any(
            low[:i] + low[i + 1:] == s and i > 0 and low[i] == low[i - 1] for i in range(1, len(low)))
        swapped = len(low) == len(s) and damerau1(low, s) and sorted(low) == sorted(s)
        if doubled or swapped:
            hits.append(symbol)
    return hits[0] if len(hits) == 1 else None


def ordinal(n: int) -> str:
    suffix = "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
