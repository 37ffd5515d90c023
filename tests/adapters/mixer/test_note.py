"""Mixer notes: round trip, errors that name the wrong part, and secrets that never show in repr or errors."""

from __future__ import annotations

import pytest

from adapters.mixer.note import KEY_HEX, Note, NoteError, contains_note, parse_note
from adapters.mixer.poseidon import poseidon


def test_round_trip_and_hashes():
    note = Note.generate("CRO", "0.10", 25)
    assert note.text.startswith("snowrail-cro-0.1-25-0x")
    assert len(note.text.rsplit("-", 1)[1]) == 2 + KEY_HEX
    again = parse_note("  " + note.text + "\n")
    assert again == note
    assert again.commitment == poseidon(note.nullifier, note.secret)
    assert again.nullifier_hash == poseidon(note.nullifier)
    assert Note.generate("cro", "1", 25).nullifier != Note.generate("cro", "1", 25).nullifier


def test_repr_and_str_hold_no_secret():
    note = Note.generate("cro", "100", 338)
    key = note.text.rsplit("-", 1)[1][2:]
    for shown in (repr(note), str(note), f"{note}", str([note])):
        assert key[:16] not in shown and key[-16:] not in shown
        assert str(note.nullifier) not in shown and str(note.secret) not in shown


@pytest.mark.parametrize(
    ("text", "part"),
    [
        ("tornado-eth-0.1-1-0x00", "prefix"),
        ("snowrail-cro-0.1-25", "format"),
        ("snowrail-cro-0.1-25-0xab-cd", "format"),
        ("snowrail-c$o-0.1-25-0x" + "ab" * 62, "token"),
        ("snowrail-cro-zero-25-0x" + "ab" * 62, "amount"),
        ("snowrail-cro-0-25-0x" + "ab" * 62, "amount"),
        ("snowrail-cro-0.1-mainnet-0x" + "ab" * 62, "chainId"),
        ("snowrail-cro-0.1-025-0x" + "ab" * 62, "chainId"),
        ("snowrail-cro-0.1-25-" + "ab" * 62, "key"),
        ("snowrail-cro-0.1-25-0x" + "ab" * 61, "key"),
        ("snowrail-cro-0.1-25-0x" + "zz" * 62, "key"),
        ("snowrail-cro-0.1-25-0x" + "00" * 31 + "ab" * 31, "key"),
    ],
)
def test_errors_name_the_wrong_part(text, part):
    with pytest.raises(NoteError) as e:
        parse_note(text)
    assert e.value.part == part
    assert e.value.message.startswith(f"note {part}:")
    assert "ab" * 8 not in e.value.message and "zz" * 8 not in e.value.message


def test_notes_are_spotted_in_text():
    note = Note.generate("cro", "1", 25)
    assert contains_note(f"here you go {note.text} thanks")
    assert contains_note(note.text[:-20])  # most of one is still exposed
    assert not contains_note("snowrail is great, /mix 0.1")
