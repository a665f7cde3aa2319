"""API Gateway access log lines as API Gateway writes them: the stage's format with each ``$context``
variable replaced by its value as is. API Gateway does not escape these values, so a caller who
controls one (``User-Agent``, the path, a claim the authorizer puts in its context) controls raw text
inside the JSON line."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from edgeauth import constants as C

ACCESS_LOG_FORMAT = C.ACCESS_LOG_FORMATS["full"]
"""The full access log format, as ``infra/constructs/api.py`` sets it (``access_log_format: full``)."""
COMPACT_FORMAT = C.ACCESS_LOG_FORMATS["compact"]
FORMATS = {
    "full": (ACCESS_LOG_FORMAT, C.ACCESS_LOG_FIELDS),
    "compact": (COMPACT_FORMAT, C.ACCESS_LOG_FIELDS_COMPACT),
}

_VARIABLE = re.compile(r"\$context\.([A-Za-z0-9_.]+)")
_KEY_OF = {variable.removeprefix("$context."): key for key, variable in C.ACCESS_LOG_FIELDS.items()}

TYPICAL: dict[str, str] = {
    "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
    "extendedRequestId": "XyZ1aFqxoAMEb-Q=",
    "requestTimeEpoch": "1717000000123",
    "apiId": "a1b2c3d4e5",
    "stage": "prod",
    "httpMethod": "GET",
    "resourcePath": "/accounts/{id}",
    "path": "/prod/accounts/12345",
    "protocol": "HTTP/1.1",
    "status": "200",
    "responseLength": "512",
    "responseLatency": "48",
    "integrationLatency": "41",
    "integrationStatus": "200",
    "sourceIp": "203.0.113.17",
    "userAgent": "python-requests/2.31.0",
    "apiKeyId": "k7ab2c9xq1",
    "principalId": "4f1c2b3a-9d8e-4f00-a1b2-c3d4e5f60718",
    "sub": "4f1c2b3a-9d8e-4f00-a1b2-c3d4e5f60718",
    "iss": "https://idp.example.com/",
    "roles": "reader,teller",
    "clientId": "acme-payments",
    "authorizerStatus": "200",
    "authorizerLatency": "3",
    "authorizerError": "-",
    "errorMessage": "-",
    "errorResponseType": "-",
}
"""A request the authorizer allowed, keyed like :data:`edgeauth.constants.ACCESS_LOG_FIELDS`."""

UNAUTHENTICATED: dict[str, str] = {
    **{k: "-" for k in C.ACCESS_LOG_FIELDS},
    "requestId": "0f0e0d0c-1111-2222-3333-444455556666",
    "requestTimeEpoch": "1717000000456",
    "apiId": "a1b2c3d4e5",
    "stage": "prod",
    "httpMethod": "GET",
    "resourcePath": "/admin/config",
    "path": "/prod/admin/config",
    "protocol": "HTTP/1.1",
    "status": "401",
    "responseLength": "26",
    "responseLatency": "2",
    "sourceIp": "198.51.100.9",
    "errorMessage": "Unauthorized",
    "errorResponseType": "UNAUTHORIZED",
}
"""A request API Gateway refused with 401 before the authorizer ran (no token)."""

Values = Mapping[str, str]
"""Values keyed like :data:`edgeauth.constants.ACCESS_LOG_FIELDS` (the full format's keys), whatever the
format they are written in."""


def raw_access_line(values: Mapping[str, str], fmt: str = ACCESS_LOG_FORMAT) -> str:
    """``fmt`` with every ``$context`` variable replaced by ``values[<its key>]`` (``-`` when absent
    or empty), unescaped, as API Gateway does."""

    def value(m: re.Match[str]) -> str:
        key = _KEY_OF.get(m.group(1))
        text = values.get(key, "") if key is not None else ""
        return text or "-"

    return _VARIABLE.sub(value, fmt)


def escaped_access_line(values: Mapping[str, str], fmt: str = "full") -> str:
    """The line an escaping writer would produce for the same values in format ``fmt`` (``full`` or
    ``compact``): the honest reading of them."""
    fields = FORMATS[fmt][1]
    out = {}
    for key, variable in fields.items():
        full_key = _KEY_OF[variable.removeprefix("$context.")]
        out[key] = values.get(full_key, "") or "-"
    return json.dumps(out)
