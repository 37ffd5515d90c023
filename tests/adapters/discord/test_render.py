"""Reply -> Discord text: escaping, code spans, links, 2,000-character messages."""

from adapters.discord.render import LIMIT, escape, render, split, text_of
from core.replies import Reply, bold, code, link


def test_everyone_and_markdown_in_user_text_are_neutralised():
    out = text_of(Reply.of("hi @everyone and @here **bold** <@123456789012345678> `x`"))
    assert "@everyone" not in out and "@here" not in out and "<@123456789012345678>" not in out
    assert "**bold**" not in out and "\\*\\*bold\\*\\*" in out


def test_spans_become_bold_code_and_masked_links():
    out = text_of(Reply.of(("Paid ", bold("1.5 CRO"), " tx ", code("0xabc"), " ", link("explorer", "https://x.test/tx/1"))))
    assert out == "Paid **1.5 CRO** tx `0xabc` [explorer](<https://x.test/tx/1>)"
    assert text_of(Reply.of(link("odd", "javascript:alert(1)"))) == "odd (javascript:alert(1))"  # shown, never a link


def test_code_keeps_backticks_and_newlines_safe():
    assert text_of(Reply.of(code("a`b"))) == "`` a`b ``"
    block = text_of(Reply.of(code("line one\nline two ```")))
    assert block.startswith("```\n") and block.endswith("\n```") and block.count("```") == 2
    assert "@everyone" not in text_of(Reply.of(code("@everyone")))


def test_long_replies_split_on_lines_within_the_limit():
    reply = Reply.of(*[f"line {i} " + "x" * 90 for i in range(60)])
    parts = render(reply).texts
    assert len(parts) > 1 and all(len(p) <= LIMIT for p in parts)
    assert "\n".join(parts) == text_of(reply)
    assert all(len(p) <= LIMIT for p in split("y" * 4500))


def test_private_flag_and_empty_reply():
    assert render(Reply.of("secret", private=True)).private
    assert render(Reply(())).texts == ("\u200b",)
    assert escape("_a_") == "\\_a\\_"
