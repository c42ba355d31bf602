"""The CSV import parser, without a database: records across chunks, the fast address path."""

from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from api_gateway.csv_import import CsvImportParser, CsvRecordSplitter, fast_normalize_email
from shared.addresses import InvalidAddress
from shared.errors import Invalid

pytestmark = pytest.mark.unit

AWKWARD = (
    '\ufeffEmail;Name;Notes\r\n'
    '\r\n'
    'a@example.com;"Smith; Ann";"multi\r\nline ""quoted"""\r\n'
    'b@example.com;Bob;\r\n'
    'bad;Eve;x\r\n'
    'c@example.com;"Carol\nLine";;\n'
)  # fmt: skip


def parse_in_chunks(data: bytes, size: int) -> tuple[list[tuple], CsvImportParser]:
    splitter, parser, rows = CsvRecordSplitter(), CsvImportParser(b"k" * 32), []
    for start in range(0, len(data), size):
        rows.extend(parser.parse(splitter.feed(data[start : start + size])))
    rows.extend(parser.parse(splitter.finish()))
    return rows, parser


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64, 10_000])
def test_any_chunking_gives_the_same_rows_and_line_numbers(size):
    rows, parser = parse_in_chunks(AWKWARD.encode(), size)
    assert [(r[0], r[2]) for r in rows] == [
        (3, "a@example.com"),
        (5, "b@example.com"),
        (7, "c@example.com"),
    ]
    assert [name for _, name in parser.header.attribute_positions] == ["name", "notes"]
    assert rows[0][9] == ["Smith; Ann", 'multi\r\nline "quoted"']
    assert [(e.line, e.reason.split(":")[0]) for e in parser.tally.errors] == [(6, "invalid email address")]


def test_a_utf8_character_split_across_chunks_survives():
    data = "email,first_name\nz@example.com,Zoë Ångström\n".encode()
    rows, _ = parse_in_chunks(data, 1)
    assert rows[0][4] == "Zoë Ångström"


def test_invalid_utf8_is_a_file_level_error():
    with pytest.raises(Invalid, match="not UTF-8"):
        parse_in_chunks(b"email\n\xc3\x28@example.com\n", 4)


def test_a_runaway_quote_does_not_hold_the_whole_file():
    splitter = CsvRecordSplitter()
    splitter.feed(b'email,notes\na@example.com,"never closed\n')
    released = splitter.feed(b"x@example.com,y\n" * 80_000)
    assert released, "past the pending limit the splitter hands text to the parser"


# -- the fast address path agrees with email-validator ---------------------------

atom = st.text(alphabet=st.sampled_from("abcXYZ019!#$%&'*+/=?^_`{|}~-"), min_size=1, max_size=12)
label = st.from_regex(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,8}[A-Za-z0-9])?", fullmatch=True)
address = st.builds(
    lambda local, labels, tld: f"{local}@{'.'.join([*labels, tld])}",
    st.lists(atom, min_size=1, max_size=3).map(".".join),
    st.lists(label, min_size=1, max_size=3),
    st.sampled_from(["com", "ORG", "io", "local", "test", "invalid", "example", "co", "Museum"]),
)


def assert_same_as_email_validator(raw: str) -> None:
    try:
        valid = validate_email(raw, check_deliverability=False, allow_smtputf8=True)
        expected: str | None = f"{valid.local_part}@{valid.ascii_domain}"
    except EmailNotValidError:
        expected = None
    try:
        got: str | None = fast_normalize_email(raw)
    except InvalidAddress:
        got = None
    assert got == expected


@settings(max_examples=1000, deadline=None)
@given(address)
def test_the_fast_path_normalises_exactly_as_email_validator(raw):
    assert_same_as_email_validator(raw)


# Found by the property above: IDNA's hyphen rules ("--" in positions 3-4).
@pytest.mark.parametrize("raw", ["0@00--0.com", "a@xn--bcher-kva.example", "a@ab--cd.org", "a@b-c.io"])
def test_hyphen_rules_of_idna_agree_with_email_validator(raw):
    assert_same_as_email_validator(raw)


def test_a_nul_character_rejects_its_row_with_the_line_and_the_header_as_a_whole():
    rows, parser = parse_in_chunks(b"email,first_name\na@example.com,Ann\nb@example.com,B\x00b\n", 64)
    assert [r[2] for r in rows] == ["a@example.com"]
    assert [(e.line, e.reason) for e in parser.tally.errors] == [(3, "contains the NUL character (U+0000)")]
    with pytest.raises(Invalid, match="NUL"):
        parse_in_chunks(b"email,no\x00te\na@example.com,x\n", 64)
