"""The recipient's pages: plain, accessible HTML (WCAG 2.2 AA), no JavaScript, one inline stylesheet."""

from __future__ import annotations

import base64
import hashlib
from html import escape

STYLE = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; font-size: 1.125rem;
       line-height: 1.5; color: #1a1a1a; background: #ffffff; }
main { max-width: 36rem; margin: 0 auto; padding: 2rem 1rem; }
h1 { font-size: 1.75rem; line-height: 1.25; margin: 0 0 1rem; }
p { margin: 0 0 1rem; overflow-wrap: anywhere; }
button { font: inherit; font-weight: 600; color: #ffffff; background: #0b57d0; border: 2px solid #0b57d0;
         border-radius: 0.375rem; padding: 0.75rem 1.5rem; min-height: 44px; cursor: pointer; }
button:hover { background: #0842a0; border-color: #0842a0; }
button:focus-visible { outline: 3px solid #1a1a1a; outline-offset: 3px; }
.note { color: #4a4a4a; font-size: 1rem; }
"""
STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src 'sha256-{STYLE_HASH}'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="robots" content="noindex">\n'
        f"<title>{escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def confirm_page(token: str, masked_email: str, sender: str) -> str:
    return _page(
        "Unsubscribe",
        f"<h1>Unsubscribe</h1>\n"
        f"<p>Stop all emails from <strong>{escape(sender)}</strong> to <strong>{escape(masked_email)}</strong>.</p>\n"
        '<form method="post" action="/api/unsubscribe">\n'
        f'<input type="hidden" name="token" value="{escape(token)}">\n'
        '<button type="submit">Unsubscribe</button>\n</form>\n'
        '<p class="note">One click is all it takes. You will not be asked again.</p>',
    )


def done_page(masked_email: str, sender: str) -> str:
    return _page(
        "You are unsubscribed",
        "<h1>You are unsubscribed</h1>\n"
        f"<p><strong>{escape(masked_email)}</strong> will not get any more emails from "
        f"<strong>{escape(sender)}</strong>.</p>\n"
        '<p class="note">You can close this page.</p>',
    )


def problem_page(title: str, message: str) -> str:
    return _page(title, f"<h1>{escape(title)}</h1>\n<p>{escape(message)}</p>")
