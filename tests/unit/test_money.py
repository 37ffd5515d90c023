"""Amounts: text -> base units exactly, and back."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import UsageError
from core.money import UINT256_MAX, Token, format_units, parse_units

CRO = Token("CRO", 18, native=True)
USDC = Token("USDC", 6, "0x" + "05" * 20)


@pytest.mark.parametrize(
    "text,token,units",
    [
        ("1", CRO, 10**18),
        ("0.5", CRO, 5 * 10**17),
        (".5", USDC, 500_000),
        ("25.", USDC, 25_000_000),
        ("0.000001", USDC, 1),
        ("1.500000", USDC, 1_500_000),
        ("0.123456789012345678", CRO, 123456789012345678),
        ("  7  ", USDC, 7_000_000),
    ],
)
def test_parses_exactly(text, token, units):
    assert parse_units(text, token) == units


@pytest.mark.parametrize(
    "text,field,fragment",
    [
        ("0", "amount", "greater than zero"),
        ("0.000", "amount", "greater than zero"),
        ("-1", "amount", "positive"),
        ("1e6", "amount", "exponent"),
        ("1E-3", "amount", "exponent"),
        ("1,000", "amount", "thousands separators"),
        ("1_000", "amount", "thousands separators"),
        ("1.000.000", "amount", "thousands separators"),
        ("1,5", "amount", "comma"),
        ("1.1234567", "decimals", "6 decimals"),
        ("abc", "amount", "not a number"),
        ("1.2.3", "amount", "not a number"),
        ("NaN", "amount", "not a number"),
        ("Infinity", "amount", "not a number"),
        ("١٢", "amount", "not a number"),
        ("", "amount", "missing"),
        (str(UINT256_MAX + 1), "amount", "too large"),
        ("9" * 200, "amount", "too large"),
    ],
)
def test_rejects_with_a_named_field(text, field, fragment):
    with pytest.raises(UsageError) as e:
        parse_units(text, USDC)
    assert e.value.field == field
    assert fragment in e.value.message


def test_uint256_max_is_accepted():
    assert parse_units(str(UINT256_MAX), Token("RAW", 0)) == UINT256_MAX


@given(units=st.integers(min_value=1, max_value=UINT256_MAX), decimals=st.sampled_from([0, 6, 8, 18]))
def test_format_then_parse_round_trips(units, decimals):
    token = Token("T", decimals)
    assert parse_units(format_units(units, decimals), token) == units


@given(st.text(max_size=60))
def test_arbitrary_text_raises_only_usage_error(text):
    try:
        assert parse_units(text, CRO) > 0
    except UsageError:
        pass


def test_format_units():
    assert format_units(1_500_000, 6) == "1.5"
    assert format_units(10**18, 18) == "1"
    assert format_units(1, 18) == "0.000000000000000001"
