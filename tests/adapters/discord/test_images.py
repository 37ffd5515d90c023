"""Images in replies show inline on Discord: it decides by the file's name, so an image's name ends like one."""

from adapters.discord.render import files, parts
from core.replies import Attachment, Reply

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 8


def test_an_image_keeps_or_gets_the_ending_discord_shows_inline_and_other_files_keep_their_names():
    sent = files((Attachment("pay-qr.png", PNG, "image/png"), Attachment("qr", PNG, "image/png"),
                  Attachment("photo.JPEG", b"\xff\xd8\xff", "image/jpeg"), Attachment("ledger.csv", b"a,b\n")))
    assert [f.filename for f in sent] == ["pay-qr.png", "qr.png", "photo.JPEG", "ledger.csv"]
    assert sent[0].fp.read() == PNG


def test_the_qr_travels_on_the_last_message_of_a_reply():
    reply = Reply.of("x" * 1500, "y" * 1500, files=(Attachment("pay-qr.png", PNG, "image/png"),))
    sent = parts(reply)
    assert len(sent) == 2 and sent[0].attachments == () and [f.filename for f in sent[1].extras()["files"]] == ["pay-qr.png"]
