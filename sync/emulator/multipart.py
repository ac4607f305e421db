"""A small multipart/form-data reader (RFC 7578) for the file-upload endpoint.

The stdlib `cgi` module is deprecated (PEP 594) and `email` parses whole messages into objects we do
not need; the upload endpoint only needs field names, an optional filename and the raw bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

_PARAM = re.compile(r';\s*([A-Za-z0-9_*-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


class MultipartError(ValueError):
    """The body is not well-formed multipart/form-data."""


@dataclass(frozen=True)
class Part:
    name: str
    filename: str | None
    data: bytes


def header_params(value: str) -> tuple[str, dict[str, str]]:
    """Split `type; a=1; b="x"` into ("type", {"a": "1", "b": "x"}); keys lower-cased."""
    main, _, rest = value.partition(";")
    params: dict[str, str] = {}
    for match in _PARAM.finditer(";" + rest):
        key, raw = match.group(1).lower(), match.group(2).strip()
        if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        params[key] = raw
    return main.strip().lower(), params


def parse(body: bytes, content_type: str) -> list[Part]:
    media_type, params = header_params(content_type)
    if media_type != "multipart/form-data":
        raise MultipartError("Content-Type must be multipart/form-data")
    boundary = params.get("boundary")
    if not boundary:
        raise MultipartError("multipart/form-data without a boundary")
    delimiter = b"\r\n--" + boundary.encode("latin-1")
    # Prefix CRLF so the first delimiter looks like every other one.
    sections = (b"\r\n" + body).split(delimiter)
    if len(sections) < 2:
        raise MultipartError("multipart body has no parts")
    parts: list[Part] = []
    closed = False
    for section in sections[1:]:
        if section.startswith(b"--"):
            closed = True
            break
        head, sep, data = section.partition(b"\r\n\r\n")
        if not sep:
            raise MultipartError("multipart part without a blank line after its headers")
        parts.append(_part(head.decode("utf-8", "replace"), data))
    if not closed:
        raise MultipartError("multipart body is not terminated by the closing boundary")
    return parts


def _part(head: str, data: bytes) -> Part:
    disposition = ""
    for line in head.split("\r\n"):
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-disposition":
            disposition = value.strip()
    kind, params = header_params(disposition)
    if kind != "form-data" or "name" not in params:
        raise MultipartError("multipart part without Content-Disposition: form-data; name=...")
    filename = params.get("filename")
    extended = params.get("filename*")
    if extended is not None:  # RFC 5987: charset'lang'percent-encoded
        charset, _, rest = extended.partition("'")
        _, _, encoded = rest.partition("'")
        filename = unquote(encoded, encoding=charset or "utf-8", errors="replace")
    return Part(name=params["name"], filename=filename, data=data)
