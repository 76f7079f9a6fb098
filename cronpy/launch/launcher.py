"""Starting, watching and stopping child processes: the one owner of them, jobs and hooks alike.

The runner's event loop owns a selector; the launcher registers each child's pidfd
(readable once the process has exited) and its output pipe on it, with a callable
as the key's data. Exits, output and deadlines are thus handled on the loop's
thread, without helper threads or polling timers.

Every child runs in its own session (``start_new_session``, never ``preexec_fn``,
which would turn off vfork). A timeout, cancel or shutdown signals all of the child's
processes, and its end kills whatever it left behind: its group, and, since commands
leave their group easily (``timeout``, ``set -m``, ``setsid``), its own cgroup where the
runner may make one (``cgroups``), else every process ``reaper`` finds to be the child's
(session, descendants, tagged orphans reparented to the runner as a subreaper).

A job's run writes its output to a log and ends as an ``Outcome`` for its history
record. An ``on_*`` hook keeps only its output's tail in memory and ends as a
``HookOutcome`` for the event log; ``running`` counts runs only, never hooks.

At ~530 lines it is over the project's guideline. Pre-armed starts (``arm``, ``release``,
``disarm``: ~100 lines) stay in this class on purpose: a held process is an ordinary child
(pidfd, output pipe, cgroup, deadline) that release hands to the run table, and splitting
them out would mean a second owner of those, reaching into this one's private state. The
gate itself (its shell text, opening and closing it) is ``prearm``'s.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path

from cronpy.launch import cgroups, prearm, reaper
from cronpy.launch.capture import LogCapture, OutputTail
from cronpy.launch.cgroups import RunCgroups
from cronpy.launch.child import Child, has_exited, killpg
from cronpy.launch.env import Spawn, SpawnError, describe, popen_failure, prepare, user_args
from cronpy.launch.usage import Usage, wait_usage
from cronpy.model import HookOutcome, HookRequest, Job, LaunchRequest, Outcome, Status
from cronpy.model.launch import ArmRequest

# A child whose output fills a read gets a pipe of this capacity and reads of this size:
# 1 GiB goes through in fewer wake-ups. Only then, since an unprivileged user's pipes all
# shrink once their total passes fs.pipe-user-pages-soft (64 MiB).
_WIDE_PIPE = 1024 * 1024
_WIDE_READ = 256 * 1024  # a quarter of it: four reads per full pipe, 0.25 MiB at a time
_HOOK_SUCCESS = frozenset({0})


class Launcher:
    """``state_dir`` (resolved) goes into every run's CRONPY_STATE_DIR, so orphans and a dead
    runner's leftovers are told apart from other runners' by it. ``subreaper`` makes this
    process a child subreaper and ``cgroups`` gives each child a cgroup where that is
    delegated: both change the whole process, so only a runner asks for them."""

    def __init__(
        self,
        selector: selectors.BaseSelector,
        monotonic: Callable[[], float] = time.monotonic,
        *,
        state_dir: Path | None = None,
        subreaper: bool = False,
        cgroups: bool = False,
    ) -> None:
        self._selector = selector
        self._monotonic = monotonic
        self._state_dir = state_dir.resolve() if state_dir is not None else None
        self.subreaper = subreaper and reaper.become_subreaper()
        self._cgroups = RunCgroups.detect(state_dir) if cgroups else None
        self._spawned = 0
        self._runs: dict[int, Child] = {}  # by run id
        self._hooks: dict[int, Child] = {}  # by pid
        self._outcomes: list[Outcome] = []
        self._hook_outcomes: list[HookOutcome] = []
        self._orphans = reaper.Orphans(self.subreaper)
        self._held: dict[tuple[str, datetime], prearm.Held] = {}  # by job name, scheduled_at
        self.peak_buffered = 0  # most tail bytes one run ever held in memory

    @property
    def cgroups(self) -> Path | None:
        """Where runs get their cgroups, or None when the process walk alone stops them."""
        return None if self._cgroups is None else self._cgroups.parent

    def close(self) -> None:
        """Remove the cgroups this launcher made (those still holding processes stay)."""
        for held in list(self._held.values()):
            self._drop(held)
            self._on_exit(held.child)
        if self._cgroups is not None:
            self._cgroups.close()

    @property
    def running(self) -> Mapping[int, int]:
        """The job runs going on, run id to pid (hooks are not runs)."""
        return {run_id: run.popen.pid for run_id, run in self._runs.items()}

    @property
    def hooks_running(self) -> int:
        return len(self._hooks)

    def start(self, req: LaunchRequest) -> int | Outcome:
        """Start the job; its pid, or an Outcome(SPAWN_ERROR) saying precisely why it could not."""
        capture = LogCapture(req.log_path, req.job.keep.output)
        try:
            spawn = prepare(req)
            if self._state_dir is not None:
                spawn.env["CRONPY_STATE_DIR"] = str(self._state_dir)
            run = self._spawn(req, spawn, capture, req.job.timeout, req.job.kill_grace)
        except SpawnError as e:
            return self._spawn_error(req, str(e), capture)
        self._runs[req.run_id] = run
        return run.popen.pid

    def start_hook(self, req: HookRequest) -> None:
        """Start a hook; how it ends, a failure to start included, comes from drain_hooks()."""
        spawn = Spawn(list(req.argv), dict(req.env), what="shell")
        try:
            hook = self._spawn(req, spawn, OutputTail(), req.timeout, req.kill_grace)
        except SpawnError as e:
            self._hook_outcomes.append(
                HookOutcome(
                    req.job, req.event, None, Status.SPAWN_ERROR, None, None, "", str(e), 0.0
                )
            )
            return
        self._hooks[hook.popen.pid] = hook

    # -- pre-armed starts (launch/prearm.py) ----------------------------------------------------
    @property
    def armed(self) -> Mapping[tuple[str, datetime], Job]:
        """The held occurrences, (job name, scheduled_at) to the job they were armed with."""
        return {key: held.req.job for key, held in self._held.items()}

    def arm(self, req: ArmRequest) -> bool:
        """Start the occurrence's process now, held before its command until ``release``.
        False when it cannot be held (it starts as usual at the due instant, and any
        failure to start is recorded then)."""
        if req.key in self._held:
            return True
        try:
            spawn = prepare(LaunchRequest(0, req.job, req.scheduled_at, 1, Path(), req.extra_env))
            held_spawn = prearm.gated(spawn, req.job)
            if held_spawn is None:
                return False
            if self._state_dir is not None:
                held_spawn.env["CRONPY_STATE_DIR"] = str(self._state_dir)
            gate_read, gate = os.pipe()
        except (SpawnError, OSError):
            return False
        try:
            child = self._spawn(
                req, held_spawn, OutputTail(), None, req.job.kill_grace, stdin=gate_read
            )
        except SpawnError:
            os.close(gate)
            return False
        finally:
            os.close(gate_read)
        self._held[req.key] = prearm.Held(req, child, gate)
        return True

    def release(
        self, reqs: Sequence[LaunchRequest], until_due: Callable[[], bool] = lambda: True
    ) -> dict[int, int] | None:
        """Let the held processes of these claimed runs run their commands, all at once,
        once ``until_due`` returns; run id to pid of those released (start the others with
        ``start``). A run's timeout counts from then. None when ``until_due`` says False
        (after waiting for the due instant): none is released, and they stay held to be
        dropped."""
        picked: list[tuple[LaunchRequest, prearm.Held]] = []
        for req in reqs:
            if req.scheduled_at is None:
                continue
            held = self._held.get((req.job.name, req.scheduled_at))
            if held is None or req.attempt != 1 or held.req.extra_env != req.extra_env:
                continue
            if held.req.job is not req.job and held.req.job != req.job:
                continue
            picked.append((req, held))
            cgroup = held.child.cgroup
            if cgroup is not None:  # named by run id, as leftovers.py looks for it; before
                with contextlib.suppress(OSError):  # the instant: 200 renames took ~15 ms
                    held.child.cgroup = cgroup.rename(cgroup.with_name(f"run-{req.run_id}"))
        if not until_due():
            return None
        opened = [(req, held) for req, held in picked if prearm.open_gate(held, req.run_id)]
        now = self._monotonic()
        for _, held in picked:
            del self._held[held.req.key]
        released: dict[int, int] = {}
        for req, held in opened:
            child = held.child
            child.req = req
            child.capture = LogCapture(req.log_path, req.job.keep.output)
            child.started, child.timeout = now, req.job.timeout
            child.due = None if req.job.timeout is None else now + req.job.timeout
            child.tag = f"CRONPY_RUN_ID={req.run_id}".encode()
            self._runs[req.run_id] = child
            released[req.run_id] = child.popen.pid
        for _, held in picked:
            if held.gate is None and held.child.popen.pid not in released.values():
                self._drop(held)  # it died while held; its exit is handled on its pidfd
        return released

    def disarm(self, keep: Mapping[tuple[str, datetime], Job]) -> int:
        """Kill the held processes not in ``keep`` (or armed with another version of the
        job); they end without running their commands. How many."""
        dropped = 0
        for key, held in list(self._held.items()):
            job = keep.get(key)
            if job is None or (job is not held.req.job and job != held.req.job):
                del self._held[key]
                self._drop(held)
                dropped += 1
        return dropped

    def _drop(self, held: prearm.Held) -> None:
        killpg(held.child.popen.pid, signal.SIGKILL)  # first: end of file alone would do,
        prearm.close_gate(held)  # but a signal is certain whatever the shell makes of it

    def _end_held(self, child: Child, req: ArmRequest) -> None:
        held = self._held.get(req.key)
        if held is not None and held.child is child:  # it died on its own while held
            del self._held[req.key]
            prearm.close_gate(held)
        killpg(child.popen.pid, signal.SIGKILL)
        self._close_pipe(child)
        child.popen.wait()
        self._selector.unregister(child.pidfd)
        os.close(child.pidfd)
        if child.cgroup is not None:
            self._cgroups_retire(child.cgroup)

    def stop(self, run_id: int, reason: str, grace: float | None = None) -> None:
        """SIGTERM the run's process group now and SIGKILL it after ``grace`` (default kill_grace).

        A run that already ended, or is not ours, is left alone.
        """
        run = self._runs.get(run_id)
        if run is not None:
            self._begin_stop(run, Status.CANCELLED, reason, grace)

    def stop_all(self, reason: str, grace: float) -> None:
        """Stop every run (cancelled) and every hook (killed), each with its whole group."""
        self.disarm({})
        for run in list(self._runs.values()):
            self._begin_stop(run, Status.CANCELLED, reason, grace)
        for hook in list(self._hooks.values()):
            self._begin_stop(hook, Status.KILLED, reason, grace)

    def next_deadline(self) -> float | None:
        dues = [child.due for child in self._children() if child.due is not None]
        return min(dues, default=None)

    def check_deadlines(self) -> None:
        now = self._monotonic()
        for child in self._children():
            if child.due is None or child.due > now:
                continue
            if child.ending is None:
                reason = f"timeout of {child.timeout:g}s exceeded"
                self._begin_stop(child, Status.TIMED_OUT, reason, None)
            else:
                self._signal_all(child, signal.SIGKILL)
                child.due = None

    def drain(self) -> list[Outcome]:
        outcomes, self._outcomes = self._outcomes, []
        return outcomes

    def drain_hooks(self) -> list[HookOutcome]:
        outcomes, self._hook_outcomes = self._hook_outcomes, []
        return outcomes

    @property
    def orphan_groups(self) -> int:
        """How many ended children's groups may still hold leftovers for reap_orphans()."""
        return len(self._orphans.groups)

    def reap_orphans(self) -> None:
        """Reap dead leftovers of ended children that were reparented to this process.

        Only matters when the runner is PID 1 or a subreaper (otherwise init reaps them):
        call it on SIGCHLD. Each child's end does it too.
        """
        self._orphans.reap(self._watched())
        if self._cgroups is not None:
            self._cgroups.sweep()

    # --- internals ---

    def _children(self) -> list[Child]:
        return [*self._runs.values(), *self._hooks.values()]

    def _watched(self) -> set[int]:
        held = (h.child.popen.pid for h in self._held.values())
        return {child.popen.pid for child in self._children()} | set(held)

    def _spawn(
        self,
        req: LaunchRequest | HookRequest | ArmRequest,
        spawn: Spawn,
        capture: OutputTail,
        timeout: float | None,
        kill_grace: float,
        stdin: int = subprocess.DEVNULL,
    ) -> Child:
        """Start ``spawn`` in a session of its own, watched on the selector.

        Raises SpawnError with the reason when it cannot start.
        """
        try:
            read_end, write_end = os.pipe()
        except OSError as e:  # out of descriptors: the runner's trouble, but this child's outcome
            raise SpawnError(f"cannot create output pipe: {describe(e)}") from e
        cgroup = None
        if self._cgroups is not None:
            self._spawned += 1
            name = (
                f"run-{req.run_id}"
                if isinstance(req, LaunchRequest)
                else f"{'arm' if isinstance(req, ArmRequest) else 'hook'}-{self._spawned}"
            )
            cgroup = self._cgroups.step_in(name)
        try:
            popen = subprocess.Popen(
                spawn.argv,
                stdin=stdin,
                stdout=write_end,
                stderr=subprocess.STDOUT,
                close_fds=True,
                start_new_session=True,
                env=spawn.env,
                cwd=spawn.cwd,
                **user_args(spawn.user),
            )
        except (OSError, ValueError) as e:
            os.close(read_end)
            if cgroup is not None:
                self._cgroups_step_out()
                self._cgroups_retire(cgroup)
            raise SpawnError(popen_failure(e, spawn)) from e
        finally:
            os.close(write_end)
        if cgroup is not None:
            self._cgroups_step_out()
        try:
            pidfd = os.pidfd_open(popen.pid)
        except OSError as e:  # out of descriptors: we could never see it end, so end it now
            killpg(popen.pid, signal.SIGKILL)
            if cgroup is not None:
                cgroups.kill(cgroup)
                self._cgroups_retire(cgroup)
            popen.wait()
            os.close(read_end)
            raise SpawnError(f"cannot watch pid {popen.pid}: {describe(e)}") from e
        os.set_blocking(read_end, False)
        started = self._monotonic()
        due = None if timeout is None else started + timeout
        child = Child(req, popen, pidfd, read_end, capture, started, timeout, kill_grace, due)
        run_id = spawn.env.get("CRONPY_RUN_ID")
        child.tag = None if run_id is None else f"CRONPY_RUN_ID={run_id}".encode()
        child.cgroup = cgroup
        self._selector.register(
            pidfd, selectors.EVENT_READ, functools.partial(self._on_exit, child)
        )
        self._selector.register(
            read_end, selectors.EVENT_READ, functools.partial(self._on_output, child)
        )
        return child

    def _begin_stop(self, child: Child, status: Status, reason: str, grace: float | None) -> None:
        now = self._monotonic()
        grace = child.kill_grace if grace is None else grace
        if child.ending is not None:
            # Already being stopped: the first cause names the outcome, a shorter grace wins.
            if child.due is not None:
                child.due = min(child.due, now + grace)
            return
        if has_exited(child.popen.pid):
            child.due = None  # it ended on its own; the pidfd event reports how
            return
        child.ending, child.reason = status, reason
        self._signal_all(child, signal.SIGTERM)
        if grace > 0:
            child.due = now + grace
        else:
            self._signal_all(child, signal.SIGKILL)
            child.due = None

    def _cgroups_step_out(self) -> None:
        assert self._cgroups is not None
        try:
            self._cgroups.step_out()
        except OSError:
            # Stuck in a run's cgroup, the runner would die with that run: stop using them.
            self._cgroups = None

    def _cgroups_retire(self, cgroup: Path) -> None:
        if self._cgroups is not None:
            self._cgroups.retire(cgroup)

    def _signal_all(self, child: Child, sig: int) -> None:
        """Signal every process of ``child``: its group, its cgroup, and what the walk finds.

        The child must not be reaped yet: while it is a zombie its pid, which is its group's
        and session's id, cannot be reused, so none of this can hit a stranger.
        """
        killpg(child.popen.pid, sig)
        if child.cgroup is not None:
            cgroups.signal_members(child.cgroup, sig)
            if sig == signal.SIGKILL:
                return  # cgroup.kill reached everything that could have left the group
        spare = [c.popen.pid for c in self._children() if c is not child]
        state = f"CRONPY_STATE_DIR={self._state_dir}".encode() if self._state_dir else None
        found = reaper.processes_of(
            child.popen.pid,
            child.tag,
            state_tag=state,
            under_init=not self.subreaper,
            spare=spare,
        )
        found.discard(child.popen.pid)  # signalled with its group; reaped by its pidfd
        reaper.signal_each(found, sig)
        self._orphans.adopted |= found

    def _on_output(self, child: Child, mask: int = selectors.EVENT_READ) -> None:
        self._read(child, drain=False)

    def _read(self, child: Child, *, drain: bool) -> None:
        while child.pipe is not None:
            try:
                data = os.read(child.pipe, child.read_size)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:  # every writer closed it; the child goes on until the process exits
                self._close_pipe(child)
                return
            child.capture.feed(data)
            if len(data) == child.read_size < _WIDE_READ:
                child.read_size = _WIDE_READ
                with contextlib.suppress(OSError):  # refused: the default pipe still works
                    fcntl.fcntl(child.pipe, fcntl.F_SETPIPE_SZ, _WIDE_PIPE)
            if not drain:
                return  # one read per wake-up keeps a chatty child from starving the loop

    def _close_pipe(self, child: Child) -> None:
        if child.pipe is not None:
            self._selector.unregister(child.pipe)
            os.close(child.pipe)
            child.pipe = None

    def _on_exit(self, child: Child, mask: int = selectors.EVENT_READ) -> None:
        pid = child.popen.pid
        if isinstance(child.req, ArmRequest):  # never released: it ran no command
            self._end_held(child, child.req)
            return
        # A child ends when its main process does. Whatever it left in its process group
        # (`cmd &`, a forgotten daemon) is killed now, as systemd does with a service's
        # cgroup: otherwise it would outlive the child, hold the output pipe open and escape
        # timeouts. The main process is an unreaped zombie at this point, so its pid - the
        # group's id - cannot have been reused: signalling the group is race-free. The same
        # goes for what left the group (cgroup, or the walk: session, descendants, orphans).
        self._signal_all(child, signal.SIGKILL)
        self._read(child, drain=True)
        self._close_pipe(child)
        returncode, usage = wait_usage(child.popen)
        self._selector.unregister(child.pidfd)
        os.close(child.pidfd)
        child.capture.finish()
        if isinstance(child.req, HookRequest):
            del self._hooks[pid]
            self._hook_outcomes.append(self._hook_outcome(child, child.req, returncode))
        else:
            self.peak_buffered = max(self.peak_buffered, child.capture.peak_buffered)
            del self._runs[child.req.run_id]
        self._orphans.groups.add(pid)
        if child.cgroup is not None:
            self._cgroups_retire(child.cgroup)
        used = self._orphans.reap(self._watched())
        if isinstance(child.req, LaunchRequest):
            # the orphans of its group that already died count towards the run's cost
            usage = usage.plus(used.get(pid))
            self._outcomes.append(self._outcome(child, child.req, returncode, usage))

    def _outcome(self, run: Child, req: LaunchRequest, returncode: int, usage: Usage) -> Outcome:
        return Outcome(
            run_id=req.run_id,
            status=run.status(returncode, req.job.success_codes),
            exit_code=returncode if returncode >= 0 else None,
            signal=-returncode if returncode < 0 else None,
            output_tail=run.capture.tail_text(),
            reason=run.reason or run.capture.error,
            pid=run.popen.pid,
            ended_monotonic=self._monotonic(),
            cpu_seconds=round(usage.cpu_seconds, 6),
            max_rss_kib=usage.max_rss_kib,
        )

    def _hook_outcome(self, hook: Child, req: HookRequest, returncode: int) -> HookOutcome:
        return HookOutcome(
            job=req.job,
            event=req.event,
            pid=hook.popen.pid,
            status=hook.status(returncode, _HOOK_SUCCESS),
            exit_code=returncode if returncode >= 0 else None,
            signal=-returncode if returncode < 0 else None,
            output_tail=hook.capture.tail_text(),
            reason=hook.reason,
            duration=self._monotonic() - hook.started,
        )

    def _spawn_error(self, req: LaunchRequest, reason: str, capture: LogCapture) -> Outcome:
        # Written to the run's log too, so `cronpy logs` of this run says what went wrong.
        capture.feed(f"[cronpy: cannot start: {reason}]\n".encode())
        capture.finish()
        return Outcome(
            run_id=req.run_id,
            status=Status.SPAWN_ERROR,
            exit_code=None,
            signal=None,
            output_tail="",
            reason=reason,
            pid=None,
            ended_monotonic=self._monotonic(),
        )
