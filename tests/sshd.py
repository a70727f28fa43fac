"""A real OpenSSH server on 127.0.0.1 for the many-hosts tests: a process the test owns and kills.

Throwaway host and client keys in a temp dir, a temp ``ssh_config`` that names the host (the way
an operator's ``~/.ssh/config`` does), ``known_hosts`` in the temp dir: nothing under ``~/.ssh``
is read or written. Skipped when ``sshd`` is absent outside CI; in CI its absence fails.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

SSHD_PATHS = ("/usr/sbin/sshd", "/usr/local/sbin/sshd", "/sbin/sshd")


def sshd_binary() -> str | None:
    found = shutil.which("sshd")
    return found or next((p for p in SSHD_PATHS if os.access(p, os.X_OK)), None)


def require_sshd() -> str:
    binary = sshd_binary()
    if binary is None or shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("openssh-server and openssh-client are required in CI (.ci/run installs them)")
        pytest.skip("sshd is not installed (apt-get install -y openssh-server)")
    if os.geteuid() == 0 and not os.path.isdir("/run/sshd"):
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation dir when run as root
    return binary


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True,
                   stdin=subprocess.DEVNULL)


@dataclass
class Sshd:
    """One sshd on a fixed port; ``kill()`` takes it down with every session it forked, ``start()`` again."""
    binary: str
    root: Path
    port: int
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    config: Path = field(init=False)

    def __post_init__(self) -> None:
        self.config = self.root / "sshd_config"
        if not (self.root / "host_key").exists():
            keygen(self.root / "host_key")
        lines = [
            f"Port {self.port}", "ListenAddress 127.0.0.1", f"HostKey {self.root / 'host_key'}",
            f"AuthorizedKeysFile {self.root / 'authorized_keys'}", "PidFile none", "StrictModes no",
            "UsePAM no", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
            "PermitRootLogin prohibit-password", "LogLevel ERROR", "MaxStartups 100",
            "SetEnv " + " ".join(f"{k}={v}" for k, v in self.env.items()),
        ]
        self.config.write_text("\n".join(lines) + "\n")

    def start(self) -> None:
        self.proc = subprocess.Popen([self.binary, "-D", "-e", "-f", str(self.config)], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=open(self.root / "sshd.log", "ab"),
                                     start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"sshd exited: {(self.root / 'sshd.log').read_text()[-500:]}")
                time.sleep(0.05)
        raise RuntimeError("sshd did not listen within 10s")

    def kill(self) -> None:
        """The listener and every session it forked (the remote cockpits end with their sessions)."""
        if self.proc is None:
            return
        try:
            children = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            children = []
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        for child in children:  # sessions, and the remote cockpits they ran (tmux servers are not children)
            try:
                child.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(children, timeout=5)
        self.proc = None


@dataclass
class SshLab:
    """Client keys and an ssh_config naming every host; ``add_host`` starts one sshd per host."""
    root: Path
    env: dict[str, str]
    binary: str = field(default_factory=require_sshd)
    servers: dict[str, Sshd] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        keygen(self.root / "client_key")
        (self.root / "known_hosts").write_text("")
        (self.root / "ssh_config").write_text("")

    def add_host(self, alias: str) -> Sshd:
        server_root = self.root / f"sshd-{alias}"
        server_root.mkdir()
        server = Sshd(self.binary, server_root, free_port(), self.env)
        (server_root / "authorized_keys").write_text((self.root / "client_key.pub").read_text())
        host_pub = (server_root / "host_key.pub").read_text().split()
        with open(self.root / "known_hosts", "a") as f:
            f.write(f"[127.0.0.1]:{server.port} {host_pub[0]} {host_pub[1]}\n")
        with open(self.root / "ssh_config", "a") as f:
            f.write(f"Host {alias}\n  HostName 127.0.0.1\n  Port {server.port}\n  User {getpass.getuser()}\n"
                    f"  IdentityFile {self.root / 'client_key'}\n  IdentitiesOnly yes\n"
                    f"  UserKnownHostsFile {self.root / 'known_hosts'}\n  GlobalKnownHostsFile /dev/null\n"
                    f"  StrictHostKeyChecking yes\n  BatchMode yes\n  ControlMaster no\n  ControlPath none\n"
                    f"  LogLevel ERROR\n  ConnectTimeout 5\n")
        server.start()
        self.servers[alias] = server
        return server

    def ssh_argv(self, alias: str) -> list[str]:
        """What an operator's [[hosts]] entry would hold, with the temp config instead of ~/.ssh/config."""
        return ["ssh", "-F", str(self.root / "ssh_config"), "-T", alias]

    def close(self) -> None:
        for server in self.servers.values():
            server.kill()


def ssh_processes(alias: str) -> list[psutil.Process]:
    """This test process's ssh clients for one host alias."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            cmd = child.cmdline()
        except psutil.NoSuchProcess:
            continue
        if cmd and os.path.basename(cmd[0]) == "ssh" and alias in cmd:
            found.append(child)
    return found
