"""TikTok return codes the emulator answers with, and the exception that carries one.

Codes and their meanings come from docs/tiktok-api.md §5.2 (TikTok's Return Codes page, transcribed
in S11, and the SDK constants in S3). Every API error travels as HTTP 200 with a non-zero `code`
(docs/tiktok-api.md §1 "Envelope"), so endpoints raise `ApiError` and the server turns it into an
envelope.
"""

from __future__ import annotations

OK = 0
PARTIAL_SUCCESS = 20001  # docs/tiktok-api.md §1: partial success; what failed is not said
INVALID_PARAMETERS = 40000  # body is not JSON / wrong content type (docs/tiktok-api.md §5.2)
NO_PERMISSION = 40001  # advertiser not reachable by the token (docs/tiktok-api.md §5.2, §2)
PARAM_ERROR = 40002  # every other validation failure; also processing lock and <1,000 floor
NOT_FOUND = 40007  # "The operation/object does not exist" (docs/tiktok-api.md §5.2)
TOO_MANY_IDS = 40011  # "Too many IDs are provided in a single request" (docs/tiktok-api.md §5.2)
RATE_LIMITED = 40100  # throttling is HTTP 200 + 40100, never HTTP 429 (docs/tiktok-api.md §5.1)
APP_CREDENTIALS = 40101  # "Secret and app ID do not match" (docs/tiktok-api.md §5.2, S11)
TOKEN_EMPTY = 40104  # no Access-Token header (docs/tiktok-api.md §1 "Auth header")
TOKEN_INVALID = 40105  # unknown or revoked token (docs/tiktok-api.md §5.2)
AUTH_CODE_INVALID = 40110  # auth_code cancelled, used or expired (docs/tiktok-api.md §2)
TASK_NOT_READY = 40201  # busy (docs/tiktok-api.md §5.2)
WRITE_CONFLICT = 40202  # busy (docs/tiktok-api.md §5.2)
FILE_SIGNATURE = 40900  # MD5 mismatch (docs/tiktok-api.md §3.1)
FILE_NOT_FOUND = 40905  # unknown file_path, or another advertiser's (docs/tiktok-api.md §3.1, §7)
FILE_EMPTY = 40906
FILE_TOO_LARGE = 40907
FILE_TYPE = 40908  # suffix not .csv / .txt
FILE_CALCULATE_TYPE = 40909  # unsupported calculate_type on upload
FILE_INVALID = 40914  # "The file you want to upload is invalid" — not decodable text
FILE_NONCONFORMING = 40915  # "does not meet the specifications" — a line is not a well-formed hash
SYSTEM_ERROR = 50000
TIKTOK_SIDE_ERROR = 50002  # "Error processing request on TikTok side" (docs/tiktok-api.md §5.2)

# Messages a client may match on. TikTok's exact wording is known only for "not editable"
# (docs/tiktok-api.md §3.8); the 40104 one says what §1 says TikTok's does; the others are the
# emulator's own and documented in the README.
MSG_OK = "OK"
MSG_TOKEN_EMPTY = "Access token is null, you should set it in http header with key Access-Token."
MSG_TOKEN_INVALID = "Access token is incorrect or has been revoked."
MSG_RATE_LIMITED = "Too many requests. Please retry in some time."
MSG_PROCESSING = "The audience is processing, please try again later."
# TikTok's words, verbatim (docs/tiktok-api.md §3.8).
MSG_NOT_EDITABLE = "Audience is not editable, please check audience status"


class HttpError(Exception):
    """A failure TikTok answers before its API logic: plain HTTP `status`, no envelope."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"HTTP {status}: {text}")
        self.status = status
        self.text = text


class ApiError(Exception):
    """A TikTok-style failure: answered as HTTP 200 with this `code` and `message`."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
