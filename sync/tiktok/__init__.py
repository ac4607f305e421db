"""Client for the TikTok Business API v1.3 audience endpoints (see client.py for the rules)."""

from sync.tiktok.client import DEFAULT_BASE_URL, TikTokClient, authorization_url
from sync.tiktok.codes import Action, classify
from sync.tiktok.errors import (
    AmbiguousWriteError,
    AudienceBusyError,
    AuthError,
    FatalError,
    NotFoundError,
    RequestError,
    RetryableError,
    ServerError,
    ThrottledError,
    TikTokError,
    TransportError,
)
from sync.tiktok.models import (
    SEGMENT_ID_SCHEMA,
    Advertiser,
    ApiResponse,
    AudienceDetails,
    AudienceSummary,
    TokenGrant,
)
from sync.tiktok.ratelimit import RateLimiter
from sync.tiktok.retry import RetryPolicy, call_with_retry

__all__ = [
    "DEFAULT_BASE_URL",
    "SEGMENT_ID_SCHEMA",
    "Action",
    "Advertiser",
    "AmbiguousWriteError",
    "ApiResponse",
    "AudienceBusyError",
    "AudienceDetails",
    "AudienceSummary",
    "AuthError",
    "FatalError",
    "NotFoundError",
    "RateLimiter",
    "RequestError",
    "RetryPolicy",
    "RetryableError",
    "ServerError",
    "ThrottledError",
    "TikTokClient",
    "TikTokError",
    "TokenGrant",
    "TransportError",
    "authorization_url",
    "call_with_retry",
    "classify",
]
