"""docker-compose.yml runs what the CLI runs: proven on the rendered compose file.

`docker-compose config` (Debian's package renders it without a Docker engine) or
`docker compose config` renders the file in a project directory made as a user would
(.env from .env.example, config/accounts.yaml from the example). The services that call
Tampuuri (the code server, which launches every run, and the webhook receiver) must read
config/accounts.yaml, all its accounts; with `--profile simulator` the same roles must read
the simulator's account and call the simulator service instead. Which services a profile
starts follows compose's rule (no `profiles`, or one of them active), so the answer is the
same whether the renderer filters by profile (v2) or not (v1).
"""

from __future__ import annotations

import fnmatch
import shutil
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from pipelines.settings import PROJECT_ROOT, load_accounts

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"


def _compose_command() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        probe = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, text=True, check=False
        )
        if probe.returncode == 0:
            return ["docker", "compose"]
    return None


@pytest.fixture(scope="module")
def project_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project directory set up as docs/deployment.md says; a temporary one keeps a
    developer's real .env and accounts out of the test."""
    directory = tmp_path_factory.mktemp("compose")
    shutil.copy(PROJECT_ROOT / ".env.example", directory / ".env")
    shutil.copytree(PROJECT_ROOT / "config", directory / "config")
    accounts = directory / "config" / "accounts.yaml"
    shutil.copy(PROJECT_ROOT / "config" / "accounts.example.yaml", accounts)
    for name in ("workspace.yaml", "Dockerfile"):
        (directory / name).symlink_to(PROJECT_ROOT / name)
    return directory


