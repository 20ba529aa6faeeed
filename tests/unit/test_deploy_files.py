"""Static checks of the container deployment files (deploy/Dockerfile, deploy/compose.yaml, deploy/prometheus.yml,
deploy/grafana/babelstream.json).

No Docker engine is needed: compose.yaml is parsed with PyYAML, the Dockerfile read as text.
`docker compose config` runs only where the compose plugin exists (it needs no engine).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY = REPO_ROOT / "deploy"
COMPOSE_FILE = DEPLOY / "compose.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
PROMETHEUS_FILE = DEPLOY / "prometheus.yml"
DASHBOARD_FILE = DEPLOY / "grafana" / "babelstream.json"
MESSAGE_MAX_BYTES = 2097152
STAGES = ("segmenter", "asr", "translate", "tts")
BABELSTREAM = Path(sys.executable).parent / "babelstream"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict) -> dict:
    return compose["services"]


def _ours(services: dict) -> dict:
    """Services built from our Dockerfile (the gateway and the stages)."""
    return {
        name: svc
        for name, svc in services.items()
        if isinstance(svc.get("build"), dict) and str(svc["build"].get("dockerfile", "")).endswith("Dockerfile")
    }


def _env(service: dict) -> dict:
    env = service.get("environment") or {}
    if isinstance(env, list):  # ["KEY=value", ...]
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def _parse_bytes(value) -> int:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([bkmg]?)b?", str(value).strip().lower())
    assert match, f"unreadable memory size {value!r}"
    number, unit = match.groups()
    return int(float(number) * {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[unit])


def _memory_limit(service: dict):
    limits = ((service.get("deploy") or {}).get("resources") or {}).get("limits") or {}
    return service.get("mem_limit", limits.get("memory"))


def _cpu_limit(service: dict):
    limits = ((service.get("deploy") or {}).get("resources") or {}).get("limits") or {}
    return service.get("cpus", limits.get("cpus"))


def _published_ports(service: dict) -> list[str]:
    """Every published port as 'host_ip:published:target' (short syntax) or its long-syntax equivalent."""
    out = []
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            out.append(f"{port.get('host_ip', '')}:{port.get('published', '')}:{port.get('target', '')}")
        else:
            out.append(str(port))
    return out


def test_expected_services(services):
    assert "kafka" in services and "prometheus" in services
    ours = _ours(services)
    assert set(ours) == {"gateway", "metrics-token", *STAGES}, f"services built from deploy/Dockerfile: {sorted(ours)}"


def test_our_services_use_the_project_image_and_commands(services):
    ours = _ours(services)
    for name, svc in ours.items():
        assert svc["build"]["context"] == "..", name
        assert svc["build"]["dockerfile"] == "deploy/Dockerfile", name
        if name == "metrics-token":
            continue  # it mints a token and exits: no bus (test_the_metrics_token_service_mints_...)
        env = _env(svc)
        assert env.get("KAFKA_BOOTSTRAP_SERVERS") == "kafka:9092", name
        assert env.get("BUS") == "kafka", name
        assert svc.get("depends_on", {}).get("kafka", {}).get("condition") == "service_healthy", name
    assert list(services["gateway"]["command"]) == ["gateway"]
    # It binds 0.0.0.0 in its container: without credentials `babelstream gateway` refuses to start.
    assert services["gateway"]["environment"]["HOST"] == "0.0.0.0"
    assert "BABELSTREAM_JWT_SECRET" in services["gateway"]["environment"]["JWT_SECRET"]
    for stage in STAGES:
        assert list(services[stage]["command"]) == ["stage", stage]


@pytest.mark.parametrize("name", ["gateway", "metrics-token", *STAGES])
def test_service_hardening(services, name):
    svc = services[name]
    user = str(svc.get("user", ""))
    uid = user.split(":")[0]
    assert uid and uid not in ("0", "root"), f"{name}: must run as a non-root user, got user={user!r}"
    assert user == "10001:10001", name
    assert svc.get("read_only") is True, f"{name}: read_only root filesystem"
    assert "ALL" in [str(cap).upper() for cap in svc.get("cap_drop") or []], f"{name}: cap_drop ALL"
    assert any(str(opt).replace("=", ":") == "no-new-privileges:true" for opt in svc.get("security_opt") or []), name
    tmpfs = svc.get("tmpfs") or []
    tmpfs = [tmpfs] if isinstance(tmpfs, str) else tmpfs
    assert any(str(entry).split(":")[0] == "/tmp" for entry in tmpfs), f"{name}: /tmp must be a tmpfs"
    memory = _memory_limit(svc)
    assert memory is not None and _parse_bytes(memory) > 0, f"{name}: memory limit"
    cpus = _cpu_limit(svc)
    assert cpus is not None and float(cpus) > 0, f"{name}: cpu limit"


@pytest.mark.parametrize("name", ["kafka", "gateway", "prometheus", "metrics-token", *STAGES])
def test_published_ports_bind_loopback_only(services, name):
    for port in _published_ports(services[name]):
        assert port.startswith("127.0.0.1:"), f"{name}: published port {port!r} must be bound to 127.0.0.1"


def test_gateway_published_on_loopback_8000(services):
    assert "127.0.0.1:8000:8000" in _published_ports(services["gateway"])


def test_kafka_broker_settings(services):
    kafka = services["kafka"]
    assert kafka["image"] == "apache/kafka:4.1.1"
    env = _env(kafka)
    assert int(env["KAFKA_MESSAGE_MAX_BYTES"]) == MESSAGE_MAX_BYTES
    assert int(env["KAFKA_REPLICA_FETCH_MAX_BYTES"]) >= MESSAGE_MAX_BYTES
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert kafka.get("healthcheck", {}).get("test"), "kafka needs a healthcheck for depends_on: service_healthy"


def test_dev_broker_uses_the_same_message_limit():
    script = (REPO_ROOT / "scripts" / "kafka.sh").read_text()
    assert f"message.max.bytes={MESSAGE_MAX_BYTES}" in script


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def test_dockerfile_runs_as_non_root():
    users = [rest for keyword, rest in _dockerfile_instructions() if keyword == "USER"]
    assert users, "the Dockerfile must switch to a non-root USER"
    final = users[-1].split(":")[0]
    assert final not in ("0", "root"), f"final USER is {users[-1]!r}"
    assert final in ("10001", "babelstream")


def test_dockerfile_basics():
    instructions = _dockerfile_instructions()
    froms = [rest for keyword, rest in instructions if keyword == "FROM"]
    assert froms and froms[-1].split()[0] == "python:3.11-slim"
    runs = " ".join(rest for keyword, rest in instructions if keyword == "RUN")
    for package in ("espeak-ng", "apertium", "apertium-eng-spa"):
        assert re.search(rf"(?<![\w-]){re.escape(package)}(?![\w-])", runs), f"apt package {package}"
    assert "pip install ." in runs
    assert ("ENTRYPOINT", '["babelstream"]') in instructions
    assert ("CMD", '["gateway"]') in instructions
    assert any(keyword == "EXPOSE" and "8000" in rest.split() for keyword, rest in instructions)
    healthchecks = [rest for keyword, rest in instructions if keyword == "HEALTHCHECK"]
    assert healthchecks and "/healthz" in healthchecks[-1] and "urllib" in healthchecks[-1]


def test_dockerfile_copies_only_existing_paths():
    """COPY sources are relative to the build context, the repository root."""
    for keyword, rest in _dockerfile_instructions():
        if keyword != "COPY" or rest.startswith("--from"):
            continue
        sources = [part for part in rest.split()[:-1] if not part.startswith("--")]
        for source in sources:
            assert (REPO_ROOT / source).exists(), f"COPY source {source} missing from the repository root"


def _compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True, timeout=30)
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy:
        return [legacy]
    return None


def test_docker_compose_config_validates():
    command = _compose_command()
    if command is None:
        pytest.skip("the Docker Compose plugin is not installed here (`docker compose` unknown, no docker-compose)")
    result = subprocess.run(
        [*command, "-f", str(COMPOSE_FILE), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stderr or result.stdout


def _scrape_targets() -> dict[str, list[str]]:
    """job name -> its static targets, from deploy/prometheus.yml."""
    config = yaml.safe_load(PROMETHEUS_FILE.read_text())
    return {
        job["job_name"]: [target for static in job.get("static_configs", []) for target in static["targets"]]
        for job in config["scrape_configs"]
    }


def test_prometheus_service_runs_our_config_hardened(services):
    prometheus = services["prometheus"]
    image, _, tag = prometheus["image"].partition(":")
    assert image == "prom/prometheus" and tag and tag != "latest", "a pinned Prometheus image"
    assert any(str(volume).startswith("./prometheus.yml:/etc/prometheus/prometheus.yml") for volume in prometheus["volumes"])
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    assert prometheus.get("read_only") is True and "ALL" in prometheus.get("cap_drop", [])
    assert str(prometheus.get("user", "")).split(":")[0] not in ("", "0", "root")
    assert "127.0.0.1:9090:9090" in _published_ports(prometheus)
    assert _memory_limit(prometheus) and _cpu_limit(prometheus)


@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_serves_its_metrics_port_to_the_network_and_prometheus_scrapes_it(services, stage):
    env = _env(services[stage])
    port = env.get("METRICS_PORT")
    assert port and int(port) > 0, f"{stage}: METRICS_PORT"
    # In its container, on the compose network only: no stage port is published to the host.
    assert env.get("METRICS_HOST") == "0.0.0.0", stage
    assert not _published_ports(services[stage]), stage
    assert f"{stage}:{port}" in [t for targets in _scrape_targets().values() for t in targets], stage
    healthcheck = services[stage].get("healthcheck") or {}
    assert not healthcheck.get("disable") and f":{port}/healthz" in " ".join(healthcheck["test"]), stage


def test_prometheus_scrapes_the_gateway_with_a_credential(services):
    port = _env(services["gateway"])["PORT"]
    config = yaml.safe_load(PROMETHEUS_FILE.read_text())
    [job] = [job for job in config["scrape_configs"] if f"gateway:{port}" in job["static_configs"][0]["targets"]]
    # The gateway's /metrics asks for the same credential as /ws/audio (JWT_SECRET is set in compose).
    assert job["authorization"]["type"] == "Bearer"
    token_dir, _, token_name = job["authorization"]["credentials_file"].rpartition("/")
    # ... which the one-shot metrics-token service writes into a volume that Prometheus mounts, read-only, and
    # Prometheus starts only once it has.
    prometheus, minter = services["prometheus"], services["metrics-token"]
    [volume] = [v.partition(":")[0] for v in prometheus["volumes"] if v.split(":")[1] == token_dir]
    assert prometheus["volumes"][[v.partition(":")[0] for v in prometheus["volumes"]].index(volume)].endswith(":ro")
    assert prometheus["depends_on"]["metrics-token"]["condition"] == "service_completed_successfully"
    [written_to] = [v.split(":")[1] for v in minter["volumes"] if v.partition(":")[0] == volume]
    assert f"{written_to}/{token_name}" in minter["entrypoint"][-1] and minter["restart"] == "no"
    assert _env(minter)["JWT_SECRET"] == _env(services["gateway"])["JWT_SECRET"]
    assert "prometheus" not in _published_ports(minter) and not _published_ports(minter)


def test_the_metrics_token_service_mints_a_token_the_gateway_accepts(services, tmp_path):
    """Its command, run here as in its container (the project's `babelstream` for the image's), writes a token that
    the gateway's own verifier accepts, valid for years, readable by Prometheus's user."""
    from babelstream.gateway.access.tokens import TokenVerifier

    minter = services["metrics-token"]
    [written_to] = [v.split(":")[1] for v in minter["volumes"]]
    shell, flag, command = minter["entrypoint"]
    command = command.replace(written_to, str(tmp_path)).replace("babelstream token", f"{BABELSTREAM} token")
    secret = "a-test-secret-of-thirty-two-bytes!"
    subprocess.run([shell, flag, command], check=True, timeout=60,
                   env={"PATH": "/usr/bin:/bin", "JWT_SECRET": secret, "HOST": "0.0.0.0", "HOME": str(tmp_path)})
    token_file = tmp_path / "gateway.token"
    assert token_file.stat().st_mode & 0o044 == 0o044 and not list(tmp_path.glob("*.new"))
    principal = TokenVerifier.build(secret=secret, public_key=None, audience="babelstream").verify(
        token_file.read_text().strip())
    assert principal.name == "prometheus" and principal.expires_at - time.time() > 9 * 365 * 86400


def test_the_dashboard_charts_only_metrics_the_platform_exports():
    from babelstream.gateway.metrics import GatewayMetrics
    from babelstream.stages.metrics import StageMetrics

    exported = set()
    for registry in (GatewayMetrics().registry, StageMetrics().registry):
        for family in registry.collect():
            exported.add(family.name)
            exported.update(f"{family.name}{suffix}" for suffix in ("_total", "_bucket", "_count", "_sum"))
    dashboard = json.loads(DASHBOARD_FILE.read_text())
    expressions = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    used = {name for expr in expressions for name in re.findall(r"\bbabelstream_[a-z_]+", expr)}
    assert used and used <= exported, used - exported
    for wanted in ("babelstream_gateway_open_connections", "babelstream_gateway_rejections_total",
                   "babelstream_gateway_segments_total", "babelstream_gateway_publish_seconds_bucket",
                   "babelstream_stage_events_total", "babelstream_stage_processing_seconds_bucket",
                   "babelstream_stage_dead_letters_total", "babelstream_stage_consumer_lag",
                   "babelstream_stage_real_time_factor_bucket"):
        assert wanted in used, wanted
