"""CSV import: the pure part. Bytes in (in chunks), validated staging rows out.

No I/O here: the HTTP view feeds the request body chunk by chunk, the store
COPYs the rows. Memory stays bounded by a chunk plus one record.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from email_validator import SPECIAL_USE_DOMAIN_NAMES

from shared.address_checks import flags_of
from shared.addresses import MAX_ADDRESS_LENGTH, InvalidAddress, email_hash, normalize_email
from shared.audience import MAX_TAGS, TAG_SEPARATORS, normalize_tag
from shared.errors import Invalid
from shared.ids import uuid7_strings
from shared.schedule import is_zone_name

MAX_REPORTED_ERRORS = 100
# A record longer than this is not waited for: the parser gets what there is.
MAX_PENDING_CHARS = 1024**2
FIELD_LIMITS = {"first_name": 200, "last_name": 200, "company": 300, "title": 300, "timezone": 64}
MAX_ATTRIBUTE_CHARS = 2000
MAX_ATTRIBUTE_KEY_CHARS = 100
MAX_TAG_CELLS = 10_000  # distinct tag cells remembered by a parser (memory stays bounded)
COLUMN_ALIASES = {
    "email": "email", "e-mail": "email", "email address": "email", "email_address": "email",
    "first_name": "first_name", "first name": "first_name", "firstname": "first_name",
    "given name": "first_name", "last_name": "last_name", "last name": "last_name",
    "lastname": "last_name", "surname": "last_name", "family name": "last_name",
    "company": "company", "company name": "company", "organization": "company",
    "organisation": "company", "title": "title", "job title": "title", "job_title": "title",
    "tags": "tags", "tag": "tags", "labels": "tags", "timezone": "timezone", "time zone": "timezone",
    "tz": "timezone",
}  # fmt: skip
FIELDS = ("email", "first_name", "last_name", "company", "title", "timezone")

# Plain ASCII addresses (the vast majority) are checked here; anything else goes
# to email-validator. Every address this accepts, email-validator accepts with
# the same normalisation (tests/unit/test_csv_import.py checks that property).
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PLAIN_ADDRESS = re.compile(rf"^({_ATOM}(?:\.{_ATOM})*)@((?:{_LABEL}\.)+[A-Za-z]{{2,63}})$")
# email-validator refuses these (all single labels): the fast path leaves them to it.
_SPECIAL_USE = frozenset(SPECIAL_USE_DOMAIN_NAMES)
assert all("." not in name for name in _SPECIAL_USE)


def fast_normalize_email(raw: str) -> str:
    candidate = raw.strip()
    match = _PLAIN_ADDRESS.match(candidate)
    if match and len(candidate) <= MAX_ADDRESS_LENGTH and len(match.group(1)) <= 64:
        domain = match.group(2).lower()
        # "--" belongs to IDNA rules (xn-- labels, reserved hyphen positions): the validator's call.
        if domain.rpartition(".")[2] not in _SPECIAL_USE and "--" not in domain:
            return f"{match.group(1)}@{domain}"
    return normalize_email(candidate)


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str


@dataclass
class ImportTally:
    rows: int = 0
    invalid: int = 0
    errors: list[RowError] = field(default_factory=list)

    def reject(self, line: int, reason: str) -> None:
        self.invalid += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(RowError(line, reason))


# (line, id, email, email_hash, first_name, last_name, company, title, timezone, custom field
# values, tags, address flags joined by commas or None): the values in the order of
# Header.attribute_positions (None: empty), or None when all are.
StagedRow = tuple[
    int,
    str,
    str,
    bytes,
    str | None,
    str | None,
    str | None,
    str | None,
    str | None,
    list[str | None] | None,
    list[str],
    str | None,
]


class CsvRecordSplitter:
    """Cuts a byte stream into text holding only whole CSV records.

    A line break ends a record only outside quotes: in RFC 4180 CSV a quote
    inside a field is doubled, so the count of quotes before it is even.
    """

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
        self._pending = ""
        self._bytes_seen = 0

    def feed(self, chunk: bytes) -> str:
        try:
            text = self._decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            raise Invalid(
                f"The file is not UTF-8 (bad byte at offset {self._bytes_seen + exc.start}).",
                code="invalid_encoding",
            ) from None
        self._bytes_seen += len(chunk)
        self._pending += text
        cut = self._record_boundary(self._pending)
        complete, self._pending = self._pending[:cut], self._pending[cut:]
        return complete

    def finish(self) -> str:
        try:
            rest = self._pending + self._decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise Invalid("The file ends inside a UTF-8 character.", code="invalid_encoding") from None
        self._pending = ""
        return rest

    @staticmethod
    def _record_boundary(text: str) -> int:
        """Index just after the last line break outside quotes (0: none yet)."""
        end = len(text)
        quotes_after = 0
        total_quotes = text.count('"')
        # A CR at the very end may be the first half of CRLF: keep it for the next chunk.
        position = max(text.rfind("\n"), text.rfind("\r", 0, max(0, end - 1)))
        while position >= 0:
            quotes_after += text.count('"', position + 1, end)
            end = position + 1
            if (total_quotes - quotes_after) % 2 == 0:
                return position + 1
            if len(text) > MAX_PENDING_CHARS:
                return position + 1  # a runaway quote: let the parser report it
            position = max(text.rfind("\n", 0, position), text.rfind("\r", 0, position))
        return 0


@dataclass(frozen=True)
class Header:
    delimiter: str
    columns: tuple[str | None, ...]  # a known field name, or None for an attribute column
    attribute_names: tuple[str | None, ...]

    def position(self, name: str) -> int | None:
        return self.columns.index(name) if name in self.columns else None

    @property
    def attribute_positions(self) -> tuple[tuple[int, str], ...]:
        return tuple((i, name) for i, name in enumerate(self.attribute_names) if name is not None)


def detect_delimiter(header_line: str) -> str:
    try:
        return csv.Sniffer().sniff(header_line, delimiters=",;\t").delimiter
    except csv.Error:
        counts = {d: header_line.count(d) for d in ",;\t"}
        return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def parse_header(names: list[str], delimiter: str) -> Header:
    columns: list[str | None] = []
    attributes: list[str | None] = []
    seen: set[str] = set()
    if any("\x00" in raw for raw in names):
        raise Invalid("The header row contains the NUL character (U+0000).", code="invalid_header")
    for raw in names:
        name = " ".join(raw.strip().split()).lower()
        known = COLUMN_ALIASES.get(name)
        key = known or name
        if key and key in seen:
            raise Invalid(f"The column {raw.strip()!r} appears twice.", code="duplicate_column")
        seen.add(key)
        columns.append(known)
        attributes.append(None if known or not name else name[:MAX_ATTRIBUTE_KEY_CHARS])
    if "email" not in columns:
        raise Invalid(
            "The header row has no email column.",
            code="missing_email_column",
            details={"columns": [n.strip() for n in names][:50]},
        )
    return Header(delimiter, tuple(columns), tuple(attributes))


class CsvImportParser:
    """Feed it text of whole records; it yields staging rows and tallies the rejects.
    `key` is SUPPRESSION_HASH_KEY (each row carries its address's keyed hash)."""

    def __init__(self, key: bytes, tags: tuple[str, ...] = ()) -> None:
        """`tags`: normalised tags every row of the file gets (the import's ?tag=)."""
        self._key = key
        self._file_tags = list(dict.fromkeys(tags))
        self.header: Header | None = None
        self.tally = ImportTally()
        self._line = 0  # physical lines consumed so far
        self._ids: list[str] = []
        self._tag_cells: dict[str, list[str]] = {}

    def parse(self, text: str) -> Iterator[StagedRow]:
        if not text:
            return
        if self.header is None:
            head = text.lstrip("\r\n")
            first_break = min((i for i in (head.find("\n"), head.find("\r")) if i >= 0), default=len(head))
            delimiter = detect_delimiter(head[:first_break])
        else:
            delimiter = self.header.delimiter
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
        self._nul_in_text = "\x00" in text  # rare: rows are only searched for it when the text has one
        base, end_line = self._line, self._line
        try:
            for record in reader:
                start_line, end_line = end_line + 1, base + reader.line_num
                if self.header is None:
                    if any(cell.strip() for cell in record):
                        self._use_header(parse_header(record, delimiter))
                    continue
                row = self._row(record, start_line)
                if row is not None:
                    yield row
        except csv.Error as exc:
            self.tally.reject(end_line + 1, f"unreadable CSV: {exc}")
        self._line = base + text.count("\n") + text.count("\r") - text.count("\r\n")

    def _use_header(self, header: Header) -> None:
        self.header = header
        self._width = len(header.columns)
        email = header.position("email")
        assert email is not None  # parse_header refuses a header without one
        self._email = email
        self._fields = tuple((name, header.position(name), FIELD_LIMITS[name]) for name in FIELDS[1:])
        self._attributes = header.attribute_positions
        self._tags = header.position("tags")

    def _tags_of(self, cell: str) -> list[str]:
        """A row's tags: its cell's, then the file's. Cells repeat, so each is worked out once
        (a row gets a copy: the list is the row's own)."""
        known = self._tag_cells.get(cell)
        if known is None:
            own = [normalize_tag(t) for t in TAG_SEPARATORS.split(cell) if t.strip()]
            known = list(dict.fromkeys([*own, *self._file_tags]))
            if len(self._tag_cells) < MAX_TAG_CELLS:
                self._tag_cells[cell] = known
        return list(known)

    def _next_id(self) -> str:
        if not self._ids:
            self._ids = uuid7_strings(4096)
        return self._ids.pop()

    def _row(self, record: list[str], line: int) -> StagedRow | None:
        if not any(record):
            return None  # a blank line (or one of empty cells)
        width = self._width
        if len(record) < width:
            record = record + [""] * (width - len(record))
        elif len(record) > width and any(c.strip() for c in record[width:]):
            self.tally.rows += 1
            self.tally.reject(line, f"{len(record)} fields, but the header has {width}")
            return None
        raw_email = record[self._email].strip()
        if not raw_email and not any(c.strip() for c in record):
            return None  # cells of whitespace only
        self.tally.rows += 1
        if not raw_email:
            self.tally.reject(line, "no email address")
            return None
        if self._nul_in_text and any("\x00" in cell for cell in record):  # PostgreSQL text cannot hold it
            self.tally.reject(line, "contains the NUL character (U+0000)")
            return None
        try:
            email = fast_normalize_email(raw_email)
        except InvalidAddress as exc:
            self.tally.reject(line, f"invalid email address: {exc}")
            return None
        values: list[str | None] = []
        for name, position, limit in self._fields:
            value = record[position].strip() if position is not None else ""
            if len(value) > limit:
                self.tally.reject(line, f"{name} is longer than {limit} characters")
                return None
            if name == "timezone" and value and not is_zone_name(value):
                self.tally.reject(line, f"timezone {value!r} is not an IANA timezone (e.g. Europe/Berlin)")
                return None
            values.append(value or None)
        attributes = None
        if self._attributes:
            cells = [record[i].strip() or None for i, _ in self._attributes]
            if any(cells):
                for (_, key), cell in zip(self._attributes, cells, strict=True):
                    if cell is not None and len(cell) > MAX_ATTRIBUTE_CHARS:
                        self.tally.reject(line, f"{key} is longer than {MAX_ATTRIBUTE_CHARS} characters")
                        return None
                attributes = cells
        tags = self._file_tags
        if self._tags is not None and (cell := record[self._tags].strip()):
            try:
                tags = self._tags_of(cell)
            except ValueError as exc:
                self.tally.reject(line, f"tags: {exc}")
                return None
            if len(tags) > MAX_TAGS:
                self.tally.reject(line, f"{len(tags)} tags; a prospect carries at most {MAX_TAGS}")
                return None
        flags = ",".join(flags_of(email)) or None  # most have none: NULL is the cheapest to copy
        return (line, self._next_id(), email, email_hash(email, self._key), *values, attributes, tags, flags)  # type: ignore[return-value]
