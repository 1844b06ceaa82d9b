"""The deployment files (infra/compose.yaml, infra/compose.fcm.yaml, infra/k8s/rtcc.yaml) read
against what rtcc requires: every process gets settings rtcc/env.py accepts in production,
every file they mount exists (or is the operator's documented, git-ignored secret), web waits
for the migrations, the probes are answered, no two replicas fight over one host port."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml
from django.core.exceptions import ImproperlyConfigured

from rtcc import env as rtcc_env
from tests.helpers import ROOT, service_account_stand_in

pytestmark = pytest.mark.once
INFRA = ROOT / "infra"
RTCC_IMAGE = "rtcc:latest"
PRODUCTION = ("DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL", "RTCC_S3_BUCKET")


def env_example() -> dict[str, str]:
    values = {}
    for line in (INFRA / "env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def load(name: str) -> dict:
    return yaml.safe_load((INFRA / name).read_text())


def compose(*overrides: str) -> dict:
    """The compose model after merging override files the way `docker compose -f a -f b` does
    for the keys used here (environment maps merge, lists of secrets add up)."""
    model = load("compose.yaml")
    for name in overrides:
        extra = load(name)
        for service, settings in extra.get("services", {}).items():
            target = model["services"][service]
            for key, value in settings.items():
                if isinstance(value, dict):
                    target[key] = {**(target.get(key) or {}), **value}
                elif isinstance(value, list):
                    target[key] = [*(target.get(key) or []), *value]
                else:
                    target[key] = value
        for key in ("secrets", "volumes"):
            model.setdefault(key, {}).update(extra.get(key) or {})
    return model


def rtcc_services(model: dict) -> dict[str, dict]:
    return {name: s for name, s in model["services"].items() if s.get("image") == RTCC_IMAGE}


def mounted_paths(service: dict, model: dict) -> dict[str, Path | None]:
    """container path -> the host file behind it (None for a named volume)."""
    mounts: dict[str, Path | None] = {}
    for volume in service.get("volumes") or []:
        source, target = volume.split(":")[:2]
        mounts[target] = INFRA / source if source.startswith((".", "/")) else None
    for secret in service.get("secrets") or []:
        name = secret if isinstance(secret, str) else secret["source"]
        mounts[f"/run/secrets/{name}"] = INFRA / model["secrets"][name]["file"]
    return mounts


def operator_supplied(path: Path) -> bool:
    """A secret the operator provides: ignored by git and named in the override's header."""
    relative = path.resolve().relative_to(ROOT)
    ignored = subprocess.run(["git", "check-ignore", "-q", str(relative)], cwd=ROOT).returncode == 0
    return ignored and str(relative) in (INFRA / "compose.fcm.yaml").read_text()


def accepted_settings(environ: dict, mounts: dict[str, Path | None], tmp_path: Path) -> rtcc_env.Env:
    """rtcc/env.py's verdict on the environment, with mounted secrets standing in as files."""
    environ = dict(environ)
    credentials = environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if credentials:
        assert credentials in mounts, f"GOOGLE_APPLICATION_CREDENTIALS={credentials} is not mounted"
        stand_in = tmp_path / "service-account.json"
        stand_in.write_text(service_account_stand_in())
        environ["GOOGLE_APPLICATION_CREDENTIALS"] = str(stand_in)
    environ["RTCC_DATA_DIR"] = str(tmp_path / "data")
    return rtcc_env.read(environ)


@pytest.mark.parametrize("overrides", [(), ("compose.fcm.yaml",)], ids=["outbox", "fcm"])
def test_compose_gives_every_process_settings_rtcc_accepts(overrides, tmp_path):
    model = compose(*overrides)
    header = (INFRA / "compose.yaml").read_text()
    assert "cp infra/env.example infra/.env" in header  # where the env_file comes from
    example = env_example()
    assert all(example.get(name) for name in PRODUCTION), "env.example leaves a production setting empty"
    services = rtcc_services(model)
    assert set(services) == {"migrate", "web", "worker", "beat"}
    for name, service in services.items():
        assert service["env_file"] == ".env", name
        environ = {**example, **(service.get("environment") or {})}
        mounts = mounted_paths(service, model)
        for source in mounts.values():
            if source is not None:
                assert source.exists() or operator_supplied(source), f"{name} mounts {source}, which is missing"
        try:
            settings = accepted_settings(environ, mounts, tmp_path)
        except ImproperlyConfigured as exc:
            pytest.fail(f"{name}: rtcc refuses to start: {exc}")
        assert not settings.debug and not settings.embedded
        # The URLs name services of this file.
        for url in (environ["DATABASE_URL"], environ["REDIS_URL"], environ["AWS_ENDPOINT_URL_S3"]):
            host = re.match(r"\w+://(?:[^@/]*@)?([^:/]+)", url).group(1)
            assert host in model["services"], f"{url} names no service of compose.yaml"
        assert bool(overrides) == bool(settings.fcm_credentials)


def test_compose_starts_things_in_order_and_once_per_port():
    model = compose()
    services = model["services"]
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    for name, service in services.items():
        for dependency, condition in (service.get("depends_on") or {}).items():
            if condition["condition"] == "service_healthy":
                assert services[dependency].get("healthcheck"), f"{name} waits for {dependency}'s health check"
    published = [
        (name, port.rsplit(":", 1)[0]) for name, s in services.items() for port in s.get("ports") or [] if ":" in port
    ]
    assert len({port for _, port in published}) == len(published)
    for name, _ in published:
        assert (services[name].get("deploy") or {}).get("replicas", 1) == 1, f"{name}: replicas share one host port"
    # SeaweedFS's identity is made of the same keys rtcc signs with.
    seaweed = services["seaweedfs"]
    assert seaweed["env_file"] == ".env"
    script = " ".join(seaweed["command"])
    assert "$$AWS_ACCESS_KEY_ID" in script and "$$AWS_SECRET_ACCESS_KEY" in script


