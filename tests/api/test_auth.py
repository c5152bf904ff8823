"""OAuth 2.0 client credentials, RFC 9068 access tokens, and what protected routes do with
them: the token endpoint and its RFC 6749 errors, token contents and published keys, 401 for
every token that is not ours or not valid, 403 for a missing scope, disabled clients and
rotated secrets, and the operator's admin API creating a tenant that can be served at once."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import quote_plus

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from app.api.oauth import TOKEN_MAX_BODY
from app.auth.principal import ALL_V1_SCOPES
from tests.support import payloads
from tests.support.gateway import ISSUER, Gateway

CLIENT = "acme-client"
OPERATOR = "operator"
PROBLEM = "application/problem+json"


# --- helpers -------------------------------------------------------------------------------


def b64url_decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and payload of a JWT, read without verifying anything."""
    header, payload, _signature = token.split(".")
    return json.loads(b64url_decode(header)), json.loads(b64url_decode(payload))


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def token_request(
    gateway: Gateway,
    form: dict[str, str] | None = None,
    *,
    basic: tuple[str, str] | None = None,
    **kwargs: Any,
) -> httpx.Response:
    if basic is not None:
        kwargs["auth"] = basic
    return await gateway.http.post("/oauth/token", data=form, **kwargs)


def assert_oauth_error(response: httpx.Response, status: int, error: str) -> dict[str, Any]:
    """An RFC 6749 §5.2 error: JSON `{"error": ...}` with the expected code."""
    assert response.status_code == status, (
        f"expected {status}, got {response.status_code}: {response.text}"
    )
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body["error"] == error, body
    assert "access_token" not in body
    if status == 401:
        assert response.headers.get("www-authenticate", "").lower().startswith("basic"), (
            response.headers
        )
    return body


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, (
        f"expected {status}, got {response.status_code}: {response.text}"
    )
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    for key in ("type", "title", "status", "detail", "correlation_id"):
        assert key in body, body
    assert body["status"] == status
    return body


