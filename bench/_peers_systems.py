"""The schedulers bench/peers.py compares: installing them, starting them on a set of jobs,
reading /proc about them, and stopping every process started.

Each daemon is started in its own session with its output going to a file (never a pipe the
benchmark must drain), so stopping it is SIGTERM to its pid, then SIGKILL to its group.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from _common import CLK_TCK, REPO, cronpy_command, cronpy_table

CACHE = REPO / "bench" / ".peers"  # git-ignored: the peers' virtual environments
PEERS_PYPI = ("yacron", "cronstable")

# What each schedule kind is written as, per dialect. "never" is configured but never due
# during a run (idle); "minute" fires at each minute boundary; "second" every second.
CRON5 = {"minute": "* * * * *", "never": "0 0 1 1 *"}
CRONPY = {**CRON5, "second": "* * * * * *"}  # cronpy: a 6-field expression has seconds first
CRONSTABLE = {**CRON5, "second": "* * * * * * *"}  # cronstable: 7 fields, seconds first


@dataclass(frozen=True)
class Job:
    name: str
    when: str  # "minute" | "second" | "never"
    out: Path  # the file the job appends "NAME EPOCH" to

    def command(self, cron_escape: bool = False) -> str:
        # The child's own clock: dash forks `date` (vfork + execve), which reads the time.
        fmt = f"{self.name} %s.%N"
        if cron_escape:  # in a crontab an unescaped % ends the command
            fmt = fmt.replace("%", "\\%")
        return f'date +"{fmt}" >> {self.out}'


# -- processes we started ------------------------------------------------------------------------
STARTED: list[subprocess.Popen[bytes]] = []


def spawn(argv: list[str], log: Path, **kw: object) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **kw,  # type: ignore[call-overload]
        )
    STARTED.append(proc)
    return proc


def stop(proc: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    """SIGTERM the daemon, SIGKILL it after ``grace``, then whatever is left in its group."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # its session: started by us, with its own id
    if proc in STARTED:
        STARTED.remove(proc)


def stop_all() -> None:
    for proc in list(STARTED):
        stop(proc, grace=5.0)


# -- /proc ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Usage:
    at: float  # time.monotonic()
    cpu: float  # seconds, utime + stime, all threads
    cpu_children: float  # seconds, cutime + cstime: reaped children
    vcsw: int  # voluntary context switches, summed over threads
    rss_kib: int
    hwm_kib: int
    threads: int


def usage(pid: int) -> Usage:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    status = _status(Path(f"/proc/{pid}/status"))
    vcsw = 0
    tasks = list(Path(f"/proc/{pid}/task").iterdir())
    for task in tasks:  # a process's own status counts only its main thread
        try:
            vcsw += int(_status(task / "status")["voluntary_ctxt_switches"])
        except (OSError, KeyError):
            continue
    return Usage(
        at=time.monotonic(),
        cpu=(int(fields[11]) + int(fields[12])) / CLK_TCK,
        cpu_children=(int(fields[13]) + int(fields[14])) / CLK_TCK,
        vcsw=vcsw,
        rss_kib=int(status["VmRSS"].split()[0]),
        hwm_kib=int(status["VmHWM"].split()[0]),
        threads=len(tasks),
    )


def rss_kib(pid: int) -> int:
    try:
        return int(_status(Path(f"/proc/{pid}/status"))["VmRSS"].split()[0])
    except (OSError, KeyError):
        return 0


def _status(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition(":")
        out[key] = value.strip()
    return out


# -- installing the peers ------------------------------------------------------------------------
def run_quiet(argv: list[str], what: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{what} failed ({done.returncode}):\n{done.stdout}{done.stderr}")


def install_debian_cron() -> None:
    """apt-get the `cron` package if the daemon is missing. policy-rc.d keeps the package's
    postinst from starting a system cron in the background (removed again afterwards)."""
    if shutil.which("cron"):
        return
    if os.geteuid() != 0:
        raise SystemExit("Debian cron is missing and installing it needs root")
    policy = Path("/usr/sbin/policy-rc.d")
    ours = not policy.exists()
    if ours:
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    try:
        print("installing Debian cron: apt-get update && apt-get install cron", flush=True)
        run_quiet(["apt-get", "update", "-q"], "apt-get update")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        done = subprocess.run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", "cron"],
            capture_output=True,
            text=True,
            env=env,
        )
        if done.returncode != 0:
            raise SystemExit(f"apt-get install cron failed:\n{done.stdout}{done.stderr}")
    finally:
        if ours:
            policy.unlink()


def install_pypi_peers() -> None:
    """One virtual environment per peer under bench/.peers/, made once and reused."""
    CACHE.mkdir(parents=True, exist_ok=True)
    for name in PEERS_PYPI:
        venv = CACHE / name
        if (venv / "bin" / name).exists():
            continue
        print(f"installing {name} into {venv}", flush=True)
        run_quiet([sys.executable, "-m", "venv", "--clear", str(venv)], f"venv for {name}")
        run_quiet([str(venv / "bin" / "pip"), "install", "-q", name], f"pip install {name}")


def versions() -> dict[str, str]:
    def out(argv: list[str]) -> str:
        try:
            done = subprocess.run(argv, capture_output=True, text=True)
        except FileNotFoundError:  # --skip-install, --only cronpy: a peer never installed
            return "not installed"
        return (done.stdout or done.stderr).strip().splitlines()[0] if done.returncode == 0 else "?"

    meta = "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))"
    found = {
        "cronpy": out([*cronpy_command(), "--version"]),
        "Debian cron": out(["dpkg-query", "-W", "-f=${Version}", "cron"]),
        "Python": sys.version.split()[0],
    }
    for name in PEERS_PYPI:
        found[name] = out([str(CACHE / name / "bin" / "python"), "-c", meta, name])
    return found


# -- the daemons ---------------------------------------------------------------------------------
class Daemon:
    """One scheduler started on a list of jobs in a work directory; ``pid`` is the process
    whose /proc figures count (the daemon's main process with its threads)."""

    label = ""
    second_level = False  # can it run a job every second?

    def __init__(self, work: Path) -> None:
        self.work = work
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = 0.0  # time.time() when it was ready

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, jobs: list[Job]) -> None:
        raise NotImplementedError

    def _ready_after(self, seconds: float) -> None:
        time.sleep(seconds)
        assert self.proc is not None
        if self.proc.poll() is not None:
            log = (self.work / "daemon.log").read_text(errors="replace")[-2000:]
            raise SystemExit(f"{self.label} exited at start ({self.proc.returncode}):\n{log}")
        self.started = time.time()

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
            self.proc = None


