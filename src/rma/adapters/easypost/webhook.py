"""EasyPost webhooks: the HMAC signature of a delivery, and tracker events read as tracking updates.

EasyPost signs the raw body with HMAC-SHA256 keyed by the webhook secret (NFKD-normalised, UTF-8) and sends
`X-Hmac-Signature: hmac-sha256-hex=<hex digest>`. Checking uses the SDK's own `validate_webhook`, which compares in
constant time; `sign` is the same algorithm, for the fake server and tests.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import unicodedata
from collections.abc import Mapping
from typing import Final

from easypost.errors.general.signature_verification_error import SignatureVerificationError
from easypost.util import validate_webhook

from rma.adapters.easypost.model import as_object, parse_tracker
from rma.adapters.easypost.statuses import tracking_update
from rma.ports.providers import TrackingUpdate

SIGNATURE_HEADER: Final = "X-Hmac-Signature"
TRACKER_EVENTS: Final = frozenset({"tracker.created", "tracker.updated"})


def sign(body: bytes, secret: str) -> str:
    """The `X-Hmac-Signature` value EasyPost would send with `body`."""
    key = unicodedata.normalize("NFKD", secret).encode()
    return "hmac-sha256-hex=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, header: str | None, secret: str) -> bool:
    """Whether `header` is EasyPost's signature of `body` under `secret`. A missing header or an empty secret is a
    refusal (an empty key would let anyone sign)."""
    if not header or not secret:
        return False
    try:
        validate_webhook(body, {SIGNATURE_HEADER: header}, secret)
    except SignatureVerificationError:
        return False
    except TypeError:
        return False  # compare_digest refuses a header with non-ASCII characters: not ours
    except ValueError:
        return True  # the SDK parses the body only once the signature matched; parsing is parse_tracker_event's job
    return True


def parse_tracker_event(body: bytes) -> tuple[str, TrackingUpdate]:
    """(event id, update) of an EasyPost tracker Event; ValueError, with the cause, for anything else."""
    try:
        decoded = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError("the webhook body is not JSON") from None
    # MalformedError is a ValueError: a broken tracker inside the event is refused with the field named.
    event = as_object(decoded, "the webhook body")
    if event.get("object") != "Event":
        raise ValueError("the webhook body is not an EasyPost Event")
    event_id = event.get("id")
    if not isinstance(event_id, str) or not event_id:
        raise ValueError("the event has no id")
    description = event.get("description")
    if description not in TRACKER_EVENTS:
        raise ValueError(f"not a tracker event: {description!r}")
    return event_id, tracking_update(parse_tracker(event.get("result")))


class EasyPostWebhook:
    """The `CarrierWebhook` port for EasyPost: signed by the account's webhook secret; tracker events become parcel
    news, events of other kinds (batches, refunds, payments) are answered as not ours."""

    carrier = "easypost"

    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("an EasyPost webhook needs its secret")
        self._secret = secret

    def __repr__(self) -> str:
        return "EasyPostWebhook()"  # never the secret

    def verify(self, body: bytes, headers: Mapping[str, str]) -> bool:
        return verify_signature(body, headers.get(SIGNATURE_HEADER), self._secret)

    def parse(self, body: bytes) -> tuple[str, TrackingUpdate] | None:
        try:
            return parse_tracker_event(body)
        except ValueError as exc:
            if str(exc).startswith("not a tracker event"):
                return None
            raise
