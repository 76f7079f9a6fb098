"""The kill -9 soak (issue 17): a real runner killed and restarted, then audited from the jobs'
own output against the SQLite history.

A job file of --jobs jobs ``every 1s``; each command appends
``$CRONPY_JOB $CRONPY_SCHEDULED_AT $CRONPY_RUN_ID`` to out/JOB. ``cronpy run`` is started, left
to run a random 3-8 s after its ``ready`` line, SIGKILLed, left down a random 0-3 s and started
again, --cycles times; then it runs once more and is stopped with SIGTERM. The audit:

  doubled starts      occurrences (job, scheduled_at) whose command ran more than once
  starts w/o 1 row    started occurrences without exactly one history row (runs table)
  left running        rows still ``running`` after the clean stop
  unaccounted seconds per job, each second from its first to its last occurrence that no run,
                      skipped or missed record accounts for (a missed record stands for
                      missed_count occurrences up to and including its scheduled_at)

plus the counts behind them (records by status, lost runs). Everything lives in a temporary
directory; the script signals only the runner processes it started, by pid.

Usage: .venv/bin/python bench/soak_kill9.py [--cycles 12] [--jobs 50] [--seed N] [--keep]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import cronpy_command, print_table, state_db, use_bytecode_cache, write_job_file

COMMAND = 'echo "$CRONPY_JOB $CRONPY_SCHEDULED_AT $CRONPY_RUN_ID" >> {out}/"$CRONPY_JOB"'
SECOND_US = 1_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_us(stamp: str) -> int:
    """An ISO timestamp (as in CRONPY_SCHEDULED_AT) as integer microseconds since the epoch,
    the unit the runs table stores; integer arithmetic so the two compare exactly."""
    return (datetime.fromisoformat(stamp) - EPOCH) // timedelta(microseconds=1)


@dataclass
class Soak:
    work: Path
    rng: random.Random
    pids: list[int] = field(default_factory=list)  # every runner started, in order
    exit_codes: list[int] = field(default_factory=list)
    ready_s: list[float] = field(default_factory=list)  # spawn -> ready line
    up_s: list[float] = field(default_factory=list)
    down_s: list[float] = field(default_factory=list)

    @property
    def state(self) -> Path:
        return self.work / "state"

    def start(self, n: int) -> subprocess.Popen[bytes]:
        log = open(self.work / f"runner-{n:02d}.log", "wb")  # noqa: SIM115 - the child owns it
        argv = [*cronpy_command(), "run", str(self.work / "jobs.toml")]
        argv += ["--state-dir", str(self.state)]
        begin = time.monotonic()
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "NO_COLOR": "1"},
        )
        log.close()
        self.pids.append(proc.pid)
        path = self.work / f"runner-{n:02d}.log"
        while " ready" not in path.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() - begin > 60:
                tail = path.read_text(errors="replace")[-2000:]
                self.stop(proc)
                raise SystemExit(f"runner {n} never said ready; its log ends with:\n{tail}")
            time.sleep(0.02)
        self.ready_s.append(time.monotonic() - begin)
        return proc

    def stop(self, proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> int:
        if proc.poll() is None:
            os.kill(proc.pid, sig)  # this runner's own pid, nothing else
        try:
            code = proc.wait(60)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            code = proc.wait()
        self.exit_codes.append(code)
        return code

    def run(self, cycles: int) -> None:
        for n in range(cycles):
            proc = self.start(n)
            up = self.rng.uniform(3, 8)
            time.sleep(up)
            self.stop(proc, signal.SIGKILL)
            down = self.rng.uniform(0, 3)
            time.sleep(down)
            self.up_s.append(up)
            self.down_s.append(down)
            print(f"cycle {n + 1:2d}: up {up:.1f} s, SIGKILL, down {down:.1f} s", flush=True)
        proc = self.start(cycles)
        up = self.rng.uniform(3, 8)
        time.sleep(up)
        self.up_s.append(up)
        code = self.stop(proc)
        print(f"final run: up {up:.1f} s, SIGTERM, exit {code}", flush=True)


@dataclass(frozen=True)
class Row:
    id: int
    job: str
    scheduled_at: int | None
    status: str
    trigger: str
    missed_count: int | None
    pid: int | None


def read_output(out: Path) -> list[tuple[str, int, int]]:
    """(job, scheduled_at in µs, run id) for every line the commands wrote."""
    starts = []
    for path in sorted(out.iterdir()):
        for line in path.read_text().splitlines():
            job, stamp, run_id = line.split()
            starts.append((job, to_us(stamp), int(run_id)))
    return starts


def read_rows(state: Path) -> list[Row]:
    with state_db(state) as db:
        rows = db.execute(
            "SELECT id, job, scheduled_at, status, trigger, missed_count, pid FROM runs ORDER BY id"
        ).fetchall()
    return [Row(*r) for r in rows]


def audit(starts: list[tuple[str, int, int]], rows: list[Row]) -> dict[str, int]:
    figures: dict[str, int] = {}
    per_occurrence = Counter((job, at) for job, at, _ in starts)
    figures["starts (output lines)"] = len(starts)
    figures["doubled starts (occurrences started > once)"] = sum(
        1 for n in per_occurrence.values() if n > 1
    )
    rows_by_occurrence: dict[tuple[str, int | None], list[Row]] = defaultdict(list)
    for row in rows:
        rows_by_occurrence[(row.job, row.scheduled_at)].append(row)
    by_id = {row.id: row for row in rows}
    figures["started occurrences without exactly one row"] = sum(
        1 for key in per_occurrence if len(rows_by_occurrence.get(key, [])) != 1
    )
    figures["output lines whose run id is not that row"] = sum(
        1
        for job, at, run_id in starts
        if run_id not in by_id or (by_id[run_id].job, by_id[run_id].scheduled_at) != (job, at)
    )
    figures["occurrences with more than one row"] = sum(
        1 for key, found in rows_by_occurrence.items() if key[1] is not None and len(found) > 1
    )
    statuses = Counter(row.status for row in rows)
    figures["records (rows in runs)"] = len(rows)
    for status, count in sorted(statuses.items()):
        figures[f"  of which {status}"] = count
    started_ids = {run_id for _, _, run_id in starts}
    lost = [row for row in rows if row.status == "lost"]
    figures["lost runs whose command had started"] = sum(1 for r in lost if r.id in started_ids)
    never = [r for r in rows if r.status not in ("missed", "skipped") and r.id not in started_ids]
    figures["claimed runs whose command never wrote"] = len(never)
    figures["  of which no pid recorded"] = sum(1 for row in never if not row.pid)
    figures["runs left running"] = statuses.get("running", 0)
    unaccounted, doubly, off_grid, seconds = accounting(rows)
    figures["seconds audited (all jobs)"] = seconds
    figures["unaccounted seconds"] = unaccounted
    figures["seconds accounted twice"] = doubly
    figures["records off the 1 s grid"] = off_grid
    return figures


def accounting(rows: list[Row]) -> tuple[int, int, int, int]:
    """Per job, every second from its first to its last occurrence must be covered by one
    record: a run or skipped row covers its own scheduled_at, a missed row covers missed_count
    occurrences up to and including its own. ``every 1s`` counts from the job's first sight,
    which need not be a whole second, so the grid is the first occurrence's."""
    covered: dict[str, Counter[int]] = defaultdict(Counter)
    off_grid = 0
    for row in rows:
        if row.scheduled_at is None:
            continue  # a manual run has no occurrence
        count = (row.missed_count or 1) if row.status == "missed" else 1
        for k in range(count):
            covered[row.job][row.scheduled_at - k * SECOND_US] += 1
    unaccounted = doubly = seconds = 0
    for marks in covered.values():
        first, last = min(marks), max(marks)
        off_grid += sum(1 for at in marks if (at - first) % SECOND_US)
        for at in range(first, last + 1, SECOND_US):
            seconds += 1
            hits = marks.get(at, 0)
            unaccounted += hits == 0
            doubly += hits > 1
    return unaccounted, doubly, off_grid, seconds


