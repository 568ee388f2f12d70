"""The configuration: bad keys and values are refused naming the key; env overrides the file."""

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer import Typer
from typer.testing import CliRunner

from gateway.runtime.cli import run
from gateway.runtime.config import ConfigError, load_config

EXAMPLE = Path(__file__).parents[2] / "examples" / "gateway.yaml"
METER = {"meter_id": "P1", "unit": 1, "model": "prepaid-v1"}


def write(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(document) if not isinstance(document, str) else document)
    return path


def problem(tmp_path: Path, document: Any) -> tuple[str, str]:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, document))
    return caught.value.key, caught.value.reason


def tcp_link(*meters: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"modbus": {"links": [{"kind": "tcp", "host": "h", "meters": list(meters), **extra}]}}


@pytest.mark.parametrize(
    ("document", "key", "reason"),
    [
        (tcp_link(METER, METER | {"meter_id": "P2"}, METER | {"meter_id": "P3", "model": "sdm12O"}),
         "modbus.links[0].meters[2].model", "unknown model 'sdm12O' (known: abb-b2x"),
        ({"database": {"url": "mysql://x"}}, "database.url", "unsupported database 'mysql'"),
        ({"database": {"url": "not a url"}}, "database.url", "not a database URL"),
        ({"mqtt": {"hots": "broker"}}, "mqtt.hots", "unknown key"),
        ({"mqt": {}}, "mqt", "unknown key"),
        ({"mqtt": {"port": 70000}}, "mqtt.port", "less than or equal to 65535"),
        ({"mqtt": {"prefix": "site1"}}, "mqtt.prefix", "must be empty or end with '/'"),
        ({"mqtt": {"qos": 0}}, "mqtt.qos", "Input should be 1"),
        (tcp_link(METER, device="/dev/ttyUSB0"), "modbus.links[0]", "not device/baud/parity"),
        ({"modbus": {"links": [{"kind": "rtu", "meters": [METER]}]}}, "modbus.links[0]",
         "needs `device`"),
        (tcp_link(METER, METER), "modbus", "meter_id 'P1' appears twice"),
        ({"credit_control": {"friendly_hours": ["18:00", "8:00"], "timezone": "Mars/Olympus"}},
         "credit_control.timezone", "unknown time zone 'Mars/Olympus'"),
        ("credit_control: {friendly_hours: [18:00, '08:00']}", "credit_control.friendly_hours[0]",
         "quoted text"),
        ({"alerts": {"webhooks": [{"url": "https://b.example/hook"}]}}, "alerts.webhooks[0]",
         "exactly one of `secret` or `secret_env`"),
        ({"alerts": {"webhooks": [{"url": "https://b", "secret_env": "NOPE_NOT_SET"}]}},
         "alerts.webhooks[0]", "NOPE_NOT_SET is not set"),
        ({"alerts": {"mqtt_topic": "alerts/{meter}"}}, "alerts.mqtt_topic", "{account_id}"),
        ({"logging": {"level": "LOUD"}}, "logging.level", "Input should be"),
        ("- a list", "(top level)", "must be a mapping"),
    ],
)  # fmt: skip
def test_a_bad_value_is_refused_naming_its_key(
    tmp_path: Path, document: Any, key: str, reason: str
) -> None:
    got_key, got_reason = problem(tmp_path, document)
    assert got_key == key
    assert reason in got_reason


def test_every_problem_is_reported_not_only_the_first(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, {"mqtt": {"port": 0, "hots": "x"}, "http": {"port": -1}}))
    assert [key for key, _ in caught.value.problems] == ["mqtt.port", "mqtt.hots", "http.port"]


def test_environment_overrides_nested_keys_and_is_validated_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(
        tmp_path, {"mqtt": {"host": "broker", "port": 1883}, "database": {"url": "sqlite://"}}
    )
    monkeypatch.setenv("PREPAID_GATEWAY_MQTT__PORT", "8883")
    monkeypatch.setenv("PREPAID_GATEWAY_DATABASE__URL", "postgresql://gw@db/prepaid")
    monkeypatch.setenv("PREPAID_GATEWAY_LOGGING__JSON", "true")
    config = load_config(path)
    assert (config.mqtt.host, config.mqtt.port) == ("broker", 8883)  # the file's host kept
    assert config.database.url == "postgresql://gw@db/prepaid"
    assert config.logging.json_lines is True
    monkeypatch.setenv("PREPAID_GATEWAY_MQTT__PORT", "eighty")
    assert problem(tmp_path, {})[0] == "mqtt.port"


def test_a_webhook_secret_can_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BILLING_HOOK_SECRET", "s3cret")
    hook = {"url": "https://billing.example/hooks", "secret_env": "BILLING_HOOK_SECRET"}
    config = load_config(write(tmp_path, {"alerts": {"webhooks": [hook]}}))
    assert config.alerts.webhooks[0].signing_secret == "s3cret"


def test_the_example_configuration_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREPAID_GATEWAY_WEBHOOK_SECRET", "example")
    config = load_config(EXAMPLE)
    assert config.modbus.links
    assert config.tasmota.devices


def test_the_run_command_prints_config_errors_and_exits_2(tmp_path: Path) -> None:
    cli = Typer()
    cli.command()(run)
    path = write(tmp_path, tcp_link(METER | {"model": "sdm12O"}))
    result = CliRunner().invoke(cli, ["--config", str(path)])
    assert result.exit_code == 2
    assert "config error: modbus.links[0].meters[0].model: unknown model 'sdm12O'" in result.output
    missing = CliRunner().invoke(cli, ["--config", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 2
    assert "nope.yaml: cannot read" in missing.output
