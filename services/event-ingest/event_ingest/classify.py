"""What a received mail is: a reply, an automatic answer, a delivery report, or a request
to be removed. Pure; the rules follow the headers auto-responders set (RFC 3834's
Auto-Submitted and the older conventions) and the subjects out-of-office replies use."""

from __future__ import annotations

import re
from typing import Literal

from event_ingest.mail import ParsedMail

Classification = Literal["reply", "auto_reply", "bounce", "unsubscribe_request"]

AUTO_PRECEDENCE = frozenset({"auto_reply", "bulk", "junk", "list"})
# Out-of-office subjects in English, German, French and Spanish.
OUT_OF_OFFICE = re.compile(
    r"""^\s*(
        auto(matic)?[\s-]*(reply|response|answer) | out\s+of\s+(the\s+)?office | away\s+from\s+(the\s+)?office
      | on\s+(annual\s+)?leave | on\s+vacation | (i\s+am|i'm)\s+(currently\s+)?(away|out)
      | abwesenheit(snotiz|smeldung|s-?notiz)? | automatische\s+antwort | nicht\s+im\s+b(ü|ue)ro | au(ß|ss)er\s+haus
      | r(é|e)ponse\s+automatique | absence | absent(e)?\s+du\s+bureau | message\s+d'absence
      | respuesta\s+autom(á|a)tica | fuera\s+de\s+la\s+oficina | ausente | (estoy\s+)?de\s+vacaciones
    )""",
    re.IGNORECASE | re.VERBOSE,
)
REPLY_PREFIX = re.compile(r"^\s*((re|aw|sv|antw|rép|rep|r|wg|fwd?|tr)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
# A reply whose own words (quotes and signature aside) are essentially one of these.
UNSUBSCRIBE_WORDS = re.compile(
    r"""^\W*(please\s+)?(
        unsubscribe(\s+me)? | remove(\s+me)?(\s+from\s+(your|this|the)\s+(list|mailing(\s+list)?|emails?))?
      | stop | take\s+me\s+off(\s+(your|this|the)\s+list)? | opt[\s-]?out | no\s+more\s+emails?
      | abmelden | austragen | bitte\s+austragen | d(é|e)sinscri(re|vez[\s-]moi|ption) | darme\s+de\s+baja | baja
    )(,?\s+(please|thanks?|thank\s+you|bitte|merci|gracias))?\W*$""",
    re.IGNORECASE | re.VERBOSE,
)
QUOTE_STARTS = re.compile(
    r"^(>|on .{4,200} wrote:|am .{4,200} schrieb .{0,200}:|le .{4,200} a écrit\s*:|el .{4,200} escribió:"
    r"|-----\s*original message|-----\s*ursprüngliche nachricht|from:\s|von:\s|de\s*:\s|--\s*$|sent from my )",
    re.IGNORECASE,
)


def classify(mail: ParsedMail) -> Classification:
    if mail.delivery_report:
        return "bounce"
    if is_automatic(mail):
        return "auto_reply"
    words = own_words(mail.text or "")
    # The words say it, or an empty message says it in its subject.
    if UNSUBSCRIBE_WORDS.match(words) or (not words and UNSUBSCRIBE_WORDS.match(_bare_subject(mail.subject))):
        return "unsubscribe_request"
    return "reply"


def is_automatic(mail: ParsedMail) -> bool:
    submitted = (mail.header("Auto-Submitted") or "").strip().lower()
    if submitted and submitted != "no":
        return True
    if mail.header("X-Autoreply") is not None or mail.header("X-Autorespond") is not None:
        return True
    if (mail.header("Precedence") or "").strip().lower() in AUTO_PRECEDENCE:
        return True
    return OUT_OF_OFFICE.match(_bare_subject(mail.subject)) is not None


def own_words(text: str) -> str:
    """The reply's own text: the lines before the first quote, attribution or signature."""
    kept = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if QUOTE_STARTS.match(line.strip()):
            break
        kept.append(line)
    return " ".join(" ".join(kept).split())


def _bare_subject(subject: str) -> str:
    return REPLY_PREFIX.sub("", subject)