def assert_unauthenticated(response: httpx.Response) -> None:
    assert_problem(response, 401)
    assert response.headers.get("www-authenticate", "").startswith("Bearer"), response.headers


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def claims_for(gateway: Gateway, **overrides: Any) -> dict[str, Any]:
    """The claims the gateway itself would put in a token of `acme-client`."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": gateway.services.settings.auth.audience,
        "sub": CLIENT,
        "client_id": CLIENT,
        "tenant": "acme",
        "scope": " ".join(ALL_V1_SCOPES),
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": f"tok_{uuid.uuid4().hex}",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


async def sign(
    gateway: Gateway, claims: dict[str, Any], key: RSAKey | None = None, **header: Any
) -> str:
    """A token signed with the gateway's real active key (or `key`), `typ` at+jwt unless
    overridden."""
    real = await gateway.services.keys.active_key()
    signing = key or real
    full_header = {"alg": "RS256", "kid": real.kid, "typ": "at+jwt", **header}
    return jwt.encode(full_header, claims, signing, algorithms=["RS256"])


async def new_channel_client(gateway: Gateway, scopes: list[str] | None = None) -> tuple[str, str]:
    return await gateway.add_client(unique("auth-test"), "acme", scopes)


# --- the token endpoint ---------------------------------------------------------------------


async def test_token_via_http_basic(gateway: Gateway) -> None:
    response = await token_request(
        gateway, {"grant_type": "client_credentials"}, basic=gateway.credentials[CLIENT]
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) >= {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer"
    assert isinstance(body["expires_in"], int)
    assert body["expires_in"] > 0
    assert body["access_token"].count(".") == 2
    products = await gateway.http.get(
        "/v1/products", params={"limit": 1}, headers=bearer(body["access_token"])
    )
    assert products.status_code == 200, products.text


async def test_token_via_form_body(gateway: Gateway) -> None:
    client_id, secret = gateway.credentials[CLIENT]
    response = await token_request(
        gateway,
        {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert set(body["scope"].split()) == set(ALL_V1_SCOPES)
    products = await gateway.http.get(
        "/v1/products", params={"limit": 1}, headers=bearer(body["access_token"])
    )
    assert products.status_code == 200, products.text


async def test_basic_credentials_are_form_url_decoded(gateway: Gateway) -> None:
    # RFC 6749 §2.3.1: id and secret are form-urlencoded before being joined with ':'.
    client_id, secret = gateway.credentials[CLIENT]
    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    headers = {"Authorization": "Basic " + base64.b64encode(raw).decode()}
    response = await token_request(gateway, {"grant_type": "client_credentials"}, headers=headers)
    assert response.status_code == 200, response.text


async def test_without_scope_the_token_carries_all_the_clients_scopes(gateway: Gateway) -> None:
    response = await token_request(
        gateway, {"grant_type": "client_credentials"}, basic=gateway.credentials[CLIENT]
    )
    body = response.json()
    assert set(body["scope"].split()) == set(ALL_V1_SCOPES)
    _, claims = jwt_parts(body["access_token"])
    assert set(claims["scope"].split()) == set(ALL_V1_SCOPES)


async def test_requesting_a_subset_narrows_the_token(gateway: Gateway) -> None:
    response = await token_request(
        gateway,
        {"grant_type": "client_credentials", "scope": "products:read orders:read"},
        basic=gateway.credentials[CLIENT],
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body["scope"].split()) == {"products:read", "orders:read"}
    _, claims = jwt_parts(body["access_token"])
    assert set(claims["scope"].split()) == {"products:read", "orders:read"}
    token = body["access_token"]
    assert (await gateway.http.get("/v1/orders", headers=bearer(token))).status_code == 200
    assert_problem(await gateway.http.get("/v1/customers", headers=bearer(token)), 403)


async def test_a_client_with_few_scopes_gets_only_those(gateway: Gateway) -> None:
    credentials = await new_channel_client(gateway, ["products:read"])
    response = await token_request(gateway, {"grant_type": "client_credentials"}, basic=credentials)
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "products:read"


@pytest.mark.parametrize(
    "scope",
    [
        pytest.param("orders:read", id="a-scope-the-client-lacks"),
        pytest.param("products:read orders:write", id="one-of-several-lacking"),
        pytest.param("admin", id="admin"),
        pytest.param("bogus:scope", id="unknown-scope"),
    ],
)
async def test_requesting_a_scope_the_client_lacks_is_invalid_scope(
    gateway: Gateway, scope: str
) -> None:
    credentials = await new_channel_client(gateway, ["products:read"])
    response = await token_request(
        gateway, {"grant_type": "client_credentials", "scope": scope}, basic=credentials
    )
    assert_oauth_error(response, 400, "invalid_scope")


async def test_a_channel_client_cannot_get_the_admin_scope(gateway: Gateway) -> None:
    response = await token_request(
        gateway,
        {"grant_type": "client_credentials", "scope": "admin"},
        basic=gateway.credentials[CLIENT],
    )
    assert_oauth_error(response, 400, "invalid_scope")


async def test_wrong_secret_is_invalid_client(gateway: Gateway) -> None:
    response = await token_request(
        gateway, {"grant_type": "client_credentials"}, basic=(CLIENT, "not-the-secret")
    )
    assert_oauth_error(response, 401, "invalid_client")


async def test_wrong_secret_in_form_body_is_invalid_client(gateway: Gateway) -> None:
    response = await token_request(
        gateway,
        {
            "grant_type": "client_credentials",
            "client_id": CLIENT,
            "client_secret": "not-the-secret",
        },
    )
    assert_oauth_error(response, 401, "invalid_client")


async def test_unknown_client_is_invalid_client(gateway: Gateway) -> None:
    response = await token_request(
        gateway, {"grant_type": "client_credentials"}, basic=(unique("nobody"), "whatever-secret")
    )
    assert_oauth_error(response, 401, "invalid_client")


async def test_another_clients_secret_is_invalid_client(gateway: Gateway) -> None:
    _, globex_secret = gateway.credentials["globex-client"]
    response = await token_request(
        gateway, {"grant_type": "client_credentials"}, basic=(CLIENT, globex_secret)
    )
    assert_oauth_error(response, 401, "invalid_client")


async def test_no_client_credentials_is_invalid_client(gateway: Gateway) -> None:
    response = await token_request(gateway, {"grant_type": "client_credentials"})
    assert_oauth_error(response, 401, "invalid_client")


async def test_malformed_basic_header_is_invalid_client(gateway: Gateway) -> None:
    response = await token_request(
        gateway,
        {"grant_type": "client_credentials"},
        headers={"Authorization": "Basic !!!not-base64!!!"},
    )
    assert_oauth_error(response, 401, "invalid_client")


@pytest.mark.parametrize(
    "how",
    [
        pytest.param("basic-encoded", id="basic-form-encoded-nul"),
        pytest.param("basic-raw", id="basic-raw-nul"),
        pytest.param("form", id="form-body-nul"),
    ],
)
async def test_client_id_with_a_nul_character_is_invalid_client(gateway: Gateway, how: str) -> None:
    form = {"grant_type": "client_credentials"}
    headers: dict[str, str] = {}
    if how == "basic-encoded":
        headers["Authorization"] = "Basic " + base64.b64encode(b"acme-client%00:secret").decode()
    elif how == "basic-raw":
        headers["Authorization"] = "Basic " + base64.b64encode(b"acme-client\x00:secret").decode()
    else:
        form.update(client_id="acme-client\x00", client_secret="secret")
    response = await token_request(gateway, form, headers=headers)
    assert_oauth_error(response, 401, "invalid_client")


async def test_missing_grant_type_is_invalid_request(gateway: Gateway) -> None:
    response = await token_request(
        gateway, {"scope": "products:read"}, basic=gateway.credentials[CLIENT]
    )
    assert_oauth_error(response, 400, "invalid_request")


@pytest.mark.parametrize(
    "grant_type",
    [
        "password",
        "authorization_code",
        "refresh_token",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
    ],
)
async def test_other_grant_types_are_unsupported(gateway: Gateway, grant_type: str) -> None:
    response = await token_request(
        gateway, {"grant_type": grant_type}, basic=gateway.credentials[CLIENT]
    )
    assert_oauth_error(response, 400, "unsupported_grant_type")


async def test_json_body_instead_of_form_is_400(gateway: Gateway) -> None:
    client_id, secret = gateway.credentials[CLIENT]
    response = await gateway.http.post(
        "/oauth/token",
        json={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert_oauth_error(response, 400, "invalid_request")


async def test_two_client_authentication_methods_at_once_is_invalid_request(
    gateway: Gateway,
) -> None:
    client_id, secret = gateway.credentials[CLIENT]
    response = await token_request(
        gateway,
        {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
        basic=(client_id, secret),
    )
    assert_oauth_error(response, 400, "invalid_request")


async def test_a_repeated_parameter_is_invalid_request(gateway: Gateway) -> None:
    response = await gateway.http.post(
        "/oauth/token",
        content=b"grant_type=client_credentials&scope=products:read&scope=admin",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        auth=gateway.credentials[CLIENT],
    )
    assert_oauth_error(response, 400, "invalid_request")


async def test_an_oversized_token_request_is_413_invalid_request(gateway: Gateway) -> None:
    """RFC 6749 §5.2 JSON like every other token error, not a problem, and no token."""
    padding = "x" * (TOKEN_MAX_BODY + 1)
    response = await token_request(
        gateway,
        {"grant_type": "client_credentials", "padding": padding},
        basic=gateway.credentials[CLIENT],
    )
    body = assert_oauth_error(response, 413, "invalid_request")
    assert str(TOKEN_MAX_BODY) in body["error_description"]
    assert response.headers["cache-control"] == "no-store"


async def test_an_oversized_chunked_token_request_is_413_invalid_request(gateway: Gateway) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"grant_type=client_credentials&padding="
        for _ in range(4):
            yield b"x" * 8192

    response = await gateway.http.post(
        "/oauth/token",
        content=chunks(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        auth=gateway.credentials[CLIENT],
    )
    assert "content-length" not in response.request.headers
    assert_oauth_error(response, 413, "invalid_request")


async def test_a_token_request_just_under_the_limit_is_served(gateway: Gateway) -> None:
    form = {"grant_type": "client_credentials", "padding": ""}
    form["padding"] = "x" * (TOKEN_MAX_BODY - len("grant_type=client_credentials&padding="))
    response = await token_request(gateway, form, basic=gateway.credentials[CLIENT])
    assert response.status_code == 200, response.text


# --- token contents and published keys ------------------------------------------------------


async def test_token_is_an_rfc_9068_jwt_with_every_claim(gateway: Gateway) -> None:
    before = int(time.time())
    response = await token_request(
        gateway, {"grant_type": "client_credentials"}, basic=gateway.credentials[CLIENT]
    )
    body = response.json()
    header, claims = jwt_parts(body["access_token"])
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "RS256"
    assert header["kid"]
    assert claims["iss"] == ISSUER
    assert claims["aud"] == gateway.services.settings.auth.audience
    assert claims["sub"] == CLIENT
    assert claims["client_id"] == CLIENT
    assert claims["tenant"] == "acme"
    assert set(claims["scope"].split()) == set(body["scope"].split())
    assert before - 5 <= claims["iat"] <= int(time.time()) + 5
    assert claims["exp"] - claims["iat"] == body["expires_in"]
    assert isinstance(claims["jti"], str)
    assert claims["jti"]


async def test_every_token_has_its_own_jti(gateway: Gateway) -> None:
    tokens = [
        (
            await token_request(
                gateway, {"grant_type": "client_credentials"}, basic=gateway.credentials[CLIENT]
            )
        ).json()
        for _ in range(3)
    ]
    jtis = {jwt_parts(t["access_token"])[1]["jti"] for t in tokens}
    assert len(jtis) == 3


async def test_the_signing_kid_is_published_in_the_jwks(gateway: Gateway) -> None:
    token = (
        await token_request(
            gateway, {"grant_type": "client_credentials"}, basic=gateway.credentials[CLIENT]
        )
    ).json()["access_token"]
    header, _ = jwt_parts(token)
    response = await gateway.http.get("/.well-known/jwks.json")
    assert response.status_code == 200
    keys = response.json()["keys"]
    published = {key["kid"]: key for key in keys}
    assert header["kid"] in published
    key = published[header["kid"]]
    assert key["kty"] == "RSA"
    # Only public halves: no private RSA parameters ever leave the gateway.
    for private in ("d", "p", "q", "dp", "dq", "qi"):
        assert all(private not in k for k in keys), f"JWKS publishes private parameter {private}"


async def test_authorization_server_metadata(gateway: Gateway) -> None:
    response = await gateway.http.get("/.well-known/oauth-authorization-server")
    assert response.status_code == 200
    metadata = response.json()
    assert metadata["issuer"] == ISSUER
    assert metadata["token_endpoint"] == f"{ISSUER}/oauth/token"
    assert metadata["jwks_uri"] == f"{ISSUER}/.well-known/jwks.json"
    assert "client_credentials" in metadata["grant_types_supported"]
    # The advertised JWKS is the one that is served.
    jwks = await gateway.http.get(metadata["jwks_uri"].removeprefix(ISSUER))
    assert jwks.status_code == 200
    assert jwks.json()["keys"]


async def test_after_signing_key_rotation_old_tokens_still_work_and_both_keys_are_published(
    gateway: Gateway,
) -> None:
    old_token = (
        await token_request(
            gateway, {"grant_type": "client_credentials"}, basic=gateway.credentials[CLIENT]
        )
    ).json()["access_token"]
    old_kid = jwt_parts(old_token)[0]["kid"]
    new_kid = await gateway.services.keys.rotate()
    assert new_kid != old_kid
    new_token = (
        await token_request(
            gateway, {"grant_type": "client_credentials"}, basic=gateway.credentials[CLIENT]
        )
    ).json()["access_token"]
    assert jwt_parts(new_token)[0]["kid"] == new_kid
    published = {
        key["kid"] for key in (await gateway.http.get("/.well-known/jwks.json")).json()["keys"]
    }
    assert {old_kid, new_kid} <= published
    for token in (old_token, new_token):
        response = await gateway.http.get(
            "/v1/products", params={"limit": 1}, headers=bearer(token)
        )
        assert response.status_code == 200, response.text


# --- protected routes: 401 ------------------------------------------------------------------


async def test_a_token_we_sign_ourselves_with_the_real_key_works(gateway: Gateway) -> None:
    """The control for the forgeries below: correctly signed claims are accepted."""
    token = await sign(gateway, claims_for(gateway))
    response = await gateway.http.get("/v1/products", params={"limit": 1}, headers=bearer(token))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "path", ["/v1/products", "/v1/orders", "/v1/customers", "/v1/inventory", "/admin/tenants"]
)
async def test_no_token_is_401_with_www_authenticate(gateway: Gateway, path: str) -> None:
    response = await gateway.http.get(path)
    assert_unauthenticated(response)


async def test_no_token_on_a_write_is_401_and_writes_nothing(gateway: Gateway) -> None:
    body = payloads.order()
    response = await gateway.http.post(
        "/v1/orders", json=body, headers={"Idempotency-Key": payloads.idem()}
    )
    assert_unauthenticated(response)
    listed = await gateway.http.get(
        "/v1/orders",
        params={"external_reference": body["external_reference"]},
        headers=await gateway.headers(CLIENT),
    )
    assert listed.json()["data"] == []


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param("Bearer garbage", id="garbage"),
        pytest.param("Bearer a.b.c", id="three-junk-segments"),
        pytest.param("Bearer " + "x" * 9000, id="huge"),
        pytest.param("Bearer ", id="empty-bearer"),
        pytest.param("Token abc", id="unknown-scheme"),
    ],
)
async def test_garbage_token_is_401(gateway: Gateway, authorization: str) -> None:
    response = await gateway.http.get("/v1/products", headers={"Authorization": authorization})
    assert_unauthenticated(response)


async def test_basic_credentials_on_an_api_route_are_401(gateway: Gateway) -> None:
    response = await gateway.http.get("/v1/products", auth=gateway.credentials[CLIENT])
    assert_unauthenticated(response)


async def test_token_with_a_tampered_payload_is_401(gateway: Gateway) -> None:
    token = await gateway.token(CLIENT, "products:read")
    header, payload, signature = token.split(".")
    claims = json.loads(b64url_decode(payload))
    claims["scope"] = " ".join(ALL_V1_SCOPES)
    forged = ".".join([header, b64url_encode(json.dumps(claims).encode()), signature])
    assert_unauthenticated(await gateway.http.get("/v1/orders", headers=bearer(forged)))


async def test_token_with_a_tampered_tenant_is_401(gateway: Gateway) -> None:
    token = await gateway.token(CLIENT)
    header, payload, signature = token.split(".")
    claims = json.loads(b64url_decode(payload))
    claims["tenant"] = "globex"
    forged = ".".join([header, b64url_encode(json.dumps(claims).encode()), signature])
    assert_unauthenticated(await gateway.http.get("/v1/products", headers=bearer(forged)))


async def test_token_with_a_tampered_signature_is_401(gateway: Gateway) -> None:
    token = await gateway.token(CLIENT)
    header, payload, signature = token.split(".")
    middle = len(signature) // 2
    flipped = (
        signature[:middle] + ("A" if signature[middle] != "A" else "B") + signature[middle + 1 :]
    )
    assert_unauthenticated(
        await gateway.http.get("/v1/products", headers=bearer(f"{header}.{payload}.{flipped}"))
    )


async def test_token_signed_by_another_key_with_the_same_kid_is_401(gateway: Gateway) -> None:
    real = await gateway.services.keys.active_key()
    impostor = RSAKey.generate_key(
        2048, parameters={"kid": str(real.kid), "alg": "RS256", "use": "sig"}
    )
    token = await sign(gateway, claims_for(gateway), key=impostor)
    assert jwt_parts(token)[0]["kid"] == real.kid
    assert_unauthenticated(await gateway.http.get("/v1/products", headers=bearer(token)))


async def test_token_signed_with_an_unknown_kid_is_401(gateway: Gateway) -> None:
    impostor = RSAKey.generate_key(2048, parameters={"kid": "key_unknown", "alg": "RS256"})
    token = await sign(gateway, claims_for(gateway), key=impostor, kid="key_unknown")
    assert_unauthenticated(await gateway.http.get("/v1/products", headers=bearer(token)))


async def test_unsigned_alg_none_token_is_401(gateway: Gateway) -> None:
    real = await gateway.services.keys.active_key()
    header = b64url_encode(json.dumps({"alg": "none", "typ": "at+jwt", "kid": real.kid}).encode())
    payload = b64url_encode(json.dumps(claims_for(gateway)).encode())
    for token in (f"{header}.{payload}.", f"{header}.{payload}.AAAA"):
        assert_unauthenticated(await gateway.http.get("/v1/products", headers=bearer(token)))


async def test_hs256_token_keyed_with_the_public_key_is_401(gateway: Gateway) -> None:
    """The classic algorithm confusion: HMAC with the published RSA key as the secret."""
    real = await gateway.services.keys.active_key()
    header = b64url_encode(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": real.kid}).encode())
    payload = b64url_encode(json.dumps(claims_for(gateway)).encode())
    secrets = [
        json.dumps(real.as_dict(private=False)).encode(),
        real.as_pem(private=False),
    ]
    for secret in secrets:
        signature = b64url_encode(
            hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        )
        token = f"{header}.{payload}.{signature}"
        assert_unauthenticated(await gateway.http.get("/v1/products", headers=bearer(token)))


BAD_CLAIMS: dict[str, Callable[[int], dict[str, Any]]] = {
    "wrong-aud": lambda now: {"aud": "another-api"},
    "no-aud": lambda now: {"aud": None},
    "wrong-iss": lambda now: {"iss": "https://evil.example"},
    "no-iss": lambda now: {"iss": None},
    "expired": lambda now: {"exp": now - 3600, "iat": now - 4000, "nbf": now - 4000},
    "no-exp": lambda now: {"exp": None},
    "not-yet-valid": lambda now: {"nbf": now + 3600},
    "no-jti": lambda now: {"jti": None},
    "no-sub": lambda now: {"sub": None},
    "issued-in-the-future": lambda now: {"iat": now + 3600, "nbf": now + 3600, "exp": now + 4000},
    "exp-not-a-number": lambda now: {"exp": str(now + 300)},
}


@pytest.mark.parametrize("case", list(BAD_CLAIMS))
async def test_token_with_bad_claims_is_401(gateway: Gateway, case: str) -> None:
    token = await sign(gateway, claims_for(gateway, **BAD_CLAIMS[case](int(time.time()))))
    assert_unauthenticated(await gateway.http.get("/v1/products", headers=bearer(token)))


@pytest.mark.parametrize("typ", ["JWT", "jwt", "id_token+jwt", None])
async def test_token_with_the_wrong_typ_is_401(gateway: Gateway, typ: str | None) -> None:
    real = await gateway.services.keys.active_key()
    header: dict[str, Any] = {"alg": "RS256", "kid": real.kid}
    if typ is not None:
        header["typ"] = typ
        token = jwt.encode(header, claims_for(gateway), real, algorithms=["RS256"])
    else:
        token = jwt.encode(
            header, claims_for(gateway), real, algorithms=["RS256"], default_type=None
        )
    assert jwt_parts(token)[0].get("typ") == typ
    assert_unauthenticated(await gateway.http.get("/v1/products", headers=bearer(token)))


async def test_the_bearer_scheme_is_case_insensitive(gateway: Gateway) -> None:
    token = await gateway.token(CLIENT)
    response = await gateway.http.get(
        "/v1/products", params={"limit": 1}, headers={"Authorization": f"bearer {token}"}
    )
    assert response.status_code == 200, response.text


# --- protected routes: 403 ------------------------------------------------------------------


async def test_token_lacking_the_routes_scope_is_403(gateway: Gateway) -> None:
    token = await gateway.token(CLIENT, "products:read")
    assert (
        await gateway.http.get("/v1/products", params={"limit": 1}, headers=bearer(token))
    ).status_code == 200
    response = await gateway.http.get("/v1/orders", headers=bearer(token))
    assert_problem(response, 403)
    assert "insufficient_scope" in response.headers.get("www-authenticate", "")


async def test_read_scope_does_not_allow_writes(gateway: Gateway) -> None:
    token = await gateway.token(CLIENT, "orders:read customers:read")
    body = payloads.order()
    response = await gateway.http.post(
        "/v1/orders", json=body, headers={**bearer(token), "Idempotency-Key": payloads.idem()}
    )
    assert_problem(response, 403)
    assert_problem(
        await gateway.http.post("/v1/customers", json=payloads.customer(), headers=bearer(token)),
        403,
    )
    listed = await gateway.http.get(
        "/v1/orders",
        params={"external_reference": body["external_reference"]},
        headers=bearer(token),
    )
    assert listed.json()["data"] == []


@pytest.mark.parametrize("path", ["/v1/products", "/v1/orders", "/v1/customers", "/v1/inventory"])
async def test_the_operator_token_is_403_on_v1(gateway: Gateway, path: str) -> None:
    response = await gateway.http.get(path, headers=await gateway.headers(OPERATOR))
    assert_problem(response, 403)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/admin/tenants"),
        ("GET", "/admin/tenants/acme"),
        ("GET", "/admin/tenants/acme/clients"),
        ("POST", "/admin/tenants"),
        ("POST", "/admin/tenants/acme/clients"),
        # A client that does not exist: 404 here would mean the guard let the call through.
        ("POST", "/admin/clients/ghost-client-0/rotate-secret"),
        ("POST", "/admin/clients/ghost-client-0/disable"),
    ],
)
async def test_a_channel_token_is_403_on_admin(gateway: Gateway, method: str, path: str) -> None:
    body: dict[str, Any] | None = None
    if method == "POST" and path == "/admin/tenants":
        body = {"id": unique("evil"), "name": "Evil"}
    elif method == "POST" and path.endswith("/clients"):
        body = {"client_id": unique("evil"), "name": "Evil"}
    response = await gateway.http.request(
        method, path, json=body, headers=await gateway.headers(CLIENT)
    )
    assert_problem(response, 403)
    if body is not None and "id" in body:
        check = await gateway.http.get(
            f"/admin/tenants/{body['id']}", headers=await gateway.headers(OPERATOR)
        )
        assert check.status_code == 404


# --- client lifecycle -----------------------------------------------------------------------


async def test_a_disabled_client_can_no_longer_get_a_token(gateway: Gateway) -> None:
    client_id, secret = await new_channel_client(gateway)
    ok = await token_request(
        gateway, {"grant_type": "client_credentials"}, basic=(client_id, secret)
    )
    assert ok.status_code == 200, ok.text
    await gateway.services.tenants.set_client_status(client_id, "disabled")
    refused = await token_request(
        gateway, {"grant_type": "client_credentials"}, basic=(client_id, secret)
    )
    assert_oauth_error(refused, 401, "invalid_client")


async def test_operator_disables_and_enables_a_client_through_the_admin_api(
    gateway: Gateway,
) -> None:
    client_id, secret = await new_channel_client(gateway)
    operator = await gateway.headers(OPERATOR)
    disabled = await gateway.http.post(f"/admin/clients/{client_id}/disable", headers=operator)
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["status"] == "disabled"
    assert_oauth_error(
        await token_request(
            gateway, {"grant_type": "client_credentials"}, basic=(client_id, secret)
        ),
        401,
        "invalid_client",
    )
    enabled = await gateway.http.post(f"/admin/clients/{client_id}/enable", headers=operator)
    assert enabled.status_code == 200, enabled.text
    again = await token_request(
        gateway, {"grant_type": "client_credentials"}, basic=(client_id, secret)
    )
    assert again.status_code == 200, again.text


async def test_after_rotate_secret_the_old_secret_fails_and_the_new_one_works(
    gateway: Gateway,
) -> None:
    client_id, old_secret = await new_channel_client(gateway)
    issued = await gateway.services.tenants.rotate_secret(client_id)
    assert issued.client_secret != old_secret
    assert_oauth_error(
        await token_request(
            gateway, {"grant_type": "client_credentials"}, basic=(client_id, old_secret)
        ),
        401,
        "invalid_client",
    )
    fresh = await token_request(
        gateway, {"grant_type": "client_credentials"}, basic=(client_id, issued.client_secret)
    )
    assert fresh.status_code == 200, fresh.text


async def test_rotate_secret_through_the_admin_api(gateway: Gateway) -> None:
    client_id, old_secret = await new_channel_client(gateway)
    response = await gateway.http.post(
        f"/admin/clients/{client_id}/rotate-secret", headers=await gateway.headers(OPERATOR)
    )
    assert response.status_code == 200, response.text
    new_secret = response.json()["client_secret"]
    assert new_secret
    assert new_secret != old_secret
    assert_oauth_error(
        await token_request(
            gateway, {"grant_type": "client_credentials"}, basic=(client_id, old_secret)
        ),
        401,
        "invalid_client",
    )
    fresh = await token_request(
        gateway, {"grant_type": "client_credentials"}, basic=(client_id, new_secret)
    )
    assert fresh.status_code == 200, fresh.text


# --- the admin API --------------------------------------------------------------------------


async def test_operator_creates_a_tenant_and_client_that_can_read_products(
    gateway: Gateway,
) -> None:
    operator = await gateway.headers(OPERATOR)
    tenant_id = unique("shop")
    created = await gateway.http.post(
        "/admin/tenants", json={"id": tenant_id, "name": "Shop Test"}, headers=operator
    )
    assert created.status_code == 201, created.text
    assert created.json()["id"] == tenant_id
    assert created.json()["status"] == "active"

    fetched = await gateway.http.get(f"/admin/tenants/{tenant_id}", headers=operator)
    assert fetched.status_code == 200
    listed = await gateway.http.get("/admin/tenants", headers=operator)
    assert tenant_id in {t["id"] for t in listed.json()["data"]}

    client_id = f"{tenant_id}-web"
    issued = await gateway.http.post(
        f"/admin/tenants/{tenant_id}/clients",
        json={"client_id": client_id, "name": "Web shop"},
        headers=operator,
    )
    assert issued.status_code == 201, issued.text
    body = issued.json()
    assert body["client"]["client_id"] == client_id
    assert body["client"]["tenant_id"] == tenant_id
    assert body["client"]["kind"] == "channel"
    assert "admin" not in body["client"]["scopes"]
    secret = body["client_secret"]
    clients = await gateway.http.get(f"/admin/tenants/{tenant_id}/clients", headers=operator)
    assert clients.status_code == 200
    assert secret not in clients.text  # shown once, never again

    token_response = await token_request(
        gateway, {"grant_type": "client_credentials"}, basic=(client_id, secret)
    )
    assert token_response.status_code == 200, token_response.text
    token = token_response.json()["access_token"]
    assert jwt_parts(token)[1]["tenant"] == tenant_id

    products = await gateway.http.get("/v1/products", params={"limit": 5}, headers=bearer(token))
    assert products.status_code == 200, products.text
    assert products.json()["data"], "the new tenant's sandbox is not seeded"


async def test_a_new_tenant_sees_none_of_another_tenants_orders(gateway: Gateway) -> None:
    placed = await gateway.http.post(
        "/v1/orders",
        json=payloads.order(),
        headers=await gateway.headers(CLIENT, **{"Idempotency-Key": payloads.idem()}),
    )
    assert placed.status_code == 202, placed.text
    operator = await gateway.headers(OPERATOR)
    tenant_id = unique("iso")
    assert (
        await gateway.http.post(
            "/admin/tenants", json={"id": tenant_id, "name": "Iso"}, headers=operator
        )
    ).status_code == 201
    client_id = f"{tenant_id}-app"
    issued = await gateway.http.post(
        f"/admin/tenants/{tenant_id}/clients",
        json={"client_id": client_id, "name": "App"},
        headers=operator,
    )
    token = (
        await token_request(
            gateway,
            {"grant_type": "client_credentials"},
            basic=(client_id, issued.json()["client_secret"]),
        )
    ).json()["access_token"]
    assert_problem(
        await gateway.http.get(f"/v1/orders/{placed.json()['id']}", headers=bearer(token)), 404
    )
    assert (await gateway.http.get("/v1/orders", headers=bearer(token))).json()["data"] == []


@pytest.mark.parametrize(
    ("body", "status"),
    [
        pytest.param({"id": "Bad_Id!", "name": "X"}, 400, id="malformed-id"),
        pytest.param({"id": "x", "name": "X"}, 400, id="id-too-short"),
        pytest.param({"name": "X"}, 400, id="missing-id"),
        pytest.param({"id": "ok-id-1", "name": ""}, 400, id="empty-name"),
        pytest.param({"id": "ok-id-2", "name": "X", "plan": "gold"}, 400, id="unknown-field"),
        pytest.param({"id": "ok-id-3", "name": "X", "channels": []}, 400, id="no-channels"),
        pytest.param(
            {"id": "ok-id-4", "name": "X", "channels": ["Web Shop"]}, 400, id="malformed-channel"
        ),
        pytest.param({"id": "acme", "name": "Again"}, 409, id="existing-tenant"),
    ],
)
async def test_invalid_tenant_creation_is_refused(
    gateway: Gateway, body: dict[str, Any], status: int
) -> None:
    response = await gateway.http.post(
        "/admin/tenants", json=body, headers=await gateway.headers(OPERATOR)
    )
    assert_problem(response, status)
    if status == 400 and "id" in body:
        missing = await gateway.http.get(
            f"/admin/tenants/{body['id']}", headers=await gateway.headers(OPERATOR)
        )
        assert missing.status_code == 404


@pytest.mark.parametrize(
    ("tenant", "body", "status"),
    [
        pytest.param("acme", {"client_id": "ab", "name": "X"}, 400, id="client-id-too-short"),
        pytest.param(
            "acme", {"client_id": "has space", "name": "X"}, 400, id="malformed-client-id"
        ),
        pytest.param(
            "acme",
            {"client_id": "new-client-x1", "name": "X", "scopes": ["admin"]},
            400,
            id="admin-scope",
        ),
        pytest.param(
            "acme",
            {"client_id": "new-client-x2", "name": "X", "scopes": ["bogus"]},
            400,
            id="unknown-scope",
        ),
        pytest.param(
            "acme",
            {"client_id": "new-client-x3", "name": "X", "secret": "mine"},
            400,
            id="unknown-field",
        ),
        pytest.param("acme", {"client_id": "acme-client", "name": "X"}, 409, id="existing-client"),
        pytest.param(
            "no-such-tenant", {"client_id": "new-client-x4", "name": "X"}, 404, id="unknown-tenant"
        ),
    ],
)
async def test_invalid_client_creation_is_refused(
    gateway: Gateway, tenant: str, body: dict[str, Any], status: int
) -> None:
    response = await gateway.http.post(
        f"/admin/tenants/{tenant}/clients", json=body, headers=await gateway.headers(OPERATOR)
    )
    assert_problem(response, status)


async def test_a_client_created_with_no_scopes_does_not_get_every_scope(gateway: Gateway) -> None:
    """Asking for `scopes: []` must not silently grant every /v1 scope."""
    client_id = unique("noscope")
    response = await gateway.http.post(
        "/admin/tenants/acme/clients",
        json={"client_id": client_id, "name": "No scopes", "scopes": []},
        headers=await gateway.headers(OPERATOR),
    )
    assert_problem(response, 400)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/admin/tenants/ac%00me"),
        ("GET", "/admin/tenants/ac%00me/clients"),
        ("POST", "/admin/clients/ac%00me/rotate-secret"),
        ("POST", "/admin/clients/ac%00me/disable"),
    ],
)
async def test_admin_ids_with_a_nul_character_are_404(
    gateway: Gateway, method: str, path: str
) -> None:
    response = await gateway.http.request(method, path, headers=await gateway.headers(OPERATOR))
    assert_problem(response, 404)


async def test_admin_names_with_a_nul_character_are_400(gateway: Gateway) -> None:
    operator = await gateway.headers(OPERATOR)
    tenant = await gateway.http.post(
        "/admin/tenants", json={"id": unique("nul"), "name": "Sh\u0000op"}, headers=operator
    )
    assert_problem(tenant, 400)
    client = await gateway.http.post(
        "/admin/tenants/acme/clients",
        json={"client_id": unique("nul"), "name": "W\u0000eb"},
        headers=operator,
    )
    assert_problem(client, 400)


async def test_rotate_or_disable_of_an_unknown_client_is_404(gateway: Gateway) -> None:
    operator = await gateway.headers(OPERATOR)
    for action in ("rotate-secret", "disable", "enable"):
        response = await gateway.http.post(
            f"/admin/clients/{unique('ghost')}/{action}", headers=operator
        )
        assert_problem(response, 404)
