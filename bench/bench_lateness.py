"""Start lateness (DESIGN §10): the child's first instruction minus the occurrence's due time.

The child takes the timestamp itself: the job runs under bash and appends
``$EPOCHREALTIME $CRONPY_SCHEDULED_AT $CRONPY_RUN_ID`` to a file, so the figure includes the
runner's wake-up, its bookkeeping, the fork/exec and bash's own start-up. The lateness the
runner recorded (started_at - scheduled_at in the runs table) is shown beside it.

  A: one job every second (``* * * * * *``) for --seconds       target p99 <= 10 ms
  B: --jobs jobs all due at the same instant every 5 s, --rounds  target p99 <= 250 ms

  floor: the same command launched --jobs times by a bare ``Popen`` loop in this process, the
         least any runner written in Python can do on this machine (same rounds as B)

Also shown: the runner's CPU time per launch (utime+stime from /proc, robust to a noisy
machine), and with --profile a py-spy profile of the runner during B (needs py-spy).

Usage: .venv/bin/python bench/bench_lateness.py [--seconds 60] [--jobs 200] [--rounds 4]
                                                [--only A|B|floor|metrics] [--profile]

  metrics: B without and with --metrics (nobody scraping), alternated twice in one run
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

from _common import (
    CLK_TCK,
    RunnerProcess,
    metrics_args,
    print_table,
    proc_sample,
    state_db,
    summary_ms,
    use_bytecode_cache,
    verdict,
    write_job_file,
)

COMMAND = 'echo "$EPOCHREALTIME $CRONPY_SCHEDULED_AT $CRONPY_RUN_ID" >> {out}/"$CRONPY_JOB"'
HEADERS = ["measure", "n", "median ms", "p90 ms", "p99 ms", "max ms"]
PERIOD = 5  # seconds between B's rounds

Samples = dict[int, tuple[str, float, float]]  # run id -> (job, due, child start), epoch s


def child_samples(out_dir: Path) -> Samples:
    samples: Samples = {}
    for path in out_dir.iterdir():
        for line in path.read_text().splitlines():
            child, scheduled, run_id = line.split()
            due = datetime.fromisoformat(scheduled).timestamp()
            samples[int(run_id)] = (path.name, due, float(child))
    return samples


def recorded(state_dir: Path) -> dict[int, tuple[float, float]]:
    """run id -> (scheduled_at, started_at) as the runner stored them, epoch seconds."""
    with state_db(state_dir) as db:
        rows = db.execute(
            "SELECT id, scheduled_at, started_at FROM runs"
            " WHERE trigger = 'schedule' AND started_at IS NOT NULL"
        ).fetchall()
    return {r[0]: (r[1] / 1e6, r[2] / 1e6) for r in rows}


class Result:
    def __init__(
        self,
        child: Samples,
        db: dict[int, tuple[float, float]],
        cpu_s: float,
        launches: int,
        profile: Path | None,
    ) -> None:
        self.child, self.db, self.cpu_s, self.launches, self.profile = (
            child,
            db,
            cpu_s,
            launches,
            profile,
        )


def run_scenario(
    workdir: Path,
    jobs: int,
    schedule: str,
    runs: int,
    limit_s: float,
    profile: bool = False,
    extra: tuple[str, ...] = (),
) -> Result:
    out = workdir / "out"
    out.mkdir()
    job_file = write_job_file(
        workdir / "jobs.toml",
        {
            f"j{i:04d}": {"schedule": schedule, "command": COMMAND.format(out=out)}
            for i in range(jobs)
        },
        defaults={"shell": "/bin/bash", "timezone": "UTC", "overlap": "allow"},
    )
    spy: subprocess.Popen[bytes] | None = None
    raw = workdir / "profile.raw"
    with RunnerProcess(job_file, workdir / "state", extra=extra) as runner:
        runner.wait_ready()
        before = proc_sample(runner.pid)
        if profile:
            spy = start_py_spy(runner.pid, raw)
        deadline = time.monotonic() + limit_s
        while runner.count("end") < runs and time.monotonic() < deadline:
            if runner.proc.poll() is not None:
                break
            time.sleep(0.25)
        after = proc_sample(runner.pid)
        if spy is not None:
            spy.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT, not SIGTERM
            spy.wait(30)
        launches = runner.count("start")
    cpu = (after.cpu_ticks - before.cpu_ticks) / CLK_TCK
    kept = None
    if spy is not None and raw.exists():
        kept = Path(tempfile.gettempdir()) / "cronpy-bench-lateness.raw"
        shutil.copy(raw, kept)
    return Result(child_samples(out), recorded(workdir / "state"), cpu, launches, kept)


def start_py_spy(pid: int, raw: Path) -> subprocess.Popen[bytes] | None:
    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(exe).exists():
        print("--profile: py-spy not found (pip install py-spy); no profile taken")
        return None
    return subprocess.Popen(
        [
            exe,
            "record",
            "--format",
            "raw",
            "--rate",
            "250",
            "--output",
            str(raw),
            "--pid",
            str(pid),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def print_profile(raw: Path, top: int = 15) -> None:
    """Where the runner's busy time goes, from py-spy's collapsed stacks: inclusive and self
    shares of the samples not spent waiting in select()."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    busy = idle = 0
    for line in raw.read_text().splitlines():
        stack, _, text = line.rpartition(" ")
        count = int(text)
        frames = [_short(f) for f in stack.split(";")]
        # keep the loop and what it calls: typer's frames above it are the same everywhere
        loop = next((i for i, f in enumerate(frames) if f.startswith("Runner.run ")), 0)
        frames = frames[loop:]
        if frames[-1].startswith(("EpollSelector.select", "DefaultSelector.select")):
            idle += count
            continue
        busy += count
        for frame in set(frames):
            inclusive[frame.rsplit(":", 1)[0] + ")"] += count  # by function, any line
        own[frames[-1]] += count
    if not busy:
        return
    print_table(
        f"py-spy: where the runner's busy time goes ({busy} samples busy, {idle} in"
        " select), inclusive",
        ["share", "function"],
        [[f"{n / busy:.0%}", f] for f, n in inclusive.most_common(top)],
    )
    print_table(
        "py-spy: self (leaf line)",
        ["share", "line"],
        [[f"{n / busy:.0%}", f] for f, n in own.most_common(top)],
    )
    print(f"collapsed stacks kept in {raw} (flamegraph.pl or speedscope read them)")


