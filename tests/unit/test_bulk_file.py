"""Payout files: CSV dialects, JSON shapes, exact amounts, line numbers, whole-file problems, duplicates, totals."""

import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.addresses import to_checksum
from core.bulk.file import MAX_BYTES, MAX_ROWS, check_file
from core.money import TokenRegistry, format_units

T = TokenRegistry.standard()
A = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"
A_SUM = to_checksum(A)
B = "0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359"


def check(text: str | bytes, filename: str | None = None):
    data = text.encode() if isinstance(text, str) else text
    return check_file(data, T, filename=filename)


def test_plain_csv_without_header_defaults_to_cro():
    r = check(f"{A},1.5\n{B},2,USDC,May salary\n")
    assert r.exit_code == 0 and r.executable and not r.header
    assert [(x.line, x.recipient, x.token, x.amount, x.memo) for x in r.valid] == [
        (1, A_SUM, "CRO", 15 * 10**17, None),
        (2, to_checksum(B), "USDC", 2_000_000, "May salary"),
    ]
    assert r.summary(T)["totals"] == {"CRO": "1.5", "USDC": "2"}


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_delimiters_bom_crlf_quotes_and_spaces(delimiter):
    d = delimiter
    text = (
        f"\ufeff Note {d}AMOUNT{d} Address {d}currency\r\n"
        f"\"pay, with; both\tkinds\"{d} 1.25 {d}{A}{d} usdc \r\n"
        f"\r\n"
        f"{d}{d}{d}\r\n"
        f" \"quoted memo\" {d}\"3\"{d}\"{B}\"{d}\r\n"
    )
    r = check(text)
    assert r.delimiter == d and r.header
    assert r.exit_code == 0, r.errors
    assert [(x.line, x.token, x.amount, x.memo) for x in r.valid] == [
        (2, "USDC", 1_250_000, "pay, with; both\tkinds"),
        (5, "CRO", 3 * 10**18, "quoted memo"),
    ]


def test_header_synonyms_any_order_and_case():
    r = check(f"VALUE,To,Asset,Reference\n7,{A},WCRO,r1\n")
    assert r.header and r.valid[0].token == "WCRO" and r.valid[0].amount == 7 * 10**18 and r.valid[0].memo == "r1"


def test_header_problems_are_refused_with_the_header_line():
    r = check(f"address,to,amount\n{A},{A},1\n")
    assert r.exit_code == 2 and "both name the recipient" in r.errors[0].error
    r = check(f"recipient,memo\n{A},x\n")
    assert r.errors[0].line == 0 and "no amount column" in r.errors[0].error


def test_errors_carry_physical_lines_and_core_messages():
    r = check(
        "recipient,amount,token\n"
        f"{A},1e18\n"
        "\n"
        f"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD,1\n"
        f"0x{'0' * 40},1\n"
        f"{A},0.1234567,USDC\n"
        f"{A},1,DOGE\n"
        f"{A},-3\n"
        f"{A},1 000\n"
        f"{A}\n"
    )
    assert r.exit_code == 1 and r.valid == ()
    by_line = {e.line: e.error for e in r.errors}
    assert sorted(by_line) == [2, 4, 5, 6, 7, 8, 9, 10]
    assert "exponent" in by_line[2]
    assert "checksum (EIP-55)" in by_line[4]
    assert "zero address" in by_line[5]
    assert "USDC has 6 decimals" in by_line[6]
    assert "unknown token" in by_line[7] and "CRO, WCRO, USDC, USDT" in by_line[7]
    assert "must be positive" in by_line[8]
    assert "thousands separators" in by_line[9]
    assert by_line[10].startswith("amount: missing")


def test_zero_amount_and_too_many_fields_without_header():
    r = check(f"{A},0\n{A},1,CRO,memo,extra\n")
    assert [e.line for e in r.errors] == [1, 2]
    assert "greater than zero" in r.errors[0].error and "5 fields" in r.errors[1].error


def test_multiline_quoted_memo_keeps_following_line_numbers():
    r = check(f"{A},1,CRO,\"two\nlines\"\n{B},x\n")
    assert r.valid[0].memo == "two\nlines" and r.errors[0].line == 3


def test_duplicates_are_shown_not_errors():
    r = check(f"{A},1\n{B},1\n{A.upper().replace('0X', '0x')},2\n{A},1,USDC\n")
    assert r.exit_code == 0
    assert [(d.recipient, d.token, d.lines) for d in r.duplicates] == [(A_SUM, "CRO", (1, 3))]
    assert r.summary(T)["duplicates"] == [{"recipient": A_SUM, "token": "CRO", "lines": [1, 3]}]