def test_compose_postgres_takes_the_password_database_url_carries():
    """compose.yaml created PostgreSQL with a fixed `change-me` while DATABASE_URL came from .env:
    set a real password there and rtcc could not log in."""
    postgres = compose()["services"]["postgres"]
    assert re.fullmatch(r"\$\{POSTGRES_PASSWORD(:\?[^}]*)?\}", postgres["environment"]["POSTGRES_PASSWORD"])
    assert "change-me" not in (INFRA / "compose.yaml").read_text()
    example = env_example()
    password = re.match(r"postgres://rtcc:([^@]*)@postgres:", example["DATABASE_URL"]).group(1)
    assert password == example["POSTGRES_PASSWORD"]


def k8s_documents() -> list[dict]:
    return [doc for doc in yaml.safe_load_all((INFRA / "k8s" / "rtcc.yaml").read_text()) if doc]


def pod_specs() -> dict[str, dict]:
    documents = [doc for doc in k8s_documents() if "template" in doc["spec"]]
    return {doc["metadata"]["name"]: doc["spec"]["template"]["spec"] for doc in documents}


@pytest.mark.parametrize("with_fcm", [False, True], ids=["outbox", "fcm"])
def test_kubernetes_gives_every_container_settings_rtcc_accepts(with_fcm, tmp_path):
    header = (INFRA / "k8s" / "rtcc.yaml").read_text()
    example = env_example()
    if with_fcm:
        documented = re.search(r"GOOGLE_APPLICATION_CREDENTIALS=(\S+)", header).group(1)
        example["GOOGLE_APPLICATION_CREDENTIALS"] = documented
    specs = pod_specs()
    assert set(specs) == {"rtcc-migrate", "rtcc-web", "rtcc-worker", "rtcc-beat"}
    for name, spec in specs.items():
        volumes = {v["name"]: v for v in spec.get("volumes") or []}
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            assert container["envFrom"] == [{"secretRef": {"name": "rtcc-env"}}]
            mounts = {}
            for mount in container.get("volumeMounts") or []:
                secret = volumes[mount["name"]]["secret"]
                # A missing optional Secret leaves the directory empty instead of stopping the pod.
                assert secret.get("optional") is True or f"secret generic {secret['secretName']}" in header
                for key in ("fcm-service-account.json",):
                    mounts[f"{mount['mountPath']}/{key}"] = None
            try:
                accepted_settings(example, mounts, tmp_path)
            except ImproperlyConfigured as exc:
                pytest.fail(f"{name}/{container['name']}: rtcc refuses to start: {exc}")
    for name in ("rtcc-web", "rtcc-worker", "rtcc-beat"):
        assert specs[name]["initContainers"][0]["command"][-1].startswith("until python manage.py migrate --check")


@pytest.mark.django_db
def test_the_probes_are_answered_as_the_files_send_them(settings):
    """compose probes 127.0.0.1:8000, Kubernetes the pod's IP: neither is an allowed host."""
    from django.test import Client

    settings.ALLOWED_HOSTS = rtcc_env.read({**env_example(), "RTCC_DATA_DIR": "/nonexistent"}).allowed_hosts
    web = compose()["services"]["web"]["healthcheck"]["test"]
    compose_url = re.search(r"http://([^/']+)(/[a-z]+)", " ".join(web))
    probes = [(compose_url.group(1), compose_url.group(2))]
    container = pod_specs()["rtcc-web"]["containers"][0]
    probes += [("10.42.0.17:8000", container[p]["httpGet"]["path"]) for p in ("livenessProbe", "readinessProbe")]
    for host, path in probes:
        response = Client().get(path, HTTP_HOST=host)
        assert response.status_code == 200, (host, path, response.content)


def test_the_image_copies_what_rtcc_needs():
    dockerfile = (INFRA / "Dockerfile").read_text()
    for needed in ("rtcc", "apps", "templates", "static", "manage.py", "pyproject.toml"):
        assert re.search(rf"^COPY .*\b{re.escape(needed)}\b", dockerfile, re.M), needed
        assert (ROOT / needed).exists()


def test_kubernetes_runs_the_migrations_of_each_version():
    """The Job had a fixed name and stayed after it finished: applying a new version's file did
    not run it again, and the new pods waited for their migrations forever."""
    header = (INFRA / "k8s" / "rtcc.yaml").read_text()
    [job] = [doc for doc in k8s_documents() if doc["kind"] == "Job"]
    assert job["metadata"]["name"] == "rtcc-migrate"
    assert 0 < job["spec"]["ttlSecondsAfterFinished"] <= 7 * 86400
    assert "kubectl delete job rtcc-migrate" in header
    assert "kubectl delete job rtcc-migrate" in (ROOT / "README.md").read_text()


def test_kubernetes_worker_starts_as_many_task_processes_as_its_cpu_limit():
    """Prefork starts one child per CPU of the node unless told: ~70 MB each, past the pod's
    memory limit on a large node."""
    [worker] = pod_specs()["rtcc-worker"]["containers"]
    command = worker["command"]
    concurrency = int(command[command.index("--concurrency") + 1])
    limits = worker["resources"]["limits"]
    assert concurrency == int(limits["cpu"])
    memory_mib = int(limits["memory"].removesuffix("Gi")) * 1024
    assert 200 + concurrency * 100 <= memory_mib  # the parent and each child, with room