def _short(frame: str) -> str:
    name, _, where = frame.partition(" (")
    path, _, line = where.rstrip(")").rpartition(":")
    return f"{name} ({Path(path).name}:{line})"


def report(title: str, result: Result, target_ms: float) -> None:
    child, db = result.child, result.db
    child_late = [start - due for _job, due, start in child.values()]
    runner_late = [started - due for due, started in db.values()]
    spawn = [child[i][2] - db[i][1] for i in child if i in db]  # started_at -> bash running
    rows = [
        ["child start - due (the target)", *summary_ms(child_late)],
        ["runner's started_at - due (DB)", *summary_ms(runner_late)],
        ["child start - started_at", *summary_ms(spawn)],
    ]
    print_table(title, HEADERS, rows)
    if result.launches:
        print(
            f"runner CPU: {result.cpu_s * 1000:.0f} ms for {result.launches} launches"
            f" = {result.cpu_s * 1000 / result.launches:.2f} ms per launch"
            " (start, reap, record; utime+stime)"
        )
    p99 = float(rows[0][4]) if child_late else float("inf")
    print(f"target p99 <= {target_ms:g} ms: {verdict(p99, target_ms)}")


def scenario_a(seconds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="cronpy-bench-") as tmp:
        result = run_scenario(Path(tmp), 1, "* * * * * *", seconds, seconds + 30)
        report(f"A: one job every second, {seconds} s", result, 10)


def by_round(samples: list[tuple[float, float]]) -> list[list[str]]:
    """Rows per due instant: starts, first, median and last lateness."""
    rounds: dict[float, list[float]] = defaultdict(list)
    for due, start in samples:
        rounds[due].append(start - due)
    rows = []
    for due in sorted(rounds):
        late = sorted(rounds[due])
        rows.append(
            [
                datetime.fromtimestamp(due, UTC).strftime("%H:%M:%S"),
                str(len(late)),
                f"{late[0] * 1000:.1f}",
                f"{statistics.median(late) * 1000:.1f}",
                f"{late[-1] * 1000:.1f}",
            ]
        )
    return rows


