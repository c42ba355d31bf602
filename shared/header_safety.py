"""Which characters may never reach a message header.

Python's email package (and str.splitlines, which it uses) treats more than CR and
LF as line breaks: every C0 control, DEL, NEL (U+0085) and the Unicode line and
paragraph separators. A header value with one of them could start a header of its
own (a Bcc, say). The API refuses them in fields that become headers; personal
values placed into a subject have them replaced by spaces; the MIME builder
refuses whatever still carries one.
"""

from __future__ import annotations

import re

HEADER_BREAKS = frozenset([*map(chr, range(0x20)), "\x7f", "\x85", "\u2028", "\u2029"])
_RUNS = re.compile("[" + re.escape("".join(sorted(HEADER_BREAKS))) + "]+")


def breaks_header(value: str) -> bool:
    return not HEADER_BREAKS.isdisjoint(value)


def blank_breaks(value: str) -> str:
    """Each run of such characters as one space."""
    return _RUNS.sub(" ", value)
