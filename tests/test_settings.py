"""Settings: sources and their order, validation, derived values."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from lorafox.settings import Settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("LORAFOX_"):
            monkeypatch.delenv(name)


@pytest.mark.sqlite  # the default database is a SQLite file in the data dir
def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    s = Settings.load(None)
    assert (s.host, s.http_port, s.mqtt_port) == ("127.0.0.1", 8080, 1883)
    assert s.data_dir == tmp_path / "lorafox"
    assert s.sqlalchemy_url == f"sqlite+aiosqlite:///{tmp_path / 'lorafox' / 'lorafox.db'}"
    assert s.embedded_broker
    assert s.mqtt.downlink_topic_level() == 3


def test_flags_beat_env_beat_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        'http_port = 1\nmqtt_port = 2\nhost = "0.0.0.0"\n[mqtt]\nuplink_topic = "up/{device}"\n'
    )
    monkeypatch.setenv("LORAFOX_HTTP_PORT", "3")
    monkeypatch.setenv("LORAFOX_MQTT_PORT", "4")
    s = Settings.load(config, mqtt_port=5)
    assert (s.http_port, s.mqtt_port, s.host) == (3, 5, "0.0.0.0")
    assert s.mqtt.uplink_topic == "up/{device}"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("185.110.96.0/22", ["185.110.96.0/22"]),
        ("185.110.96.0/22, 10.0.0.0/8", ["185.110.96.0/22", "10.0.0.0/8"]),
        ('["::1/128"]', ["::1/128"]),
    ],
)
def test_allowed_networks_from_env(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: list[str]
) -> None:
    monkeypatch.setenv("LORAFOX_SIGFOX__ALLOWED_NETWORKS", value)
    assert Settings.load(None).sigfox.allowed_networks == expected


@pytest.mark.parametrize(
    "overrides",
    [
        {"sigfox": {"allowed_networks": ["not-a-network"]}},
        {"mqtt_url": "http://broker"},
        {"http_port": 70000},
        {"log_level": "LOUD"},
        {"mqtt": {"downlink_device": "topic(0)"}},
        {"mqtt": {"downlink_device": "no spaces"}},
        {"unknown": 1},
    ],
)
def test_invalid(overrides: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Settings.load(None, **overrides)


def test_derived(tmp_path: Path) -> None:
    s = Settings.load(None, database_url="postgresql://u@h/db", mqtt_url="mqtt://b:1883")
    assert s.sqlalchemy_url == "postgresql+asyncpg://u@h/db"
    assert not s.embedded_broker
    field = Settings.load(None, mqtt={"downlink_device": "deviceId"})
    assert field.mqtt.downlink_topic_level() is None