def scenario_b(jobs: int, rounds: int, profile: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="cronpy-bench-") as tmp:
        result = run_scenario(
            Path(tmp), jobs, f"*/{PERIOD} * * * * *", jobs * rounds, PERIOD * rounds + 60, profile
        )
    report(f"B: {jobs} jobs due at the same instant, every {PERIOD} s", result, 250)
    print_table(
        "B per round (child start - due)",
        ["due", "starts", "first ms", "median ms", "last ms"],
        by_round([(due, start) for _j, due, start in result.child.values()]),
    )
    if result.profile is not None:
        print_profile(result.profile)


def metrics_cost(jobs: int, rounds: int, pairs: int = 2) -> None:
    """Scenario B without and with ``--metrics`` (nobody scraping), alternated in one run so
    the machine's noise falls on both."""
    rows = []
    for _ in range(pairs):
        for extra in ((), metrics_args()):
            with tempfile.TemporaryDirectory(prefix="cronpy-bench-") as tmp:
                result = run_scenario(
                    Path(tmp),
                    jobs,
                    f"*/{PERIOD} * * * * *",
                    jobs * rounds,
                    PERIOD * rounds + 60,
                    extra=extra,
                )
            late = [start - due for _job, due, start in result.child.values()]
            rows.append(
                [
                    "--metrics" if extra else "without",
                    *summary_ms(late),
                    f"{result.cpu_s * 1000 / max(result.launches, 1):.2f}",
                ]
            )
    print_table(
        f"B ({jobs} jobs at one instant, {rounds} rounds) without and with --metrics",
        ["runner", *HEADERS[1:], "CPU ms/launch"],
        rows,
    )


def floor(jobs: int, rounds: int) -> None:
    """The same launches from a bare Popen loop: what Python + bash cost on this machine."""
    samples: list[tuple[float, float]] = []
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    with tempfile.TemporaryDirectory(prefix="cronpy-bench-") as tmp:
        out = Path(tmp)
        for _ in range(rounds):
            due = float(int(time.time()) + 1)
            time.sleep(max(0.0, due - time.time()))
            stamp = datetime.fromtimestamp(due, UTC).isoformat()
            procs = []
            for i in range(jobs):
                env = {
                    **os.environ,
                    "CRONPY_SCHEDULED_AT": stamp,
                    "CRONPY_RUN_ID": "0",
                    "CRONPY_JOB": f"j{i:04d}",
                }
                procs.append(
                    subprocess.Popen(
                        ["/bin/bash", "-c", COMMAND.format(out=out)],
                        env=env,
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
            for proc in procs:
                proc.wait()
            for path in out.iterdir():
                child, _scheduled, _ = path.read_text().split()
                samples.append((due, float(child)))
                path.unlink()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpu
    print_table(
        f"floor: {jobs} bare Popen launches from this process, per round",
        ["due", "starts", "first ms", "median ms", "last ms"],
        by_round(samples),
    )
    late = [start - due for due, start in samples]
    print_table("floor overall", HEADERS, [["child start - due", *summary_ms(late)]])
    print(f"launching process CPU: {cpu * 1000 / len(samples):.2f} ms per launch")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=60, help="scenario A length (default 60)")
    parser.add_argument("--jobs", type=int, default=200, help="scenario B jobs (default 200)")
    parser.add_argument("--rounds", type=int, default=4, help="scenario B rounds (default 4)")
    parser.add_argument("--only", choices=["A", "B", "floor", "metrics"], help="run one scenario")
    parser.add_argument("--profile", action="store_true", help="py-spy the runner during B")
    args = parser.parse_args()
    use_bytecode_cache()
    if args.only in (None, "A"):
        scenario_a(args.seconds)
    if args.only in (None, "B"):
        scenario_b(args.jobs, args.rounds, args.profile)
    if args.only in (None, "floor"):
        floor(args.jobs, args.rounds)
    if args.only == "metrics":
        metrics_cost(args.jobs, args.rounds)


if __name__ == "__main__":
    main()
