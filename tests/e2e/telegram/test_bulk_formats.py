"""/bulk on Telegram with the files people already have: an .xlsx document, and a list pasted after /bulk."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook

from tests.e2e.telegram.conftest import OPERATOR

RECIPIENT = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"
OTHER = "0x00000000000000000000000000000000000000aa"
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after:DeprecationWarning")


async def test_an_xlsx_document_is_previewed_with_the_sheets_rows(api, telegram):
    wb = Workbook()
    wb.active.append(["Recipient", "Amount"])
    wb.active.append([RECIPIENT, 1.25])
    wb.active.append([OTHER, 2])
    data = io.BytesIO()
    wb.save(data)
    preview = await api.reply_to(await api.upload(OPERATOR, OPERATOR.dm, "payroll.xlsx", data.getvalue()))
    assert "payroll.xlsx" in preview.text and "XLSX" in preview.text and "3.25" in preview.text
    assert "Execute" in [b["text"] for b in preview.buttons()]


async def test_a_list_pasted_after_bulk_is_previewed_and_a_stray_word_names_its_line(api, telegram):
    preview = await api.ask(OPERATOR, OPERATOR.dm, f"/bulk\n{RECIPIENT} 1.5\n{OTHER}=2")
    assert "pasted.txt" in preview.text and "3.5" in preview.text
    assert "Execute" in [b["text"] for b in preview.buttons()]
    refused = await api.ask(OPERATOR, OPERATOR.dm, f"/bulk\n{RECIPIENT} 1\nthanks\n")
    assert "line 2" in refused.text and "thanks" in refused.text and not refused.buttons()