class Cronpy(Daemon):
    label = "cronpy"
    second_level = True

    def start(self, jobs: list[Job]) -> None:
        lines = [cronpy_table() + '[defaults]\nshell = "/bin/sh"']
        for job in jobs:
            lines.append(
                f"[jobs.{job.name}]\nschedule = {json.dumps(CRONPY[job.when])}\n"
                f"command = {json.dumps(job.command())}"
            )
        self.start_toml("\n\n".join(lines) + "\n")

    def start_toml(self, text: str) -> None:
        self.job_file = self.work / "jobs.toml"
        self.job_file.write_text(text)
        self.state = self.work / "state"
        argv = [*cronpy_command(), "--state-dir", str(self.state), "run", str(self.job_file)]
        self.proc = spawn(argv, self.work / "daemon.log", env={**os.environ, "NO_COLOR": "1"})
        log = self.work / "daemon.log"
        deadline = time.monotonic() + 60
        while " ready" not in log.read_text(errors="replace"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"cronpy never said ready:\n{log.read_text()[-2000:]}")
            time.sleep(0.05)
        self.started = time.time()

    def trigger(self, job: str) -> None:
        argv = [*cronpy_command(), "--state-dir", str(self.state), "trigger", job]
        run_quiet(argv, "cronpy trigger")


class DebianCron(Daemon):
    """`cron -f -L 0` in a private mount namespace whose /etc/cron.d, /etc/crontab and spool
    are bind mounts of empty temporary ones holding only our file: the system's crontabs are
    neither read nor touched. Without unshare, falls back to /etc/cron.d/cronpy-bench."""

    label = "Debian cron"
    FALLBACK = Path("/etc/cron.d/cronpy-bench")

    def start(self, jobs: list[Job]) -> None:
        etc = self.work / "etc"
        (etc / "cron.d").mkdir(parents=True)
        (etc / "spool").mkdir()
        (etc / "crontab").write_text("")
        lines = [f"{CRON5[j.when]} root {j.command(cron_escape=True)}" for j in jobs]
        tab = etc / "cron.d" / "cronpy-bench"  # no dot: Debian cron skips such names
        tab.write_text("SHELL=/bin/sh\n" + "\n".join(lines) + "\n")
        for path in (tab, etc / "crontab"):
            path.chmod(0o644)
        if namespaces_work():
            mounts = " && ".join(
                f"mount --bind {etc / src} {dst}"
                for src, dst in (
                    ("cron.d", "/etc/cron.d"),
                    ("crontab", "/etc/crontab"),
                    ("spool", "/var/spool/cron/crontabs"),
                )
            )
            argv = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
                    f"{mounts} && exec cron -f -L 0"]  # fmt: skip
        else:
            shutil.copy(tab, self.FALLBACK)
            argv = ["cron", "-f", "-L", "0"]
        self.proc = spawn(argv, self.work / "daemon.log")
        self._ready_after(1.0)

    def stop(self) -> None:
        super().stop()
        self.FALLBACK.unlink(missing_ok=True)


_NAMESPACES: bool | None = None


def namespaces_work() -> bool:
    global _NAMESPACES
    if _NAMESPACES is None:
        probe = ["unshare", "--mount", "--propagation", "private", "true"]
        _NAMESPACES = subprocess.run(probe, capture_output=True).returncode == 0
    return _NAMESPACES


def yaml_jobs(jobs: list[Job], schedules: dict[str, str]) -> str:
    # JSON strings are YAML double-quoted scalars: no YAML library needed.
    out = ["jobs:"]
    for job in jobs:
        out += [
            f"  - name: {job.name}",
            f"    command: {json.dumps(job.command())}",
            f"    schedule: {json.dumps(schedules[job.when])}",
        ]
    return "\n".join(out) + "\n"


class Yacron(Daemon):
    label = "yacron"

    def start(self, jobs: list[Job]) -> None:
        config = self.work / "yacron.yaml"
        config.write_text(yaml_jobs(jobs, CRON5))
        self.proc = spawn([str(CACHE / "yacron" / "bin" / "yacron"), "-c", str(config)],
                          self.work / "daemon.log")  # fmt: skip
        self._ready_after(3.0)


class Cronstable(Daemon):
    """cronstable with its `state:` store (run history kept, like cronpy's)."""

    label = "cronstable"
    second_level = True

    def start(self, jobs: list[Job]) -> None:
        config = self.work / "cronstable.yaml"
        state = f"state:\n  path: {json.dumps(str(self.work / 'state'))}\n"
        config.write_text(state + yaml_jobs(jobs, CRONSTABLE))
        binary = CACHE / "cronstable" / "bin" / "cronstable"
        self.proc = spawn([str(binary), "-c", str(config)], self.work / "daemon.log")
        self._ready_after(3.0)


SYSTEMS: list[type[Daemon]] = [Cronpy, DebianCron, Yacron, Cronstable]
