"""A small OpenID Connect provider on loopback, for signing in to the console in a real browser.

It serves what a real provider serves for the authorization code flow: a discovery document
(checked by Authlib's ``OpenIDProviderMetadata``), an authorize endpoint, a token endpoint
and a JWKS. The authorize endpoint approves the test user set in ``user`` at once (no login
form), so a test chooses who signs in next; everything else is checked as a provider would:
the client and its secret, the registered redirect URI, the one-time code, PKCE (S256, with
Authlib's own challenge function) and the nonce, carried into an RS256 ``id_token`` signed
with a key made at start-up by joserfc, Authlib's JOSE library.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote_plus, urlencode, urlsplit

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.discovery import OpenIDProviderMetadata
from joserfc import jwt
from joserfc.jwk import RSAKey

TOKEN_TTL_S = 300


class OIDCProvider:
    """``start()`` it, point ``server_metadata_url`` at ``metadata_url``, set ``user`` before each sign-in."""

    def __init__(self, client_id: str, client_secret: str, redirect_uri: str):
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.user: dict = {}
        self.sign_ins: list[str] = []  # e-mail of each user a token was issued for, in order
        self._key = RSAKey.generate_key(2048, parameters={"kid": "e2e-signing-key", "use": "sig", "alg": "RS256"})
        self._codes: dict[str, dict] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.issuer = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="oidc-provider", daemon=True)

    @property
    def metadata_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def start(self) -> OIDCProvider:
        self.metadata().validate()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def metadata(self) -> OpenIDProviderMetadata:
        return OpenIDProviderMetadata(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "email", "profile"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
                "grant_types_supported": ["authorization_code"],
                "code_challenge_methods_supported": ["S256"],
                "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nonce", "email", "email_verified", "name", "groups"],
            }
        )

    # --- the two steps of the flow ----------------------------------------------------------

    def authorize(self, query: dict[str, str]) -> tuple[int, dict]:
        """Approve ``user``: a redirect carrying a one-time code, or an error status."""
        if query.get("client_id") != self.client_id or query.get("redirect_uri") != self.redirect_uri:
            return 400, {"error": "invalid_request", "error_description": "unknown client or redirect_uri"}
        if query.get("response_type") != "code" or "openid" not in query.get("scope", "").split():
            return 400, {"error": "unsupported_response_type"}
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = {
                "nonce": query.get("nonce"),
                "challenge": query.get("code_challenge"),
                "user": dict(self.user),
                "issued": time.time(),
            }
        location = f"{self.redirect_uri}?{urlencode({'code': code, 'state': query.get('state', '')})}"
        return 302, {"Location": location}

    def token(self, form: dict[str, str], authorization: str | None) -> tuple[int, dict]:
        client_id, client_secret = _client_credentials(form, authorization)
        if client_id != self.client_id or not secrets.compare_digest(client_secret or "", self.client_secret):
            return 401, {"error": "invalid_client"}
        with self._lock:
            grant = self._codes.pop(form.get("code", ""), None)  # a code is good once
        if form.get("grant_type") != "authorization_code" or grant is None or time.time() - grant["issued"] > 60:
            return 400, {"error": "invalid_grant"}
        if form.get("redirect_uri") != self.redirect_uri:
            return 400, {"error": "invalid_grant", "error_description": "redirect_uri differs"}
        if grant["challenge"] and create_s256_code_challenge(form.get("code_verifier", "")) != grant["challenge"]:
            return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
        now = int(time.time())
        user = grant["user"]
        claims = {
            "iss": self.issuer,
            "sub": user.get("sub") or user["email"],
            "aud": self.client_id,
            "iat": now,
            "exp": now + TOKEN_TTL_S,
            **({"nonce": grant["nonce"]} if grant["nonce"] else {}),
            **{k: v for k, v in user.items() if k != "sub"},
        }
        id_token = jwt.encode({"alg": "RS256", "kid": self._key.kid}, claims, self._key)
        self.sign_ins.append(user.get("email", ""))
        return 200, {
            "access_token": secrets.token_urlsafe(24),
            "token_type": "Bearer",
            "expires_in": TOKEN_TTL_S,
            "scope": "openid email profile",
            "id_token": id_token,
        }

    def jwks(self) -> dict:
        return {"keys": [self._key.as_dict(private=False)]}


def _client_credentials(form: dict[str, str], authorization: str | None) -> tuple[str | None, str | None]:
    if authorization and authorization.lower().startswith("basic "):
        decoded = base64.b64decode(authorization[6:]).decode()
        client_id, _, client_secret = decoded.partition(":")  # each form-encoded first (RFC 6749 2.3.1)
        return unquote_plus(client_id), unquote_plus(client_secret)
    return form.get("client_id"), form.get("client_secret")


def _handler(provider: OIDCProvider):
    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: dict) -> None:
            if status == 302:
                self.send_response(302)
                self.send_header("Location", body["Location"])
                self.end_headers()
                return
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == "/.well-known/openid-configuration":
                self._send(200, dict(provider.metadata()))
            elif url.path == "/jwks":
                self._send(200, provider.jwks())
            elif url.path == "/authorize":
                self._send(*provider.authorize(query))
            else:
                self._send(404, {"error": "not_found"})

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if urlsplit(self.path).path == "/token":
                self._send(*provider.token(form, self.headers.get("Authorization")))
            else:
                self._send(404, {"error": "not_found"})

        def log_message(self, *args) -> None:  # the test output stays readable
            pass

    return Handler
