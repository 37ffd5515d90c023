"""/bulk on Telegram: a CSV document with the caption /bulk, its preview buttons, bad rows, the report."""

from __future__ import annotations

import csv
import io

import pytest

from adapters.telegram.frontend import NOT_YOURS
from tests.e2e.telegram.conftest import MEMBER, OPERATOR, STRANGER
from tests.e2e.telegram.fake_bot_api import group

RECIPIENT = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"
OTHER = "0x00000000000000000000000000000000000000aa"
THIRD = "0x00000000000000000000000000000000000000bb"
GROUP = group(-1009077, "Bulk payouts")
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after:DeprecationWarning")


@pytest.fixture
async def bulk_ready(telegram):
    async with telegram.core.uow() as uow:
        wired = hasattr(uow, "batches")
    if not wired:
        pytest.skip("the bootstrap's unit of work has no bulk repositories yet (core bulk is not wired in)")


async def answer_to(api, update) -> dict:
    qid = update["callback_query"]["id"]
    return (await api.wait_for(lambda c: c.method == "answerCallbackQuery" and c.params.get("callback_query_id") == qid)).params


async def test_preview_buttons_refuse_a_stranger_and_execute_for_the_uploader(api, telegram, bulk_ready):
    rows = f"recipient,amount\n{RECIPIENT},1\n{THIRD},2.5\n{OTHER},0.125\n".encode()
    preview = await api.reply_to(await api.upload(OPERATOR, GROUP, "payroll.csv", rows))
    assert "3" in preview.text and "3.625" in preview.text
    labels = [b["text"] for b in preview.buttons()]
    assert "Execute" in labels and "Cancel" in labels

    api.started.add(STRANGER.id)
    assert (await answer_to(api, await api.press(STRANGER, preview, "Execute")))["text"] == NOT_YOURS
    assert (await answer_to(api, await api.press(MEMBER, preview, "Cancel")))["text"] == NOT_YOURS

    before = len(api.calls)
    await answer_to(api, await api.press(OPERATOR, preview, "Execute"))
    started = await api.wait_for(lambda c: c.method == "editMessageText" and c.params["message_id"] == preview.result["message_id"], after=before)
    assert "Executing" in started.text
    report = await api.wait_for(lambda c: c.method == "sendDocument" and c.chat_id == OPERATOR.id, timeout=60, after=before)
    content = report.params["document"]["content"].decode()
    table = list(csv.DictReader(io.StringIO(content)))
    assert len(table) == 3 and all(r["tx_hash"].startswith("0x") for r in table)


async def test_a_file_with_a_bad_row_is_refused_with_its_line_and_no_button(api, telegram, bulk_ready):
    rows = f"recipient,amount\n{RECIPIENT},1\n0x1234,2\n".encode()
    refused = await api.reply_to(await api.upload(OPERATOR, OPERATOR.dm, "bad.csv", rows))
    assert "line 3" in refused.text
    assert not refused.buttons()


async def test_a_warning_step_needs_a_second_press_which_is_not_a_replay(api, telegram, bulk_ready):
    rows = f"recipient,amount\n{RECIPIENT},1\n{RECIPIENT},1\n".encode()  # a duplicate: Execute asks once more
    preview = await api.reply_to(await api.upload(OPERATOR, OPERATOR.dm, "twice.csv", rows))
    before = len(api.calls)
    await answer_to(api, await api.press(OPERATOR, preview, "Execute"))
    warning = await api.wait_for(lambda c: c.method == "editMessageText", after=before)
    assert "confirm" in warning.text.lower()
    before = len(api.calls)
    await answer_to(api, await api.press(OPERATOR, warning, "Execute anyway"))
    started = await api.wait_for(lambda c: c.method == "editMessageText", after=before)
    assert "Executing" in started.text