def test_json_array_reads_numbers_exactly_with_lines():
    text = (
        "[\n"
        f'  {{"recipient": "{A}", "amount": 0.123456789012345678}},\n'
        f'  {{"To": "{B}", "Value": "2.5", "currency": "USDT", "memo": 12}},\n'
        f'  {{"address": "{A}", "amount": 1E+2}},\n'
        '  7,\n'
        f'  {{"address": "{A}", "amount": true}},\n'
        f'  {{"address": "{A}", "amount": 100000000000000000000000000000000.000000000000000001}}\n'
        "]\n"
    )
    r = check(text)
    assert r.format == "json" and r.exit_code == 1
    assert [(x.line, x.amount) for x in r.valid] == [
        (2, 123456789012345678), (3, 2_500_000), (7, 10**50 + 1)
    ]
    assert r.valid[1].memo == "12"
    assert [(e.line, e.error.split(":")[0]) for e in r.errors] == [(4, "amount"), (5, "row"), (6, "amount")]
    assert r.summary(T)["totals"] == {"CRO": format_units(123456789012345678 + 10**50 + 1, 18), "USDT": "2.5"}


def test_json_payments_object():
    r = check(json.dumps({"batch": "nov", "payments": [{"to": A, "amount": "1"}]}, indent=1))
    assert r.exit_code == 0 and r.valid[0].line == 4


@pytest.mark.parametrize(
    "data,fragment",
    [
        (b"", "empty"),
        (b" \n\r\n", "empty"),
        (b"recipient,amount\n\n", "no payment rows"),
        (b"[]", "empty"),
        (b'{"payments": []}', "empty"),
        (b'{"rows": []}', "no \"payments\" array"),
        (b"[{\"to\": 1,}]", "not JSON"),
        (b"[{}] trailing", "after the closing"),
        (b"\xff\xfe1\x00", "UTF-16"),
        (b"abc\xff,1\n", "not UTF-8"),
        (b"PK\x03\x04rest", "spreadsheet"),
        (b"just words\nand more\n", "not CSV or JSON"),
        (b"a,b\x00\n", "NUL"),
    ],
)
def test_whole_file_problems_are_line_zero_and_exit_2(data, fragment):
    r = check(data)
    assert r.exit_code == 2 and not r.readable
    assert [e.line for e in r.errors] == [0] and fragment in r.errors[0].error, r.errors
    assert r.summary(T)["valid"] == 0


def test_row_and_size_limits():
    over = "".join(f"{A},1\n" for _ in range(MAX_ROWS + 1))
    r = check(over)
    assert r.exit_code == 2 and r.rows == MAX_ROWS + 1 and "10,000" in r.errors[0].error
    assert check("".join(f"{A},1\n" for _ in range(MAX_ROWS))).exit_code == 0
    big = (f"{A},1,CRO,{'x' * 150}\n" * (MAX_BYTES // 200 + 10)).encode()
    assert len(big) > MAX_BYTES
    r = check(big)
    assert r.exit_code == 2 and "too large" in r.errors[0].error


def test_a_json_named_file_that_is_not_json():
    assert check(f"{A},1\n", filename="pay.json").exit_code == 2
    assert check(f"{A},1\n", filename="pay.csv").exit_code == 0


# ---------------------------------------------------------------- properties
addresses = st.binary(min_size=20, max_size=20).filter(any).map(lambda b: to_checksum("0x" + b.hex()))
rows_strategy = st.lists(
    st.tuples(
        addresses,
        st.sampled_from(["CRO", "USDC", "WCRO", "USDT"]),
        st.integers(min_value=1, max_value=10**30),
        st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=20),
    ),
    min_size=1,
    max_size=40,
)


def _amount_text(units: int, decimals: int, rnd: random.Random) -> str:
    text = format_units(units, decimals)
    return text + rnd.choice(["", "0"]) if "." in text else text + rnd.choice(["", ".0", ".000"])


def _render_csv(rows, rnd: random.Random) -> tuple[str, list[int]]:
    d = rnd.choice([",", ";", "\t"])
    nl = rnd.choice(["\n", "\r\n"])
    header = rnd.random() < 0.5
    names = {"recipient": ["recipient", "Address", "TO"], "amount": ["amount", "Value"], "token": ["token", "Currency", "asset"], "memo": ["memo", "Reference", "NOTE"]}
    order = ["recipient", "amount", "token", "memo"]
    if header:
        rnd.shuffle(order)
    out, lines, line = [], [], 0
    if rnd.random() < 0.3:
        out.append("\ufeff")
    if header:
        out.append(d.join(rnd.choice(names[c]) for c in order) + nl)
        line += 1
    for recipient, symbol, units, memo in rows:
        while rnd.random() < 0.2:
            out.append(rnd.choice(["", "  ", d * 3]) + nl)
            line += 1
        decimals = T.get(symbol).decimals
        cells = {
            "recipient": rnd.choice([recipient, recipient.lower()]),
            "amount": _amount_text(units, decimals, rnd),
            "token": rnd.choice([symbol, symbol.lower()]),
            "memo": '"' + memo.replace('"', '""') + '"',
        }
        pad = rnd.choice(["", " "])
        out.append(d.join(f"{pad}{cells[c]}{pad}" for c in order) + nl)
        line += 1
        lines.append(line)
    return "".join(out), lines


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=rows_strategy, seed=st.integers(0, 2**32))
def test_any_well_formed_csv_reads_back_exactly(rows, seed):
    text, lines = _render_csv(rows, random.Random(seed))
    r = check(text)
    assert r.errors == (), r.errors
    assert [(x.recipient, x.token, x.amount) for x in r.valid] == [(a, s, u) for a, s, u, _ in rows]
    assert [x.memo or "" for x in r.valid] == [m.strip() for *_, m in rows]
    assert [x.line for x in r.valid] == lines
    expected: dict[str, int] = {}
    for _, s, u, _ in rows:
        expected[s] = expected.get(s, 0) + u
    assert r.totals == expected


