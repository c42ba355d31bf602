"""Received mail, without services: SNS signatures, the MIME parse of real-shaped replies,
their classification, and the tokens and Message-IDs they are matched by."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from pathlib import Path
from string import Template

import pytest

from event_ingest import sns
from event_ingest.adapters.certificates import public_key
from event_ingest.classify import classify, own_words
from event_ingest.mail import parse_mail
from event_ingest.receipt import Malformed, parse_received
from event_ingest.replies import ReplyRules, forwarded, reply_tokens, ses_message_ids
from tests.harness import sns as fake_sns

pytestmark = pytest.mark.unit
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "inbound"
CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem"
TRUSTED = re.compile(sns.DEFAULT_TRUSTED_CERT_URL)
TOPICS = frozenset({fake_sns.TOPIC_ARN})
VALUES = {
    "message_id": "0100018c2f1e7a2b-1f2e3d4c-5b6a-4798-8a9b-0c1d2e3f4a5b-000000",
    "first_message_id": "0100018c2a0b1c2d-aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee-000000",
    "subject": "Hello Jürgen", "from_name": "Jürgen Example", "from_address": "Juergen@Example.ORG",
    "reply_to": "dana+abcdefghijklmnopqrstuvwx@replies.example.com", "reply_domain": "replies.example.com",
}  # fmt: skip


def fixture(name: str, **values: str) -> bytes:
    return Template((FIXTURES / name).read_text()).substitute({**VALUES, **values}).encode()


def verified(message: dict) -> None:
    parsed = sns.parse(message, message["Type"])
    sns.check_origin(parsed, trusted_cert_url=TRUSTED, topic_arns=TOPICS)
    sns.verify(parsed, public_key(fake_sns.signer().pem, datetime.now(UTC)))


@pytest.mark.parametrize("version", ["1", "2"])
def test_both_signature_versions_verify(version):
    verified(fake_sns.notification('{"notificationType": "Received"}', CERT_URL, version=version))
    verified(fake_sns.confirmation("https://sns.us-east-1.amazonaws.com", CERT_URL))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda m: {**m, "Message": m["Message"] + " "}, "does not verify"),
        (lambda m: {**m, "Subject": "Another subject"}, "does not verify"),
        (lambda m: {k: v for k, v in m.items() if k != "Subject"}, "does not verify"),
        (lambda m: {**m, "SignatureVersion": "3"}, "SignatureVersion"),
        (lambda m: {**m, "Signature": "not base64!"}, "base64"),
        (lambda m: {k: v for k, v in m.items() if k != "MessageId"}, "no MessageId"),
        (lambda m: {**m, "Type": "Surprise"}, "unknown SNS message type"),
        (lambda m: {**m, "SigningCertURL": "https://evil.example/sns.us-east-1.amazonaws.com/c.pem"}, "CertURL"),
        (lambda m: {**m, "SigningCertURL": "http://sns.us-east-1.amazonaws.com/cert.pem"}, "SigningCertURL"),
        (lambda m: {**m, "SigningCertURL": "https://sns.us-east-1.amazonaws.com.evil.example/c.pem"}, "SigningCertURL"),
        (lambda m: {**m, "TopicArn": "arn:aws:sns:us-east-1:999999999999:theirs"}, "TopicArn"),
    ],
)  # fmt: skip
def test_a_message_that_fails_a_check_is_untrusted_with_its_reason(change, reason):
    message = change(fake_sns.notification('{"notificationType": "Received"}', CERT_URL))
    with pytest.raises(sns.Untrusted, match=reason):
        verified(message)


def test_a_signature_by_another_key_and_a_header_that_disagrees_are_refused():
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = fake_sns.sign({**fake_sns.notification("{}", CERT_URL), "Message": "{}"}, key=other)
    with pytest.raises(sns.Untrusted, match="does not verify"):
        verified(forged)
    with pytest.raises(sns.Untrusted, match="header"):
        sns.parse(fake_sns.notification("{}", CERT_URL), "SubscriptionConfirmation")


def test_a_confirmation_url_off_the_trusted_hosts_is_refused():
    message = fake_sns.confirmation("https://attacker.example", CERT_URL)
    with pytest.raises(sns.Untrusted, match="SubscribeURL"):
        verified(message)


def test_the_receipt_notification_says_where_the_mail_is_and_what_ses_thought():
    raw = fixture("gmail-reply.eml")
    inline, ses_id = fake_sns.received(raw, inline=True, spam="FAIL")
    parsed = parse_received(inline)
    assert parsed is not None and parsed.mail.message_id == ses_id
    assert parsed.inline_content() == raw and parsed.s3_location is None and parsed.flagged == "spam"
    in_s3, ses_id = fake_sns.received(raw, inline=False, virus="FAIL")
    parsed = parse_received(in_s3)
    assert (
        parsed is not None
        and parsed.s3_location == ("outreach-inbound", ses_id)
        and parsed.flagged == "virus"
    )
    assert parse_received('{"notificationType": "AmazonSnsSubscriptionSucceeded"}') is None
    with pytest.raises(Malformed):
        parse_received('{"notificationType": "Received", "mail": {}}')
    with pytest.raises(Malformed):
        parse_received("not json")


def test_a_gmail_reply_parses_in_utf8_with_its_thread_and_html():
    mail = parse_mail(fixture("gmail-reply.eml"))
    assert mail.from_address == "juergen@example.org" and mail.from_name == "Jürgen Example"
    assert mail.subject == "Re: Hello Jürgen"
    assert ses_message_ids(mail.thread_ids) == [VALUES["message_id"]]
    assert "Tuesday afternoon works" in (mail.text or "") and "Jürgen" in (mail.text or "")
    assert mail.html is not None and "<blockquote" in mail.html
    assert VALUES["reply_to"] in mail.recipients
    assert classify(mail) == "reply"


def test_an_outlook_reply_in_latin1_lists_its_attachment_with_its_size():
    mail = parse_mail(fixture("outlook-reply.eml"))
    assert "Françoise" in (mail.text or "")
    assert [(a.filename, a.content_type, a.size) for a in mail.attachments] == [
        ("requirements.pdf", "application/pdf", len(base64.b64decode("JVBERi0xLjQKJcfsj6IKMSAwIG9iago=")))
    ]
    assert classify(mail) == "reply"


def test_an_apple_mail_reply_quotes_the_original_and_answers_the_latest_message():
    mail = parse_mail(fixture("apple-mail-reply.eml"))
    assert ses_message_ids(mail.thread_ids) == [VALUES["message_id"], VALUES["first_message_id"]]
    assert own_words(mail.text or "") == "Not right now, maybe in Q2. Feel free to check back then. Ana"
    assert classify(mail) == "reply", "an unsubscribe link in the quote is not a request"


def test_an_out_of_office_a_dsn_and_a_removal_request_are_told_apart():
    assert classify(parse_mail(fixture("out-of-office-de.eml"))) == "auto_reply"
    dsn = parse_mail(fixture("dsn.eml"))
    assert dsn.delivery_report and classify(dsn) == "bounce"
    assert classify(parse_mail(fixture("unsubscribe-request.eml"))) == "unsubscribe_request"
    unmatched = parse_mail(fixture("unmatched.eml"))
    assert "\u2013" in (unmatched.text or ""), "windows-1252's en dash"
    assert classify(unmatched) == "reply" and not ses_message_ids(unmatched.thread_ids)


@pytest.mark.parametrize(
    "subject",
    ["Out of Office: Hello", "Automatic reply: Hello", "Abwesenheitsnotiz: Hallo", "Réponse automatique : Bonjour",
     "Absence du bureau", "Respuesta automática: Hola", "Fuera de la oficina", "AW: Abwesenheit"],
)  # fmt: skip
def test_out_of_office_subjects_in_four_languages(subject):
    mail = parse_mail(
        f"From: a@example.org\nSubject: {subject}\nContent-Type: text/plain\n\nAway.\n".encode()
    )
    assert classify(mail) == "auto_reply"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ("Auto-Submitted: auto-generated\n", "auto_reply"),
        ("Auto-Submitted: no\n", "reply"),
        ("X-Autoreply: yes\n", "auto_reply"),
        ("X-Autorespond: Out of office\n", "auto_reply"),
        ("Precedence: bulk\n", "auto_reply"),
        ("Precedence: junk\n", "auto_reply"),
        ("Precedence: first-class\n", "reply"),
    ],
)
def test_automatic_answers_announce_themselves_in_headers(headers, expected):
    mail = parse_mail(f"From: a@example.org\nSubject: Re: Hello\n{headers}\nThanks, see you then.\n".encode())
    assert classify(mail) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("unsubscribe", "unsubscribe_request"),
        ("Please remove me.", "unsubscribe_request"),
        ("STOP", "unsubscribe_request"),
        ("Take me off your list, thanks", "unsubscribe_request"),
        ("Bitte austragen", "unsubscribe_request"),
        ("Désinscrivez-moi", "unsubscribe_request"),
        ("stop\n\nOn Mon, Dec 1, 2026 at 9:00 AM Dana wrote:\n> hi", "unsubscribe_request"),
        ("Please don't stop, this is interesting. How do I unsubscribe my colleague?", "reply"),
        ("Can you remove me from the CC and add Sam instead?", "reply"),
    ],
)
def test_a_removal_request_is_the_reply_s_own_words_only(text, expected):
    mail = parse_mail(
        f"From: a@example.org\nSubject: Re: Hello\nContent-Type: text/plain\n\n{text}\n".encode()
    )
    assert classify(mail) == expected


def test_tokens_are_read_from_plus_addresses_at_the_reply_domain_only():
    addresses = [
        "dana+abcdefghijklmnopqrstuvwx@Replies.Example.com",
        "DANA+ABCDEFGHIJKLMNOPQRSTUVWX@replies.example.com",  # folded to upper case on the way
        "dana+zzzzzzzzzzzzzzzzzzzzzzzz@elsewhere.example",
        "dana@replies.example.com",
    ]
    assert reply_tokens(addresses, "replies.example.com") == ["abcdefghijklmnopqrstuvwx"]
    assert reply_tokens(addresses, None) == []


def test_only_ses_message_ids_are_matched_and_the_region_may_vary():
    ids = [
        "abc@email.amazonses.com",
        "def@eu-west-1.amazonses.com",
        "CAJf8@mail.gmail.com",
        "x@amazonses.com.evil",
    ]
    assert ses_message_ids(ids) == ["abc", "def"]


def test_what_is_forwarded():
    rules = ReplyRules(reply_domain="r.example")
    assert forwarded("reply", None, rules) and forwarded("unsubscribe_request", None, rules)
    assert not forwarded("auto_reply", None, rules) and forwarded(
        "auto_reply", None, ReplyRules(None, None, True)
    )
    assert not forwarded("bounce", None, rules)
    assert not forwarded("reply", "spam", rules) and not forwarded("reply", "virus", rules)
