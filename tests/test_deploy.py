"""The shipped deploy files: supervisord parses its config, the compose file's commands are
this project's real ones, every service has a health check, and `make deploy-check`
catches a deploy user that cannot run the programs."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.management import get_commands
from supervisor.options import ServerOptions

ROOT = Path(__file__).resolve().parent.parent
SUPERVISOR_CONF = ROOT / "deploy/supervisor/deep-research-blog.conf"
PLACEHOLDER = "/srv/deep-research-blog"
SYSTEM_PYTHON = "/usr/bin/python3"


def manage_command(argv: list[str]) -> tuple[str, list[str]]:
    """(subcommand, its arguments) of a `… manage.py NAME args` command line."""
    index = next(i for i, arg in enumerate(argv) if arg.endswith("manage.py"))
    return argv[index + 1], argv[index + 2 :]


def assert_real_command(argv: list[str]) -> None:
    if any(arg.endswith("manage.py") for arg in argv):
        name, args = manage_command(argv)
        assert name in get_commands(), f"manage.py {name} does not exist"
        if name == "rqworker":
            queues = [arg for arg in args if not arg.startswith("-") and not arg.isdigit()]
            assert set(queues) <= set(settings.RQ_QUEUE_NAMES), queues
            assert "--with-scheduler" in args  # delays and retries need it
    else:
        assert Path(argv[0]).name == "gunicorn" and argv[1] == "config.wsgi:application"


def _supervisor_programs(tmp_path: Path) -> dict:
    """supervisord's own parser on the shipped file, installed as deploy/README says."""
    (tmp_path / "logs").mkdir()
    conf = tmp_path / "drb.conf"
    conf.write_text(SUPERVISOR_CONF.read_text().replace(PLACEHOLDER, str(tmp_path)))
    main = tmp_path / "supervisord.conf"
    main.write_text(
        f"[supervisord]\nlogfile={tmp_path}/supervisord.log\npidfile={tmp_path}/s.pid\n"
        f"[include]\nfiles={conf}\n"
    )
    options = ServerOptions()
    options.configfile = str(main)
    options.process_config(do_usage=False)
    (group,) = options.process_group_configs
    return {process.name: process for process in group.process_configs}


def test_supervisord_parses_the_shipped_config(tmp_path):
    programs = _supervisor_programs(tmp_path)
    assert set(programs) == {"web", "worker_00", "worker_01", "email-worker", "scheduler"}
    for process in programs.values():
        assert_real_command(shlex.split(process.command))
        assert process.uid == 33 and process.directory == str(tmp_path)  # www-data
    workers = [programs["worker_00"], programs["worker_01"]]
    assert {p.environment["LOG_FILE"] for p in workers} == {"worker-00.log", "worker-01.log"}
    assert all(p.stopwaitsecs > settings.GENERATION_JOB_TIMEOUT for p in workers)
    email = shlex.split(programs["email-worker"].command)
    assert manage_command(email)[1][:2] == ["email", "default"]


def test_compose_file_runs_real_commands_and_checks_every_service():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"web", "worker", "email-worker", "scheduler", "redis", "postgres"} <= set(services)
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"
        if "build" in service:  # our image: commands and probes must be real
            command = service["command"]
            assert_real_command(command if isinstance(command, list) else shlex.split(command))
            probe = service["healthcheck"]["test"][1:]
            if "manage.py" in probe:
                assert manage_command(probe)[0] in get_commands()
    assert "--only" in services["worker"]["healthcheck"]["test"]
    queues = manage_command(shlex.split(services["email-worker"]["command"]))[1]
    assert queues[:2] == ["email", "default"]
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    for name in ("worker", "email-worker"):
        assert "{hostname}" in services[name]["environment"]["LOG_FILE"]  # one file each


@pytest.fixture
def open_tmp():
    """A scratch folder any user may enter (pytest's own tmp_path is root-only)."""
    path = Path(tempfile.mkdtemp(prefix="deploy-check-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def _checkout(tmp_path: Path, python: str) -> Path:
    """A checkout a deploy user could run: venv, manage.py, logs writable by `nobody`."""
    checkout = tmp_path / "srv"
    (checkout / ".venv/bin").mkdir(parents=True)
    os.symlink(python, checkout / ".venv/bin/python")
    (checkout / "manage.py").write_text("")
    (checkout / "logs").mkdir()
    shutil.chown(checkout / "logs", user="nobody")
    for path in (tmp_path, checkout):
        path.chmod(0o755)
    conf = tmp_path / "drb.conf"
    conf.write_text(
        SUPERVISOR_CONF.read_text()
        .replace(PLACEHOLDER, str(checkout))
        .replace("www-data", "nobody")
    )
    return conf


def deploy_check(conf: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts/deploy_check.py"), "--config", str(conf)],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="acting as the deploy user needs root")
def test_deploy_check_passes_when_the_user_can_run_everything(open_tmp):
    done = deploy_check(_checkout(open_tmp, SYSTEM_PYTHON))
    assert done.returncode == 0, done.stdout
    assert "every program" in done.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="acting as the deploy user needs root")
def test_deploy_check_names_an_interpreter_under_a_closed_home_folder(open_tmp):
    home = open_tmp / "home"
    (home / "bin").mkdir(parents=True)
    os.symlink(SYSTEM_PYTHON, home / "bin/python3.11")
    home.chmod(0o700)  # like /root, or /home/deployer
    done = deploy_check(_checkout(open_tmp, str(home / "bin/python3.11")))
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert len(lines) == 4  # one per program (web, worker, email-worker, scheduler)
    assert f"{home} (mode 700, owner root) does not let nobody in" in lines[0]


@pytest.mark.skipif(os.geteuid() != 0, reason="acting as the deploy user needs root")
def test_deploy_check_names_logs_the_user_cannot_write(open_tmp):
    conf = _checkout(open_tmp, SYSTEM_PYTHON)
    shutil.chown(open_tmp / "srv/logs", user="root")
    done = deploy_check(conf)
    assert done.returncode == 1
    assert "logs is not writable (the logs) by this user" in done.stdout