def left_behind(state: Path) -> tuple[int, int]:
    """(processes whose environment names this state directory, run cgroups still there):
    what a killed runner's successors failed to clean up."""
    tag = f"CRONPY_STATE_DIR={state.resolve()}".encode()
    processes = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                processes += tag in (entry / "environ").read_bytes().split(b"\0")
            except OSError:
                continue  # gone, or not ours to read
    try:
        from cronpy.launch.cgroups import parent_for

        parent = parent_for(state)
    except ImportError:  # a tree without cgroups per run
        parent = None
    if parent is None or not parent.exists():
        return processes, 0
    return processes, 1 + sum(entry.is_dir() for entry in parent.iterdir())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=12, help="SIGKILLs (default 12)")
    parser.add_argument("--jobs", type=int, default=50, help="jobs every 1s (default 50)")
    parser.add_argument("--seed", type=int, help="random seed (default: drawn and printed)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    use_bytecode_cache()
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    work = Path(tempfile.mkdtemp(prefix="cronpy-soak-"))
    out = work / "out"
    out.mkdir()
    write_job_file(
        work / "jobs.toml",
        {
            f"j{i:02d}": {"schedule": "every 1s", "command": COMMAND.format(out=out)}
            for i in range(args.jobs)
        },
    )
    print(f"seed {seed}, {args.jobs} jobs every 1s, {args.cycles} cycles, in {work}", flush=True)
    soak = Soak(work, random.Random(seed))
    begin = time.monotonic()
    try:
        soak.run(args.cycles)
    finally:
        # a command the last runner started may still be writing: give it a moment
        time.sleep(1.0)
    figures = {
        "cycles (SIGKILLs)": args.cycles,
        "runner starts": len(soak.pids),
        "final runner exit code (SIGTERM)": soak.exit_codes[-1],
        **audit(read_output(out), read_rows(soak.state)),
    }
    processes, cgroups = left_behind(soak.state)
    figures["job processes left running"] = processes
    figures["run cgroups left (parent dir included)"] = cgroups
    print_table(
        f"kill -9 soak: {time.monotonic() - begin:.0f} s, runner up {sum(soak.up_s):.0f} s,"
        f" down {sum(soak.down_s):.0f} s, spawn->ready median"
        f" {sorted(soak.ready_s)[len(soak.ready_s) // 2] * 1000:.0f} ms",
        ["figure", "value"],
        [[k, str(v)] for k, v in figures.items()],
    )
    if args.keep:
        print(f"kept {work}")
    else:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