@settings(max_examples=100, deadline=None)
@given(rows=rows_strategy, numbers=st.booleans(), wrap=st.booleans())
def test_any_json_reads_back_exactly_and_agrees_with_csv(rows, numbers, wrap):
    items = []
    for recipient, symbol, units, memo in rows:
        amount = format_units(units, T.get(symbol).decimals)
        items.append('{"to": "%s", "amount": %s, "token": "%s", "memo": %s}' % (
            recipient, amount if numbers else json.dumps(amount), symbol, json.dumps(memo)))
    body = "[\n" + ",\n".join(items) + "\n]"
    text = '{"payments": ' + body + "}" if wrap else body
    r = check(text)
    assert r.errors == ()
    assert [(x.line, x.recipient, x.token, x.amount) for x in r.valid] == [
        (i + 2, a, s, u) for i, (a, s, u, _) in enumerate(rows)
    ]
    csv_text, _ = _render_csv(rows, random.Random(0))
    assert check(csv_text).totals == r.totals


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=400) | st.text(alphabet="0x5aAeb,;\t\"\n\r 1.-e[]{}:", max_size=300).map(str.encode))
def test_any_bytes_give_an_answer_never_an_exception(data):
    r = check_file(data, T)
    physical = data.replace(b"\r\n", b"\n").count(b"\n") + data.replace(b"\r\n", b"").count(b"\r") + 1
    assert r.exit_code in (0, 1, 2)
    assert all(0 <= e.line <= physical for e in r.errors)
    assert len(r.valid) + len(r.lines_with_errors - {0}) <= max(r.rows, 0) or not r.readable
    assert (r.exit_code == 2) == any(e.line == 0 for e in r.errors)


@settings(max_examples=500)
@given(body=st.binary(min_size=20, max_size=20))
def test_fast_checksum_matches_the_eip55_definition(body):
    from core.keccak import keccak256

    lower = body.hex()
    digest = keccak256(lower.encode()).hex()
    expected = "0x" + "".join(c.upper() if int(digest[i], 16) >= 8 else c for i, c in enumerate(lower))
    assert to_checksum("0x" + lower) == to_checksum("0x" + lower.upper()) == expected


# ---------------------------------------------------------------- M4: hostile files
def _clean(r) -> None:
    """An answer a chat can show: exit code, line-0 errors for whole-file problems, text that encodes as UTF-8,
    and never the catch-all (which would mean the reader itself broke)."""
    assert r.exit_code in (0, 1, 2)
    assert (r.exit_code == 2) == any(e.line == 0 for e in r.errors)
    for e in r.errors:
        e.error.encode("utf-8")  # a lone surrogate here would crash every platform's sender
        assert len(e.error) < 400 and "on our side" not in e.error, e.error


