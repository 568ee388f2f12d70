"""docker-compose.yml as Compose reads it: services, health checks, start order, and the
configuration files it mounts validated by the project's own loaders (so they cannot drift)."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from gateway.runtime.config import GatewayConfig, load_config
from simulators.scenario import Scenario, load_scenario
from tests.deploy.conftest import ENV_PREFIX, ROOT, host_path, parse_cli

APP_SERVICES = {"migrate", "gateway", "api", "simulators", "webhook-receiver"}
LONG_RUNNING = {"postgres", "mosquitto", "gateway", "api", "simulators", "webhook-receiver"}


def _depends(service: dict[str, Any]) -> dict[str, str]:
    return {name: spec["condition"] for name, spec in service.get("depends_on", {}).items()}


def _health_url(service: dict[str, Any]) -> str:
    test = " ".join(service["healthcheck"]["test"])
    start = test.index("http://")
    return test[start : test.index("'", start)]


@pytest.fixture
def gateway_config(services: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> GatewayConfig:
    """deploy/gateway.yaml loaded with exactly the environment the gateway service gets."""
    for name in [k for k in os.environ if k.startswith(ENV_PREFIX)]:
        monkeypatch.delenv(name)
    for name, value in services["gateway"]["environment"].items():
        monkeypatch.setenv(name, str(value))
    return load_config(ROOT / "deploy" / "gateway.yaml")


@pytest.fixture
def scenario(services: dict[str, Any]) -> Scenario:
    return load_scenario(Path(host_path(services["simulators"]["command"][-1])))


def test_the_stack_has_its_services_each_with_a_health_check(services: dict[str, Any]) -> None:
    assert set(services) == LONG_RUNNING | {"migrate"}
    for name in LONG_RUNNING:
        test = services[name]["healthcheck"]["test"]
        assert test[0] in {"CMD", "CMD-SHELL"}, name
    assert services["migrate"]["healthcheck"]["test"] == ["NONE"]  # one-shot
    assert services["migrate"]["restart"] == "no"
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"][1]
    assert "mosquitto_sub" in services["mosquitto"]["healthcheck"]["test"][1]


def test_start_order_migrates_before_the_gateway_and_the_api(services: dict[str, Any]) -> None:
    assert _depends(services["migrate"]) == {"postgres": "service_healthy"}
    assert _depends(services["gateway"]) == {
        "migrate": "service_completed_successfully",
        "mosquitto": "service_healthy",
        "webhook-receiver": "service_healthy",
    }
    assert _depends(services["api"]) == {"migrate": "service_completed_successfully"}
    assert _depends(services["simulators"]) == {"mosquitto": "service_healthy"}


def test_ports_are_published_on_loopback_only(services: dict[str, Any]) -> None:
    published = [p for s in services.values() for p in s.get("ports", [])]
    assert published
    for port in published:
        assert str(port).startswith("127.0.0.1:"), port


def test_every_service_command_parses_with_the_real_cli(services: dict[str, Any]) -> None:
    expected = {
        "migrate": "upgrade",
        "gateway": "run",
        "api": "serve",
        "simulators": "fleet",
    }
    for name, command_name in expected.items():
        command, context = parse_cli(services[name]["command"])
        assert command.name == command_name, name
        for value in context.params.values():
            if isinstance(value, Path) and str(value).startswith(str(ROOT)):
                assert value.is_file(), f"{name}: {value} is not in deploy/"
    receiver = services["webhook-receiver"]["command"]
    assert Path(host_path(receiver[1])).is_file()


def test_all_app_services_share_one_database_and_the_mounted_configuration(
    services: dict[str, Any],
) -> None:
    for name in APP_SERVICES:
        env = services[name]["environment"]
        url = env["PREPAID_GATEWAY_DATABASE_URL"]
        assert env["PREPAID_GATEWAY_DATABASE__URL"] == url, name  # `db upgrade` = the gateway's
        assert urlsplit(url).hostname == "postgres"
        assert env["PREPAID_GATEWAY_WEBHOOK_SECRET"]
        assert any(v.endswith(":/etc/prepaid-gateway:ro") for v in services[name]["volumes"])
    password = services["postgres"]["environment"]["POSTGRES_PASSWORD"]
    assert (
        urlsplit(services["gateway"]["environment"]["PREPAID_GATEWAY_DATABASE_URL"]).password
        == password
    )


def test_gateway_yaml_is_valid_with_the_compose_environment(
    gateway_config: GatewayConfig, services: dict[str, Any]
) -> None:
    config = gateway_config
    assert (
        config.database.url == services["gateway"]["environment"]["PREPAID_GATEWAY_DATABASE__URL"]
    )
    assert config.mqtt.host in services
    assert config.mqtt.port == 1883
    assert config.http.host == "0.0.0.0"
    health = urlsplit(_health_url(services["gateway"]))
    assert (health.port, health.path) == (config.http.port, "/health")
    assert f"127.0.0.1:{config.http.port}:{config.http.port}/tcp" in services["gateway"]["ports"]
    for webhook in config.alerts.webhooks:
        target = urlsplit(webhook.url)
        assert target.hostname in services
        assert str(target.port) in services[target.hostname]["command"]
        assert (
            webhook.signing_secret
            == services["gateway"]["environment"]["PREPAID_GATEWAY_WEBHOOK_SECRET"]
        )


def test_the_api_reads_the_same_configuration(services: dict[str, Any]) -> None:
    _, context = parse_cli(services["api"]["command"])
    assert context.params["config"] == ROOT / "deploy" / "gateway.yaml"
    assert context.params["host"] == "0.0.0.0"
    health = urlsplit(_health_url(services["api"]))
    assert health.port == context.params["port"]
    assert f"127.0.0.1:{health.port}:{health.port}/tcp" in services["api"]["ports"]


def test_the_fleet_serves_every_meter_the_gateway_polls(
    gateway_config: GatewayConfig, scenario: Scenario, services: dict[str, Any]
) -> None:
    sockets: dict[int, tuple[str, int]] = {}  # port -> (model, units on it)
    for group in scenario.groups:
        if group.transport != "modbus-tcp":
            continue
        assert group.base_port, f"{group.name}: fixed ports, so the gateway can name them"
        for index in range(math.ceil(group.count / group.units_per_socket)):
            units = min(group.units_per_socket, group.count - index * group.units_per_socket)
            sockets[group.base_port + index] = (group.model, units)
    assert gateway_config.modbus.links
    for link in gateway_config.modbus.links:
        assert (link.kind, link.host) == ("tcp", "simulators")
        assert link.port in sockets, f"nothing serves simulators:{link.port}"
        model, units = sockets[link.port]
        for meter in link.meters:
            assert meter.model == model, meter
            assert 1 <= meter.unit <= units, meter
    healthcheck = " ".join(services["simulators"]["healthcheck"]["test"])
    assert "5020" in healthcheck
    assert 5020 in sockets
    assert scenario.host == "0.0.0.0"
    assert (scenario.mqtt.host, scenario.mqtt.port) == (
        gateway_config.mqtt.host,
        gateway_config.mqtt.port,
    )
    assert scenario.acceleration == 1  # meter clocks ahead of the gateway's would be refused
