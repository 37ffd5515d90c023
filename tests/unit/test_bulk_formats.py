"""The files people already have: Safe CSV Airdrop, Disperse-style lists (as .txt or pasted after /bulk), Excel
.xlsx, and @handles or mentions as recipients; each format with its refusals, each refusal on its line."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from core.addresses import to_checksum
from core.bulk.file import check_file
from core.bulk.xlsxfile import _exact
from core.commands import Actor, Bulk, BulkUpload
from core.money import Token, TokenRegistry
from core.parsing import parse

A = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"
B = "0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359"
A_SUM, B_SUM = to_checksum(A), to_checksum(B)
USDC = "0xc21223249CA28397B4B6541dfFaEcC539BfF0c59"
T = TokenRegistry([Token("CRO", 18, native=True), Token("USDC", 6, USDC), Token("USDT", 6, "0x" + "66" * 20)])
ME = Actor("telegram", "1", "Tess", "tess")


def check(text: str | bytes, filename: str | None = None, **kw):
    return check_file(text.encode() if isinstance(text, str) else text, T, filename=filename, **kw)


def rows(r):
    return [(x.line, x.recipient, x.token, x.amount) for x in r.valid]


def errors(r):
    return [(e.line, e.error) for e in r.errors]


# ---------------------------------------------------------------- Safe CSV Airdrop
def test_safe_airdrop_native_and_erc20_by_address_in_any_case():
    r = check(
        "token_type,token_address,receiver,amount,id\n"
        f"erc20,{USDC.lower()},{A},12.5,\n"
        f"native,,{B},1\n"  # trailing empty columns missing
        f",,{A},2\n"  # no type and no address: native
        f"erc20,{USDC.upper().replace('0X', '0x')},{B},0.25\n"
    )
    assert r.exit_code == 0, r.errors
    assert r.format == "csv" and r.header
    assert rows(r) == [(2, A_SUM, "USDC", 12_500_000), (3, B_SUM, "CRO", 10**18), (4, A_SUM, "CRO", 2 * 10**18),
                       (5, B_SUM, "USDC", 250_000)]


def test_safe_airdrop_value_column_names_the_amount():
    r = check(f"token_type,token_address,receiver,value\nnative,,{A},3\n")
    assert r.exit_code == 0 and rows(r) == [(2, A_SUM, "CRO", 3 * 10**18)]


def test_safe_airdrop_refusals_each_on_its_line_and_the_rest_checked():
    unknown = "0x" + "12" * 20
    r = check(
        "token_type,token_address,receiver,amount,id\n"
        f"erc721,{USDC},{A},,7\n"
        f"nft,{USDC},{A},,8\n"
        f"erc1155,{USDC},{A},1,9\n"
        f"bond,,{A},1\n"
        f"erc20,{unknown},{A},1\n"
        f"native,,{B},4\n"
    )
    assert r.exit_code == 1
    got = dict(errors(r))
    for line in (2, 3, 4):
        assert "NFT transfers are not supported" in got[line]
    assert "unknown type “bond”" in got[5] and "native or erc20" in got[5]
    assert unknown in got[6] and "unknown token" in got[6]
    assert rows(r) == [(7, B_SUM, "CRO", 4 * 10**18)]  # the rest of the file is checked as usual


def test_safe_airdrop_with_both_amount_and_value_is_refused_naming_the_header_line():
    r = check(f"token_type,token_address,receiver,amount,value\nnative,,{A},1,1\n")
    assert r.exit_code == 2 and r.errors[0].line == 0
    assert "header (line 1)" in r.errors[0].error and "amount" in r.errors[0].error and "value" in r.errors[0].error


def test_safe_airdrop_without_a_chain_registry_names_the_address():
    r = check_file(f"token_type,token_address,receiver,amount\nerc20,{USDC},{A},1\n".encode(), TokenRegistry.standard())
    assert r.exit_code == 1 and USDC in r.errors[0].error and r.errors[0].line == 2


# ---------------------------------------------------------------- Disperse-style lists
@pytest.mark.parametrize("sep", [" ", ",", "=", " = ", "\t", ", "])
def test_disperse_list_separators(sep):
    r = check(f"{A}{sep}1.5\n\n{B}{sep}2\n", filename="list.txt")
    assert r.exit_code == 0, r.errors
    assert rows(r) == [(1, A_SUM, "CRO", 15 * 10**17), (3, B_SUM, "CRO", 2 * 10**18)]


def test_disperse_list_without_txt_name_when_no_csv_delimiter():
    r = check(f"{A} 1\n{B}=2\r\n", filename="payouts.csv")
    assert r.format == "list" and r.exit_code == 0 and len(r.valid) == 2


def test_disperse_list_optional_token_word():
    r = check(f"{A} 1 USDC\n{B} 2 usdt\n", filename="l.txt")
    assert r.exit_code == 0 and [x.token for x in r.valid] == ["USDC", "USDT"]


def test_disperse_list_stray_words_are_errors_on_their_line():
    r = check(f"{A} 1\nthanks\n{B} 2 ok\nplease {A} 3\n{A} ten 3\n{B} 1\n", filename="pasted.txt")
    assert r.exit_code == 1
    got = dict(errors(r))
    assert set(got) == {2, 3, 4, 5}
    assert "“thanks”" in got[2]
    assert "stray word “ok” after the amount" in got[3]
    assert "stray word “please” before the address" in got[4]
    assert "stray word “ten”" in got[5]
    assert [x.line for x in r.valid] == [1, 6]


def test_a_csv_saved_as_txt_with_a_header_is_still_csv():
    r = check(f"recipient,amount,token\n{A},1,USDC\n", filename="x.txt")
    assert r.format == "csv" and r.exit_code == 0


# ---------------------------------------------------------------- pasted after /bulk
def test_pasted_list_after_bulk_is_the_same_upload_as_a_txt_file():
    text = f"/bulk\n{A} 1.5\n{B}=2\n"
    cmd = parse(text, actor=ME, key="k1")
    assert isinstance(cmd, BulkUpload) and cmd.action == "upload" and cmd.filename == "pasted.txt"
    pasted = check(cmd.data, cmd.filename)
    as_file = check(f"{A} 1.5\n{B}=2\n", "pasted.txt")
    assert rows(pasted) == rows(as_file) and pasted.format == "list" and pasted.exit_code == 0


def test_pasted_list_on_the_first_line_and_with_a_bot_name():
    cmd = parse(f"/bulk@snowrail_bot {A} 1\n{B} 2", actor=ME, key="k2")
    assert isinstance(cmd, BulkUpload) and len(check(cmd.data, cmd.filename).valid) == 2


def test_plain_bulk_actions_keep_working():
    status = parse("/bulk status bulk-abc", actor=ME, key="k3")
    assert type(status) is Bulk and status.action == "status" and status.batch_id == "bulk-abc"
    upload = parse("/bulk upload pay.csv", actor=ME, key="k4")
    assert type(upload) is Bulk and upload.path == "pay.csv"


def test_pasted_stray_word_names_its_line():
    cmd = parse(f"/bulk\n{A} 1\nhello there\n", actor=ME, key="k5")
    r = check(cmd.data, cmd.filename)
    # "hello" may be a saved payee's name (resolved at upload), so the line is refused for its amount, "there".
    assert r.exit_code == 1 and r.errors[0].line == 2 and "amount: there is not a number" in r.errors[0].error


# ---------------------------------------------------------------- Excel
def xlsx(build) -> bytes:
    wb = Workbook()
    build(wb.active, wb)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def patched(data: bytes, part: str, change) -> bytes:
    """The same .xlsx with one XML part rewritten (to write what openpyxl cannot: cached values, odd floats)."""
    src, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            body = src.read(item.filename)
            dst.writestr(item, change(body) if item.filename == part else body)
    return out.getvalue()


def test_xlsx_first_sheet_with_header_and_the_sheets_row_numbers():
    def build(ws, wb):
        ws.append(["Recipient", "Amount", "Token", "Memo"])
        ws.append([A, 1.5, "USDC", "first"])
        ws.append([])
        ws.append([B, 7, None, date(2026, 11, 1)])  # a date is fine as a memo
        wb.create_sheet("other").append([A, 99])

    r = check(xlsx(build), "pay.xlsx")
    assert r.format == "xlsx" and r.exit_code == 0, r.errors
    assert [(x.line, x.token, x.amount, x.memo) for x in r.valid] == [(2, "USDC", 1_500_000, "first"),
                                                                       (4, "CRO", 7 * 10**18, "2026-11-01")]


def test_xlsx_without_header_and_safe_columns():
    r = check(xlsx(lambda ws, wb: [ws.append([A, 2]), ws.append([B, 3, "USDC"])]))
    assert r.exit_code == 0 and rows(r) == [(1, A_SUM, "CRO", 2 * 10**18), (2, B_SUM, "USDC", 3_000_000)]
    r = check(xlsx(lambda ws, wb: [ws.append(["token_type", "token_address", "receiver", "value"]),
                                   ws.append(["erc20", USDC, A, 5]), ws.append(["erc721", USDC, B, 1])]))
    assert rows(r) == [(2, A_SUM, "USDC", 5_000_000)] and "NFT transfers are not supported" in dict(errors(r))[3]


def test_xlsx_formulas_use_their_cached_values():
    def build(ws, wb):
        ws.append(["recipient", "amount"])
        ws.append([A, "=1+1"])

    data = patched(xlsx(build), "xl/worksheets/sheet1.xml",
                   lambda b: re.sub(rb'<c r="B2"[^>]*><f>1\+1</f><v\s*/?>(</v>)?</c>', b'<c r="B2"><f>1+1</f><v>2.5</v></c>', b))
    assert b"<v>2.5</v>" in zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")
    r = check(data)
    assert r.exit_code == 0 and rows(r) == [(2, A_SUM, "CRO", 25 * 10**17)]


def test_xlsx_float_cells_only_when_exact():
    assert _exact(0.1) == ("0.1", None) and _exact(1.5) == ("1.5", None) and _exact(25.0) == ("25", None)
    assert _exact(0.30000000000000004)[1] is not None and _exact(2.0**60)[1] is not None

    def build(ws, wb):
        ws.append(["recipient", "amount"])
        ws.append([A, 0.25])
        ws.append([B, 0.5])

    data = patched(xlsx(build), "xl/worksheets/sheet1.xml", lambda b: b.replace(b"<v>0.5</v>", b"<v>0.30000000000000004</v>"))
    r = check(data)
    assert rows(r) == [(2, A_SUM, "CRO", 25 * 10**16)]
    assert r.errors[0].line == 3 and "0.30000000000000004" in r.errors[0].error and "not exact" in r.errors[0].error


def test_xlsx_dates_where_amounts_belong_are_refused_on_their_row():
    r = check(xlsx(lambda ws, wb: [ws.append(["recipient", "amount"]), ws.append([A, datetime(2026, 1, 5)]),
                                   ws.append([B, 1])]))
    assert r.exit_code == 1 and r.errors[0].line == 2 and "2026-01-05 is a date" in r.errors[0].error
    assert "column B" in r.errors[0].error and rows(r) == [(3, B_SUM, "CRO", 10**18)]


def test_xlsx_with_no_rows_is_refused():
    r = check(xlsx(lambda ws, wb: ws.append(["recipient", "amount"])))
    assert r.exit_code == 2 and "no payment rows" in r.errors[0].error
    r = check(xlsx(lambda ws, wb: None))
    assert r.exit_code == 2 and "no payment rows" in r.errors[0].error


def test_xlsx_with_hidden_sheets_only_is_refused():
    data = xlsx(lambda ws, wb: [ws.append([A, 1]), wb.create_sheet("two")])
    data = patched(data, "xl/workbook.xml", lambda b: b.replace(b'state="visible"', b'state="hidden"'))
    r = check(data)
    assert r.exit_code == 2 and "every sheet is hidden" in r.errors[0].error


def test_xlsx_first_visible_sheet_is_read():
    data = xlsx(lambda ws, wb: [ws.append([A, 1]), wb.create_sheet("two").append([B, 2])])
    data = patched(data, "xl/workbook.xml", lambda b: b.replace(b'state="visible"', b'state="hidden"', 1))
    r = check(data)
    assert rows(r) == [(1, B_SUM, "CRO", 2 * 10**18)]


def test_xlsx_merged_header_cells_are_refused():
    def build(ws, wb):
        ws.append(["Recipient and amount", None])
        ws.merge_cells("A1:B1")
        ws.append([A, 1])

    r = check(xlsx(build))
    assert r.exit_code == 2 and "merged cells" in r.errors[0].error and "row 1" in r.errors[0].error


def test_a_broken_xlsx_is_refused_not_a_crash():
    r = check(b"PK\x03\x04" + b"\x00" * 100)
    assert r.exit_code == 2 and "spreadsheet" in r.errors[0].error


# ---------------------------------------------------------------- people and limits
def test_handles_and_mentions_are_accepted_by_form_and_listed():
    r = check(f"recipient,amount\n@Alice,1\n<@1234>,2\n<@!99>,3\n{A},4\n@,5\n<@abc>,6\n")
    assert [(x.line, x.recipient) for x in r.valid] == [(2, "@alice"), (3, "discord:1234"), (4, "discord:99"), (5, A_SUM)]
    assert r.people == (2, 3, 4)
    assert [e.line for e in r.errors] == [6, 7] and "@handle" in r.errors[0].error


def test_max_rows_is_the_callers():
    text = "".join(f"{A},1\n" for _ in range(6))
    assert check(text, max_rows=5).exit_code == 2 and "the limit is 5 per file" in check(text, max_rows=5).errors[0].error
    assert check(text, max_rows=6).exit_code == 0


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.sampled_from(list(" \t\n\r,=;@<>!0xXaAfF19.-_\"USDC")), max_size=300),
       st.sampled_from(["pasted.txt", "pay.csv", None]))
def test_any_list_like_text_gets_an_answer_never_an_exception(text, name):
    r = check(text, name)
    assert r.exit_code in (0, 1, 2)
    assert all(e.line >= 0 and e.error for e in r.errors)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_that_look_like_a_zip_get_an_answer(tail):
    r = check(b"PK\x03\x04" + tail)
    assert r.exit_code == 2 and r.errors[0].line == 0
