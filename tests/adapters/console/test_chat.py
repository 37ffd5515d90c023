"""The console adapter: a piped session answers every line, buttons read as commands, files are saved."""

import io

from adapters.console import ConsoleChat, render
from core.replies import Attachment, Button, Reply


def test_render_saves_files_under_the_directory_only(tmp_path):
    reply = Reply.of("done", buttons=(Button("Execute", "/bulk execute b-1"),),
                     files=(Attachment("../../evil/report.csv", b"line,status\n"),))
    text = render(reply, tmp_path)
    assert "[Execute] type: /bulk execute b-1" in text
    assert (tmp_path / "report.csv").read_bytes() == b"line,status\n"
    assert f"file saved: {tmp_path / 'report.csv'}" in text


async def test_piped_session_answers_every_command_line():
    seen = []

    async def handle(text, actor, key):
        seen.append((text, key))
        return Reply.of(f"echo {text}")

    out = io.StringIO()
    chat = ConsoleChat(handle, inp=io.StringIO("/help\n\n# a comment\n/wallet\n"), out=out)
    await chat.run()
    assert [t for t, _ in seen] == ["/help", "/wallet"]
    assert len({k for _, k in seen}) == 2  # each line has its own idempotency key
    assert "> /help\necho /help" in out.getvalue()
