"""A fake ament install prefix with small executables, and a runner for the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from neuro_nodes.paths import REPO_ROOT

# Executables the tests install into the fake prefix (shebang added on write).
SCRIPTS = {
    # prints its arguments as JSON on stdout, and a line on stderr
    "echo_args": """
        import json, sys
        print(json.dumps(sys.argv[1:]))
        print("to stderr", file=sys.stderr)
    """,
    # prints 'ready', then waits; SIGINT -> prints 'got SIGINT', exits 0
    "sleeper": """
        import signal, sys, time
        def stop(signum, frame):
            print("got SIGINT", flush=True)
            sys.exit(0)
        signal.signal(signal.SIGINT, stop)
        print("ready", flush=True)
        while True:
            time.sleep(0.05)
    """,
    # ignores SIGINT; the default action of SIGTERM ends it
    "deaf": """
        import signal, time
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        print("ready", flush=True)
        while True:
            time.sleep(0.05)
    """,
    # ignores SIGINT and SIGTERM: only SIGKILL ends it
    "immortal": """
        import signal, time
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("ready", flush=True)
        while True:
            time.sleep(0.05)
    """,
    "fail3": """
        import sys, time
        time.sleep(0.2)
        print("failing", flush=True)
        sys.exit(3)
    """,
    "quick": """
        print("quick run", flush=True)
    """,
}


@dataclass
class FakeAment:
    prefix: Path
    root: Path

    def add_package(self, pkg: str) -> Path:
        (self.prefix / "share" / "ament_index" / "resource_index" / "packages").mkdir(
            parents=True, exist_ok=True)
        (self.prefix / "share" / "ament_index" / "resource_index" / "packages" / pkg).touch()
        (self.prefix / "share" / pkg).mkdir(parents=True, exist_ok=True)
        (self.prefix / "lib" / pkg).mkdir(parents=True, exist_ok=True)
        return self.prefix / "share" / pkg

    def add_exec(self, pkg: str, name: str, body: str, *, mode: int = 0o755) -> Path:
        self.add_package(pkg)
        path = self.prefix / "lib" / pkg / name
        path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body).lstrip())
        path.chmod(mode)
        return path

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
        return path


@pytest.fixture
def ament(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeAment:
    fake = FakeAment(tmp_path / "install", tmp_path / "files")
    fake.root.mkdir()
    for name, body in SCRIPTS.items():
        fake.add_exec("fake_pkg", name, body)
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(fake.prefix))
    monkeypatch.setenv("ROS_LOG_DIR", str(tmp_path / "ros_log"))
    monkeypatch.delenv("OVERRIDE_LAUNCH_PROCESS_OUTPUT", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    return fake


class Cli:
    """``python -m neuro_nodes.launch ...`` in a subprocess (the environment of the test)."""

    @staticmethod
    def cmd(*args: str) -> list[str]:
        return [sys.executable, "-m", "neuro_nodes.launch", *args]

    @staticmethod
    def env() -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH"))
                                            if p)
        return env

    def run(self, *args: str, timeout: float = 15.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.cmd(*args), capture_output=True, text=True,
                              timeout=timeout, env=self.env(), cwd=REPO_ROOT)

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(self.cmd(*args), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=self.env(),
                                cwd=REPO_ROOT)


@pytest.fixture
def cli(ament: FakeAment) -> Cli:
    return Cli()