def _compose(project_dir: Path, *args: str, profile: str | None = None) -> str:
    command = _compose_command()
    if command is None:
        pytest.skip(
            "neither docker-compose nor `docker compose` is installed (.ci/run installs it)"
        )
    profiles = ["--profile", profile] if profile else []
    completed = subprocess.run(
        [
            *command,
            *("-f", str(COMPOSE_FILE), "--project-directory", str(project_dir)),
            *profiles,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def _dotenv(project_dir: Path) -> dict[str, str]:
    values = {}
    for line in (project_dir / ".env").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def _active_services(project_dir: Path, profile: str | None) -> dict[str, dict[str, Any]]:
    """The rendered services that `up` starts: `--profile` wins over COMPOSE_PROFILES."""
    rendered = yaml.safe_load(_compose(project_dir, "config", profile=profile))
    active = {profile} if profile else set(_dotenv(project_dir)["COMPOSE_PROFILES"].split(","))
    return {
        name: service
        for name, service in rendered["services"].items()
        if not service.get("profiles") or active & set(service["profiles"])
    }


def _calls_tampuuri(service: dict[str, Any]) -> bool:
    command = service.get("command") or []
    return "code-server" in command or command[:2] == ["tampuuri-sync", "webhooks"]


def _bind_mounts(service: dict[str, Any]) -> dict[PurePosixPath, Path]:
    """Container path -> host path, for both renderings (v1 strings, v2 mappings)."""
    mounts = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
        else:
            source, target = volume["source"], volume["target"]
        mounts[PurePosixPath(target)] = Path(source)
    return mounts


def _host_path(service: dict[str, Any], container_path: str) -> Path:
    """Where a container's file comes from: the bind mount that holds it."""
    path = PurePosixPath(container_path)
    for target, source in _bind_mounts(service).items():
        if path == target or target in path.parents:
            return source / path.relative_to(target)
    raise AssertionError(f"{container_path} is not mounted from the host: {service['volumes']}")


def _accounts_of(service: dict[str, Any]) -> list[Any]:
    environment = service["environment"]
    accounts_file = _host_path(service, environment["TAMPUURI_ACCOUNTS_FILE"])
    return load_accounts({**environment, "TAMPUURI_ACCOUNTS_FILE": str(accounts_file)})


def test_compose_file_is_valid(project_dir: Path) -> None:
    _compose(project_dir, "config", "-q")
    _compose(project_dir, "config", "-q", profile="simulator")


def test_the_stack_syncs_the_accounts_file_the_cli_reads(project_dir: Path) -> None:
    services = _active_services(project_dir, profile=None)
    assert set(services) == {
        "postgres",
        "warehouse-init",
        "code",
        "webserver",
        "daemon",
        "webhooks",
    }
    callers = {name for name, service in services.items() if _calls_tampuuri(service)}
    assert callers == {"code", "webhooks"}
    example = load_accounts({"TAMPUURI_ACCOUNTS_FILE": str(project_dir / "config/accounts.yaml")})
    for name in callers:
        service = services[name]
        assert _host_path(service, service["environment"]["TAMPUURI_ACCOUNTS_FILE"]) == (
            project_dir / "config" / "accounts.yaml"
        ), name
        # The other settings files come from the same config/ folder as the CLI's.
        assert _host_path(service, "/opt/tampuuri-sync/config/sync.yaml") == (
            project_dir / "config" / "sync.yaml"
        )
        accounts = _accounts_of(service)
        assert [a.name for a in accounts] == [a.name for a in example] == ["yritys-a", "yritys-b"]
        assert {urlsplit(a.base_url).hostname for a in accounts} == {"api.tampuuri.fi"}


def test_the_simulator_profile_points_the_same_roles_at_the_simulator(project_dir: Path) -> None:
    services = _active_services(project_dir, profile="simulator")
    callers = {name for name, service in services.items() if _calls_tampuuri(service)}
    assert callers == {"code-simulator", "webhooks-simulator"}
    assert "simulator" in services
    # The webserver and the daemon find the code location as `code` (workspace.yaml).
    workspace = yaml.safe_load((PROJECT_ROOT / "workspace.yaml").read_text(encoding="utf-8"))
    host = workspace["load_from"][0]["grpc_server"]["host"]
    answering = [
        name
        for name, service in services.items()
        if name == host or host in service.get("networks", {}).get("default", {}).get("aliases", [])
    ]
    assert answering == ["code-simulator"]

    simulator = services["simulator"]
    port = int(simulator["command"][simulator["command"].index("--port") + 1])
    for name in callers:
        service = services[name]
        environment = service["environment"]
        assert urlsplit(environment["TAMPUURI_BASE_URL"])[1:3] == ("simulator:8765", "/v10/api/")
        accounts = _accounts_of(service)
        assert accounts, name
        for account in accounts:
            url = urlsplit(account.base_url)
            assert (url.hostname, url.port) == ("simulator", port), (name, account.name)
            # The simulator accepts the credentials the account sends (one .env serves both).
            variables = account.credentials.model_dump(exclude_none=True).values()
            for variable in variables:
                assert environment[variable] == simulator["environment"][variable], variable


def _dockerignore_patterns() -> list[str]:
    lines = (PROJECT_ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule for the patterns used here: a pattern matching the path or one of its
    parent folders leaves it out of the build context (`**/` matches at any depth)."""
    parts = PurePosixPath(path).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        candidates = [pattern, pattern.removeprefix("**/")]
        for prefix in prefixes:
            if any(fnmatch.fnmatchcase(prefix, c) for c in candidates):
                return True
            if pattern.startswith("**/") and fnmatch.fnmatchcase(
                PurePosixPath(prefix).name, candidates[1]
            ):
                return True
    return False


def test_the_build_context_keeps_what_the_image_copies() -> None:
    patterns = _dockerignore_patterns()
    copied = []
    for line in (PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines():
        if line.startswith("COPY "):
            copied.extend(line.split()[1:-1])
    assert {"pipelines", "config", "sql", "pyproject.toml"} <= set(copied)
    tracked = subprocess.run(
        ["git", "ls-files", "--", *copied],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert tracked
    dropped = [path for path in tracked if _ignored(path, patterns)]
    assert dropped == []
    # Secrets and a deployment's own accounts stay out of the image (compose mounts config/).
    assert _ignored(".env", patterns)
    assert _ignored("config/accounts.yaml", patterns)
    assert not _ignored("config/accounts.simulator.yaml", patterns)
