"""OAuth 2.0 endpoints: the client credentials grant (RFC 6749 §4.4), authorization server
metadata (RFC 8414) and the public signing keys (RFC 7517).

Errors here follow RFC 6749 §5.2 (`{"error": ...}`), not RFC 9457: that is what OAuth client
libraries expect.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Literal
from urllib.parse import unquote_plus

import msgspec
from litestar import Controller, MediaType, Request, Response, get, post
from litestar.exceptions import ClientException
from litestar.openapi.datastructures import ResponseSpec

from app.api.deps import ServicesDep
from app.api.openapi import problems
from app.auth.principal import KNOWN_SCOPES

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# A token request is a few hundred bytes; anything near this is not one.
TOKEN_MAX_BODY = 16 * 1024

OAuthErrorCode = Literal[
    "invalid_request",
    "invalid_client",
    "invalid_scope",
    "unsupported_grant_type",
    "too_many_requests",
]


class TokenResponse(msgspec.Struct):
    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int
    scope: str


class OAuthError(msgspec.Struct, omit_defaults=True):
    """RFC 6749 §5.2."""

    error: OAuthErrorCode
    error_description: str | None = None


def _oauth_errors(*described: tuple[int, str]) -> dict[int, ResponseSpec]:
    return {
        status: ResponseSpec(
            OAuthError, description=text, media_type=MediaType.JSON, generate_examples=False
        )
        for status, text in described
    }


_FORM_FIELDS: dict[str, Any] = {
    "grant_type": {"type": "string", "enum": ["client_credentials"]},
    "scope": {
        "type": "string",
        "description": "Space-separated scopes; without it the token carries all of the "
        "client's scopes.",
        "examples": ["products:read inventory:read orders:write"],
    },
    "client_id": {
        "type": "string",
        "description": "With `client_secret`, when the client does not use HTTP Basic.",
    },
    "client_secret": {"type": "string", "description": "With `client_id`."},
}
_QUOTA_HEADERS = {
    "RateLimit-Policy": {"$ref": "#/components/headers/RateLimit-Policy"},
    "RateLimit": {"$ref": "#/components/headers/RateLimit"},
}
TOKEN_DOCS: dict[str, Any] = {
    "description": (
        "The client credentials grant (RFC 6749 §4.4). The client authenticates with HTTP "
        'Basic (`Authorization: Basic base64(urlencode(client_id) ":" '
        "urlencode(client_secret))`, RFC 6749 §2.3.1) or with `client_id` and `client_secret` "
        'in the form, never both. Errors are RFC 6749 §5.2 JSON (`{"error": '
        '"invalid_client", ...}`), not problems. The token is an RFC 9068 JWT (`typ: at+jwt`) '
        "signed with a key published at /.well-known/jwks.json."
    ),
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["grant_type"],
                    "properties": _FORM_FIELDS,
                }
            }
        },
    },
    "responses": {
        # Token requests are counted per client id, before the secret is checked.
        **{status: {"headers": _QUOTA_HEADERS} for status in ("200", "401", "429")},
        # A query parameter holding NUL is refused before routing, as a problem.
        "400": {
            "headers": _QUOTA_HEADERS,
            "content": {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            },
        },
    },
}


def _oauth_error(
    status: int, error: OAuthErrorCode, description: str, headers: dict[str, str] | None = None
) -> Response[Any]:
    return Response(
        content=msgspec.json.encode(OAuthError(error, description)),
        status_code=status,
        media_type=MediaType.JSON,
        headers={**_NO_STORE, **(headers or {})},
    )


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        return None
    # RFC 6749 §2.3.1: both parts are form-urlencoded before being joined.
    return unquote_plus(client_id), unquote_plus(secret)


class OAuthController(Controller):
    tags = ["OAuth"]

    @post(
        "/oauth/token",
        operation_id="issueToken",
        summary="Client credentials grant: exchange client id and secret for an access token",
        status_code=200,
        request_max_body_size=TOKEN_MAX_BODY,
        responses={
            **_oauth_errors(
                (
                    400,
                    "`invalid_request` (not a form, a parameter repeated or missing, two "
                    "client authentication methods), `unsupported_grant_type` or "
                    "`invalid_scope`",
                ),
                (401, "`invalid_client`: unknown client, wrong secret or no credentials"),
                (413, "`invalid_request`: the body is larger than a token request can be"),
                (429, "`too_many_requests`: too many token requests by this client id"),
            ),
            **problems(503),
        },
        opt={"openapi": TOKEN_DOCS},
    )
    async def token(  # noqa: PLR0911, PLR0912 - one early return per RFC 6749 error
        self, request: Request[Any, Any, Any], services: ServicesDep
    ) -> Response[TokenResponse]:
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("application/x-www-form-urlencoded"):
            return _oauth_error(400, "invalid_request", "send application/x-www-form-urlencoded")
        try:
            form = await request.form()
        except ClientException as error:  # oversized (413) or a bad Content-Length (400)
            if error.status_code == 413:
                detail = f"a token request is at most {TOKEN_MAX_BODY} bytes"
                return _oauth_error(413, "invalid_request", detail)
            return _oauth_error(400, "invalid_request", str(error.detail))
        values = {key: form.getall(key) for key in form}
        if any(len(v) > 1 for v in values.values()):
            return _oauth_error(400, "invalid_request", "a parameter is repeated")
        params = {key: str(v[0]) for key, v in values.items()}
        basic = _basic_credentials(request.headers.get("authorization"))
        if basic and ("client_id" in params or "client_secret" in params):
            return _oauth_error(400, "invalid_request", "use one client authentication method")
        client_id, secret = (
            basic if basic else (params.get("client_id"), params.get("client_secret"))
        )
        unauthorized = {"WWW-Authenticate": 'Basic realm="retail-gateway"'}
        if not client_id or not secret:
            return _oauth_error(
                401, "invalid_client", "client authentication is required", unauthorized
            )
        if "\x00" in client_id or "\x00" in secret:  # no client is named so; no database stores it
            return _oauth_error(
                401, "invalid_client", "unknown client or wrong secret", unauthorized
            )

        # Counted before the secret is checked: the token endpoint is where guessing happens.
        quota = await services.quotas.check("token", None, client_id)
        limits = {name.decode(): value.decode() for name, value in quota.headers}

        def fail(
            status: int,
            error: OAuthErrorCode,
            description: str,
            extra: dict[str, str] | None = None,
        ) -> Response[Any]:
            return _oauth_error(status, error, description, {**limits, **(extra or {})})

        if not quota.allowed:
            return fail(
                429,
                "too_many_requests",
                f"retry in {quota.retry_after} s",
                {"Retry-After": str(quota.retry_after)},
            )
        if params.get("grant_type") != "client_credentials":
            if "grant_type" not in params:
                return fail(400, "invalid_request", "grant_type is required")
            return fail(400, "unsupported_grant_type", "only client_credentials is supported")
        client = await services.tenants.authenticate(client_id, secret)
        if client is None:
            return fail(401, "invalid_client", "unknown client or wrong secret", unauthorized)
        requested = params.get("scope")
        if requested is None:
            scopes = client.scopes
        else:
            asked = requested.split()
            if not asked or any(s not in KNOWN_SCOPES for s in asked):
                return fail(400, "invalid_scope", "unknown scope requested")
            if any(s not in client.scopes for s in asked):
                return fail(400, "invalid_scope", "the client may not request these scopes")
            scopes = list(dict.fromkeys(asked))
        token = await services.issuer.issue(client.client_id, client.tenant_id, scopes)
        body = TokenResponse(
            access_token=token,
            token_type="Bearer",  # noqa: S106 - the token type, not a secret
            expires_in=services.issuer.ttl,
            scope=" ".join(scopes),
        )
        return Response(content=body, media_type=MediaType.JSON, headers={**_NO_STORE, **limits})

    @get(
        "/.well-known/oauth-authorization-server",
        operation_id="getAuthorizationServerMetadata",
        summary="OAuth 2.0 authorization server metadata (RFC 8414)",
    )
    async def metadata(self, services: ServicesDep) -> dict[str, Any]:
        issuer = services.settings.auth.issuer
        return {
            "issuer": issuer,
            "token_endpoint": f"{issuer}/oauth/token",
            "jwks_uri": f"{issuer}/.well-known/jwks.json",
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "scopes_supported": sorted(KNOWN_SCOPES),
            "response_types_supported": ["token"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
        }

    @get(
        "/.well-known/jwks.json",
        operation_id="getJwks",
        summary="Public keys that sign access tokens",
        responses=problems(503),
    )
    async def jwks(self, services: ServicesDep) -> Response[dict[str, Any]]:
        await services.keys.refresh_if_stale(30.0)
        return Response(
            content=services.keys.jwks, headers={"Cache-Control": "public, max-age=300"}
        )
