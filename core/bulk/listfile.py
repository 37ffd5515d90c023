"""Disperse-style lists -> records: no header, one `address amount` a line, split by a space, a comma or `=`."""

from __future__ import annotations

import re

from core.bulk.records import MAX_ROWS, FileProblem, Record, shown

# Separators as Disperse accepts them: "0xabc 1.5", "0xabc,1.5", "0xabc=1.5", with any spaces around.
_SPLIT = re.compile(r"\s*[,=]\s*|\s+")
# A line that starts like a payee: an address, a @handle or a Discord mention, then a separator.
_LOOKS_LIKE = re.compile(r"^\s*(?:0[xX][0-9a-fA-F]|@\w|<@!?\d)[^\s,=]*\s*[\s,=]")
_PAYEE = re.compile(r"^(?:0[xX][0-9a-fA-F]*|@\w+|<@!?\d+>)$")
_NUMBER = re.compile(r"^\+?[0-9]*\.?[0-9]+$")


def looks_like_list(text: str) -> bool:
    """Whether the first non-blank line reads as `address amount [token]` (so no CSV header is expected)."""
    for line in text.split("\n", 50)[:50]:
        if line.strip():
            words = [w for w in _SPLIT.split(line.strip()) if w]
            return _LOOKS_LIKE.match(line) is not None and len(words) in (2, 3) and words[-1][:1].isalnum()
    return False


def list_records(text: str, symbols: frozenset[str], max_rows: int = MAX_ROWS) -> list[Record]:
    """One record per non-blank line, numbered as the lines of the text. An optional third word naming a
    token of this chain (`0xabc 5 USDC`) is read; any other word is a stray word, an error on its line."""
    records: list[Record] = []
    for number, line in enumerate(text.split("\n"), 1):
        words = [w for w in _SPLIT.split(line.strip()) if w]
        if not words:
            continue
        if len(records) > max_rows:
            records.append(Record(number, {}))  # counted, not checked: the file is refused anyway
            continue
        records.append(_record(words, number, symbols))
    if not records:
        raise FileProblem("empty: the list has no payment lines; write one `address amount` a line")
    return records


def _record(words: list[str], line: int, symbols: frozenset[str]) -> Record:
    if len(words) == 1:
        return Record(line, {}, f"line: “{shown(words[0])}” alone is not a payment; write `address amount`, "
                                "like 0x5aAe…eAed 1.5")
    if len(words) == 3 and words[2].upper() in symbols:
        return Record(line, {"recipient": words[0], "amount": words[1], "token": words[2]})
    if len(words) > 2:
        if not _PAYEE.match(words[0]):
            where, stray = "before the address", words[0]
        elif not _NUMBER.match(words[1]):
            where, stray = "between the address and the amount", words[1]
        else:
            where, stray = "after the amount", " ".join(words[2:])
        return Record(line, {}, f"line: stray word “{shown(stray)}” {where}; write `address amount` "
                                f"(optionally a token: {', '.join(sorted(symbols))})")
    return Record(line, {"recipient": words[0], "amount": words[1]})