@pytest.mark.parametrize("depth", [1_000, 100_000, 1_000_000])
@pytest.mark.parametrize("shape", ["[{}]", '{"payments": [{"to": {}}]}', '{"x": [], "payments": []}'])
def test_m4_deeply_nested_json_is_a_line_zero_error(shape, depth):
    # The nesting goes where the reader decodes: the array, a row's value, a key before "payments".
    nest = "[" * depth + "]" * depth
    data = shape.replace("{}", nest, 1) if "{}" in shape else shape.replace("[]", nest, 1)
    r = check(data)  # raised RecursionError before
    _clean(r)
    assert r.exit_code == 2 and [e.line for e in r.errors] == [0]
    assert "nested more than" in r.errors[0].error
    unclosed = check("[" * depth)
    assert unclosed.exit_code == 2 and "nested more than" in unclosed.errors[0].error


def _payment(amount: str) -> bytes:
    return ('[{"to": "%s", "amount": %s}]' % (A, amount)).encode()


@pytest.mark.parametrize(
    "data,line,fragment",
    [
        (_payment("9" * 100_000), 1, "too large"),
        (_payment('"%s"' % ("9" * 100_000)), 1, "too large"),
        (_payment("1e999999999"), 1, "exponent"),
        (_payment("-1e-999999999"), 1, "positive"),
        (_payment("NaN"), 1, "not a number"),
        (_payment("Infinity"), 1, "not a number"),
        (_payment("-Infinity"), 1, "positive"),
        (f"{A},NaN\n{A},inf\n".encode(), 1, "not a number"),
        (f"{A},{'9' * 100_000}\n".encode(), 1, "too large"),
        (b"\xef\xbb\xbf", 0, "empty"),
        (b"\xef\xbb\xbf[]", 0, "empty"),
        (b"\xef\xbb\xbf\xef\xbb\xbf" + f"{A},1\n".encode(), 1, "must start with 0x"),
        ("\ufeff[]".encode("utf-32"), 0, "UTF-32"),
        (f"{A},1\n".encode("utf-16-le"), 0, "UTF-16"),
        (b"abc,\xc3\x28\n", 0, "not UTF-8"),
        (b"\xed\xa0\x80,1\n", 0, "not UTF-8"),  # a surrogate encoded as UTF-8
        (b"", 0, "empty"),
        (bytes(range(256)) * 4, 0, "not UTF-8"),
        (b"\x00" * 64, 0, "NUL"),
        (b"\x1f\x8b\x08\x00" + bytes(60), 0, "not UTF-8"),  # gzip
        ('[{"to": "\\ud800", "amount": "1"}]'.encode(), 1, "unpaired"),
        ('[{"to": "%s", "amount": "1", "memo": "\\udfff"}]' % A, 1, "unpaired"),
        ('{"payments": [{"to": "%s", "amount": "1"}], "payments": []}' % A, 0, "second \"payments\""),
        ('{"payments": [{"to": "%s", "amount": "1"}]} trailing' % A, 0, "after the closing }"),
        ('{"%s" 1}' % ("k" * 100_000), 0, "expected :"),
        (b"[" + b'{"to": 1},' * 20_000 + b"{}]", 0, "too many rows"),
    ],
    ids=lambda v: repr(v)[:24] if isinstance(v, (bytes, str)) else str(v),
)
def test_m4_hostile_files_each_get_a_clean_error(data, line, fragment):
    r = check(data)
    _clean(r)
    assert r.errors and r.errors[0].line == line and fragment in r.errors[0].error, r.errors


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(['[', ']', '{', '}', '"', ':', ',', ' ', '\n', '"to"', '"amount"', '"payments"',
                                 '1', '-', 'e9', '.5', 'NaN', 'null', 'true', '"\\ud800"', '"\\\\"', A, '"%s"' % A,
                                 '[' * 50, '{"a":' * 20]), max_size=120))
def test_m4_fuzzed_json_structure_never_raises(parts):
    _clean(check("".join(parts)))
    _clean(check("[" + "".join(parts)))
    _clean(check('{"payments": [' + "".join(parts)))


@pytest.mark.parametrize("data", [b"[" * 200_000, b'[{"to": "\\ud800", "amount": "1"}]', "\ufeff".encode("utf-32")])
def test_m4_bulk_check_cli_keeps_its_contract_on_hostile_files(tmp_path, capsys, data):
    from bot.bulk_cli import check as cli_check
    from bot.settings import Settings

    f = tmp_path / "hostile.json"
    f.write_bytes(data)
    code = cli_check(f, Settings(_env_file=None), as_json=True)  # printing itself must not fail either
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"rows", "valid", "errors", "duplicates", "totals"}
    assert code == (1 if b"ud800" in data else 2) and out["errors"][0]["line"] == (1 if code == 1 else 0)
