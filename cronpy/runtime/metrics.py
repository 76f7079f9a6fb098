"""``--metrics ADDRESS``: Prometheus metrics of what the scheduler applies.

``RunnerMetrics`` is the scheduler's observer: the scheduler tells it about each start, each
finished or recorded run and each saved batch of job states, and it updates prometheus-client
metrics (lock-protected, a microsecond or so each). The exposition format and the HTTP
handler are prometheus-client's; it serves on a thread of its own, which blocks in ``select``
until a scraper connects (no poll interval), so an idle runner wakes neither that thread nor
the loop.

Lateness is observed for starts of the schedule itself (trigger ``schedule``): a catch-up's
lateness is the downtime it makes up for, a retry's its backoff, and neither says how punctual
the runner is.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from cronpy.errors import UsageError
from cronpy.model import JobState, Run, Status, Trigger

if TYPE_CHECKING:
    from cronpy.interfaces import Store

DEFAULT_HOST = "127.0.0.1"
DURATION_BUCKETS = (0.1, 0.5, 1, 5, 10, 30, 60, 300, 600, 1800, 3600, 7200, 21600, 86400)
LATENESS_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60, 300)


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[IPv6]:PORT`` or a bare ``PORT`` (on loopback). UsageError if bad."""
    what = (
        f"invalid metrics address {text!r}: expected HOST:PORT (like 127.0.0.1:9464),"
        " [::1]:9464, or a port alone (served on 127.0.0.1)"
    )
    host, sep, port_text = text.strip().rpartition(":")
    if not sep:
        host = DEFAULT_HOST
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise UsageError(what) from None
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise UsageError(what)
    return host, int(port_text)


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are not events: the runner's log stays about jobs."""


class RunnerMetrics:
    """The metrics of one runner, in a registry of their own (served with the process's)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
        from prometheus_client.process_collector import ProcessCollector

        self.registry = registry = CollectorRegistry()
        ProcessCollector(registry=registry)  # the runner's own CPU, memory and descriptors
        self.runs = Counter(
            "cronpy_runs", "Runs recorded, by job and status.", ["job", "status"], registry=registry
        )
        self.duration = Histogram(
            "cronpy_run_duration_seconds",
            "How long finished runs took.",
            ["job"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.lateness = Histogram(
            "cronpy_start_lateness_seconds",
            "Start time minus due time of scheduled starts.",
            ["job"],
            buckets=LATENESS_BUCKETS,
            registry=registry,
        )
        self.cpu = Counter(
            "cronpy_run_cpu_seconds",
            "CPU time (user + system) of finished runs' process trees.",
            ["job"],
            registry=registry,
        )
        self.max_rss = Gauge(
            "cronpy_run_max_rss_bytes",
            "Peak resident set of the job's last finished run (its largest process).",
            ["job"],
            registry=registry,
        )
        self.next_run = Gauge(
            "cronpy_job_next_run_timestamp_seconds",
            "When the job runs next (Unix time).",
            ["job"],
            registry=registry,
        )
        self.last_success = Gauge(
            "cronpy_job_last_success_timestamp_seconds",
            "When the job's last successful run ended (Unix time).",
            ["job"],
            registry=registry,
        )
        self.running = Gauge("cronpy_running_runs", "Runs going on now.", registry=registry)
        self.degraded = Gauge(
            "cronpy_runner_degraded",
            "1 while the runner cannot write its state (writes are queued).",
            registry=registry,
        )
        self.reload_failed = Gauge(
            "cronpy_runner_reload_failed",
            "1 when the last reload was refused (the old jobs keep running).",
            registry=registry,
        )
        self._running: set[int] = set()
        self._jobs: set[str] = set()

    # -- what the scheduler applies (its observer) -------------------------------------------
    def started(self, job: str, run_id: int, trigger: Trigger, due: datetime, at: datetime) -> None:
        self._running.add(run_id)
        self.running.set(len(self._running))
        if trigger is Trigger.SCHEDULE:
            self.lateness.labels(job).observe(max(0.0, (at - due).total_seconds()))

    def finished(self, run: Run) -> None:
        self._running.discard(run.id)
        self.running.set(len(self._running))
        self.runs.labels(run.job, str(run.status)).inc()
        if run.duration is not None:
            self.duration.labels(run.job).observe(run.duration)
        if run.cpu_seconds is not None:
            self.cpu.labels(run.job).inc(run.cpu_seconds)
        if run.max_rss_kib is not None:
            self.max_rss.labels(run.job).set(run.max_rss_kib * 1024)
        if run.status is Status.SUCCEEDED and run.ended_at is not None:
            self.last_success.labels(run.job).set(run.ended_at.timestamp())

    def recorded(self, job: str, status: Status) -> None:
        """A run that never started: skipped or missed."""
        self.runs.labels(job, str(status)).inc()

    def states(self, states: Iterable[JobState]) -> None:
        for state in states:
            if not state.present:
                self._forget(state.name)
            elif state.next_run_at is None:
                self._jobs.add(state.name)
                self._remove(self.next_run, state.name)
            else:
                self._jobs.add(state.name)
                self.next_run.labels(state.name).set(state.next_run_at.timestamp())

    # -- the runner's own state --------------------------------------------------------------
    def set_degraded(self, note: str | None) -> None:
        self.degraded.set(0 if note is None else 1)

    def set_reload_failed(self, failed: bool) -> None:
        self.reload_failed.set(1 if failed else 0)

    def load_last_success(self, store: Store, names: Iterable[str]) -> None:
        """Last successes survive a restart: alerts on ``time() - last_success`` must not fire
        because the runner restarted. One indexed query per job, at start only."""
        for name in names:
            found = store.runs(name, limit=1, status=Status.SUCCEEDED)
            if found and found[0].ended_at is not None:
                self.last_success.labels(name).set(found[0].ended_at.timestamp())

    def _forget(self, name: str) -> None:
        self._jobs.discard(name)
        for metric in (self.next_run, self.last_success, self.max_rss):
            self._remove(metric, name)

    @staticmethod
    def _remove(metric: Any, name: str) -> None:
        with contextlib.suppress(KeyError):  # never set
            metric.remove(name)

    # -- serving -----------------------------------------------------------------------------
    def serve(self, address: str) -> tuple[str, int]:
        """Serve on a daemon thread; the address bound. UsageError, one clear line, when the
        address is busy or cannot be bound here."""
        from prometheus_client import make_wsgi_app
        from prometheus_client.exposition import ThreadingWSGIServer

        host, port = parse_address(address)
        try:
            family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        except (OSError, UnicodeError) as exc:
            raise UsageError(f"cannot serve metrics on {address}: {exc}") from None

        class Server(ThreadingWSGIServer):
            address_family = family

        try:
            httpd = make_server(host, port, make_wsgi_app(self.registry), Server, _Quiet)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise UsageError(f"cannot serve metrics on {address}: {reason}") from None
        # poll_interval=None: block until a scrape arrives, instead of waking twice a second
        threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": None}, daemon=True
        ).start()
        bound = httpd.server_address
        return str(bound[0]), int(bound[1])
