"""Static checks of the container deployment files (deploy/Dockerfile, deploy/compose.yaml).

No Docker engine is needed: compose.yaml is parsed with PyYAML, the Dockerfile read as text.
`docker compose config` runs only where the compose plugin exists (it needs no engine).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY = REPO_ROOT / "deploy"
COMPOSE_FILE = DEPLOY / "compose.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
MESSAGE_MAX_BYTES = 2097152
STAGES = ("segmenter", "asr", "translate", "tts")


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
    assert "kafka" in services
    ours = _ours(services)
    assert set(ours) == {"gateway", *STAGES}, f"services built from deploy/Dockerfile: {sorted(ours)}"


def test_our_services_use_the_project_image_and_commands(services):
    ours = _ours(services)
    for name, svc in ours.items():
        assert svc["build"]["context"] == "..", name
        assert svc["build"]["dockerfile"] == "deploy/Dockerfile", name
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


@pytest.mark.parametrize("name", ["gateway", *STAGES])
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


@pytest.mark.parametrize("name", ["kafka", "gateway", *STAGES])
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
