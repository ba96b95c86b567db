"""An independent OpenID Connect relying party, built on Authlib (the library Synapse's
`oidc` extra uses), run against a roomkey by tests/oidc_relying_party.rs.

It knows nothing but the issuer: everything else comes from discovery. It signs in through
roomkey's own sign-in form (as a browser would, CSRF token taken from the page), exchanges
the code with PKCE, validates the ID token against the JWKS (signature, iss, aud, exp,
nonce, at_hash), calls userinfo, refreshes, and checks that reusing a rotated refresh
token revokes the whole family. Prints "ok" when every check passed.

Usage: relying_party.py ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI LOGIN PASSWORD
"""

import html
import re
import sys
import urllib.parse

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt
from authlib.oidc.core import CodeIDToken


def hidden(page, name):
    match = re.search(r'name="%s" value="([^"]*)"' % name, page.text)
    assert match, "no %s field in %s" % (name, page.text)
    return html.unescape(match.group(1))


def refresh_refused(client, endpoint, refresh_token):
    try:
        client.refresh_token(endpoint, refresh_token=refresh_token)
    except Exception as error:  # Authlib raises its OAuthError with the RFC 6749 code
        return getattr(error, "error", None) == "invalid_grant"
    return False


def main(issuer, client_id, secret, redirect_uri, login, password):
    meta = requests.get(issuer + "/.well-known/openid-configuration").json()
    assert meta["issuer"] == issuer, meta
    assert "S256" in meta["code_challenge_methods_supported"], meta

    client = OAuth2Session(
        client_id,
        secret,
        scope="openid profile email",
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    )
    verifier = generate_token(64)
    nonce = generate_token(24)
    url, state = client.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )

    browser = requests.Session()
    page = browser.get(url, allow_redirects=False)
    assert page.status_code == 200, (page.status_code, page.text)
    form = {
        "csrf": hidden(page, "csrf"),
        "authorize": hidden(page, "authorize"),
        "login": login,
        "password": password,
    }
    signed_in = browser.post(issuer + "/oidc/sign-in", data=form, allow_redirects=False)
    assert signed_in.status_code == 303, (signed_in.status_code, signed_in.text)
    back = urllib.parse.urljoin(issuer, signed_in.headers["location"])
    granted = browser.get(back, allow_redirects=False)
    callback = granted.headers["location"]
    assert callback.startswith(redirect_uri + "?"), callback

    token = client.fetch_token(
        meta["token_endpoint"],
        authorization_response=callback,
        state=state,
        code_verifier=verifier,
    )
    keys = JsonWebKey.import_key_set(requests.get(meta["jwks_uri"]).json())
    claims = jwt.decode(
        token["id_token"],
        keys,
        claims_cls=CodeIDToken,
        claims_options={
            "iss": {"essential": True, "value": issuer},
            "aud": {"essential": True, "value": client_id},
        },
        claims_params={
            "nonce": nonce,
            "client_id": client_id,
            "access_token": token["access_token"],
        },
    )
    claims.validate()
    assert claims["preferred_username"] == login, claims

    info = client.get(meta["userinfo_endpoint"])
    assert info.status_code == 200, info.text
    assert info.json()["sub"] == claims["sub"], info.text

    first_refresh = token["refresh_token"]
    rotated = client.refresh_token(meta["token_endpoint"], refresh_token=first_refresh)
    assert rotated["refresh_token"] != first_refresh
    new_access = rotated["access_token"]
    bearer = {"Authorization": "Bearer " + new_access}
    assert requests.get(meta["userinfo_endpoint"], headers=bearer).status_code == 200

    assert refresh_refused(client, meta["token_endpoint"], first_refresh), "reuse accepted"
    assert refresh_refused(
        client, meta["token_endpoint"], rotated["refresh_token"]
    ), "the family survived a reuse"
    assert requests.get(meta["userinfo_endpoint"], headers=bearer).status_code == 401
    print("ok")


if __name__ == "__main__":
    main(*sys.argv[1:])
