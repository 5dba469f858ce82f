"""EasyPost: return labels, voids and tracking through EasyPost's API and official SDK; its webhooks; a fake of it."""

from rma.adapters.easypost.carrier import EasyPostCarrier
from rma.adapters.easypost.config import EasyPostConfig, RateRule
from rma.adapters.easypost.errors import EasyPostProviderError
from rma.adapters.easypost.webhook import SIGNATURE_HEADER, parse_tracker_event, verify_signature

__all__ = [
    "SIGNATURE_HEADER",
    "EasyPostCarrier",
    "EasyPostConfig",
    "EasyPostProviderError",
    "RateRule",
    "parse_tracker_event",
    "verify_signature",
]
