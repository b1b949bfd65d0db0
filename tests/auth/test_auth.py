"""Basic auth parsing, caching, argon2 and the secret box."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from lorafox.auth.basic import BasicAuthenticator, parse_basic
from lorafox.auth.passwords import hash_password, verify_password
from lorafox.auth.secretbox import SecretBox
from lorafox.errors import AuthenticationFailed, ConfigError


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_parse_basic() -> None:
    assert parse_basic(basic("a", "b:c")) == ("a", "b:c")


@pytest.mark.parametrize(
    "header", [None, "", "Bearer x", "Basic !!!", "Basic " + base64.b64encode(b"nocolon").decode()]
)
def test_parse_basic_refuses(header: str | None) -> None:
    with pytest.raises(AuthenticationFailed):
        parse_basic(header)


async def test_authenticator_caches_successes_and_failures() -> None:
    calls: list[tuple[str, str]] = []

    async def verify(user: str, password: str) -> bool:
        calls.append((user, password))
        return (user, password) == ("u", "right")

    auth = BasicAuthenticator(verify)
    for _ in range(3):
        assert await auth.authenticate(basic("u", "right")) == "u"
    for _ in range(3):
        with pytest.raises(AuthenticationFailed):
            await auth.authenticate(basic("u", "wrong"))
    assert calls == [("u", "right"), ("u", "wrong")]
    auth.forget()
    assert await auth.authenticate(basic("u", "right")) == "u"
    assert len(calls) == 3


def test_argon2_passwords() -> None:
    hashed = hash_password("correct horse")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "correct horse")
    assert not verify_password(hashed, "wrong")
    assert not verify_password("not a hash", "x")


def test_secret_box_round_trip_and_key_file(tmp_path: Path) -> None:
    box = SecretBox.from_data_dir(tmp_path)
    token = box.encrypt("s3cret")
    assert "s3cret" not in token
    assert SecretBox.from_data_dir(tmp_path).decrypt(token) == "s3cret"
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(ConfigError):
        SecretBox.from_data_dir(other).decrypt(token)
