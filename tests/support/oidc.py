"""A real OpenID provider for tests: node's oidc-provider (tests/support/oidc_provider.mjs) in
its own process on a free 127.0.0.1 port, started and stopped around a test.

The test makes the provider's signing key, so it can also sign ID tokens of its own with it
(the cases a well-behaved provider never issues: another audience, a past expiry). The client
is registered as a native one, whose loopback redirect URIs match on any port: the app's port
is not known when the provider starts.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from joserfc.jwk import RSAKey

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).resolve().parent / "oidc_provider.mjs"
START_SECONDS = 30
CLIENT_ID = "sightline"
CLIENT_SECRET = "sightline-test-client-secret"
PROVIDER = "contoso"  # the name the app's settings give the provider
# Accounts the provider knows: the login typed on its page -> the claims it asserts.
ACCOUNTS: dict[str, dict[str, Any]] = {
    "eve": {"email": "Eve@Example.com", "email_verified": True, "name": "Eve Employee"},
    "ada": {"email": "ADA@example.com", "email_verified": True, "name": "Ada Lovelace"},
    "stranger": {"email": "stranger@example.org", "email_verified": True, "name": "Stranger"},
    "unverified": {"email": "eli@example.com", "email_verified": False, "name": "Eli"},
}


@dataclass(frozen=True)
class RunningProvider:
    """The running provider: its issuer URL and the private key it signs with."""

    issuer: str
    key: RSAKey  # joserfc's private key, with the provider's kid

    def settings(self, **overrides: Any) -> list[dict[str, Any]]:
        """The app's SIGHTLINE_OIDC_PROVIDERS for this provider."""
        return [{
            "name": PROVIDER, "label": "Sign in with Contoso", "issuer": self.issuer,
            "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **overrides,
        }]


def _client(redirect_names: list[str]) -> dict[str, Any]:
    return {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "application_type": "native",
        "redirect_uris": [f"http://127.0.0.1/login/oidc/{name}/callback"
                          for name in redirect_names],
        "post_logout_redirect_uris": ["http://127.0.0.1/login"],
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_basic",
    }


@contextmanager
def running_provider(folder: Path) -> Iterator[RunningProvider]:
    """The provider, serving until the block ends; its log is printed afterwards."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is missing: the OpenID provider of the tests runs on it (make setup)")
    key = RSAKey.generate_key(2048, {"kid": "test-signing-key", "use": "sig", "alg": "RS256"},
                              private=True)
    config = {
        "clients": [_client([PROVIDER])],
        "accounts": ACCOUNTS,
        "jwks": {"keys": [key.as_dict(private=True)]},
    }
    config_file = folder / "oidc-provider.json"
    config_file.write_text(json.dumps(config))
    log = folder / "oidc-provider.log"
    with log.open("w") as errors:
        process = subprocess.Popen([node, str(SCRIPT), str(config_file)], cwd=ROOT,
                                   stdout=subprocess.PIPE, stderr=errors, text=True)
        try:
            port = _announced_port(process, log)
            yield RunningProvider(issuer=f"http://127.0.0.1:{port}", key=key)
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout:
                process.stdout.close()
    output = log.read_text()
    if output.strip():
        print(f"--- OpenID provider log ---\n{output}")


def _announced_port(process: subprocess.Popen[str], log: Path) -> int:
    found: list[int] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("PORT "):
                found.append(int(line.split()[1]))
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(START_SECONDS)
    if not found:
        process.kill()
        pytest.fail(f"the OpenID provider did not start:\n{log.read_text()}")
    return found[0]
