"""Cold-process wall time of the read commands (DESIGN §10).

  cronpy --version, cronpy --help                    target <= 2.5x `python -c pass`
  cronpy status            with --jobs jobs (1,000)  target <= 4x
  cronpy history JOB       with --runs runs (1,000,000) stored   target <= 4x

The floor, `python -c pass`, is timed in the same run with the same interpreter (the venv's,
so both pay for site and the editable-install finder); the targets are ratios to it (DESIGN
§10), as the machine is shared and its absolute speed moves.

plus a few variants for context (``status --json``, ``history`` over every job,
``history JOB --status failed``). Each command is a fresh process with stdout not a terminal
(plain output), timed by hyperfine (--warmup 3, --shell=none) when it is installed, else by a
perf_counter loop. The state is written straight into the store: 1,000 job states with a few
finished runs each through SqliteStore's API; 1,000,000 runs with one executemany in one
transaction. Then ``python -X importtime`` names the slowest imports.

Usage: .venv/bin/python bench/bench_cli.py [--jobs 1000] [--runs 1000000] [--min-runs 20]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import cronpy_command, hyperfine, print_table, use_bytecode_cache, verdict

from cronpy.model import Finish, JobState, Status, Trigger
from cronpy.store.sqlite import SqliteStore

NOW = datetime.now(UTC).replace(microsecond=0)
HISTORY_JOBS = 100  # the million runs are spread over this many jobs
HOT = "job-0007"  # the job whose history is asked for
STATUSES = ["succeeded"] * 17 + ["failed", "skipped", "timed_out"]


def populate_status(state: Path, jobs: int) -> None:
    state.mkdir(mode=0o700)
    store = SqliteStore(state / "state.db")
    names = [f"job-{i:04d}" for i in range(jobs)]
    store.save_job_states(
        [
            JobState(
                name=n,
                first_seen=NOW - timedelta(days=30),
                schedule=f"{i % 60} * * * *",
                timezone="UTC",
                command=f"echo {n}",
                next_run_at=NOW + timedelta(minutes=i % 60 + 1),
            )
            for i, n in enumerate(names)
        ]
    )
    runner = store.register_runner("bench", 1, NOW - timedelta(days=1))
    for k in range(3):  # a few finished runs per job: the last one is what status shows
        for i, name in enumerate(names):
            at = NOW - timedelta(hours=3 - k, minutes=i % 60)
            run_id = store.claim_run(
                job=name,
                scheduled_at=at,
                trigger=Trigger.SCHEDULE,
                attempt=1,
                started_at=at,
                host="bench",
                runner_id=runner,
            )
            assert run_id is not None
            status = Status.FAILED if (i + k) % 13 == 0 else Status.SUCCEEDED
            store.finish_run(
                run_id,
                Finish(
                    status,
                    at + timedelta(seconds=2),
                    exit_code=int(status is Status.FAILED),
                    output_tail="done\n",
                ),
            )
    store.unregister_runner(runner, NOW)
    store.close()


def populate_history(state: Path, runs: int) -> None:
    state.mkdir(mode=0o700)
    store = SqliteStore(state / "state.db")  # creates the schema
    names = [f"job-{i:04d}" for i in range(HISTORY_JOBS)]
    store.save_job_states(
        [
            JobState(
                name=n,
                first_seen=NOW - timedelta(days=400),
                schedule="* * * * *",
                timezone="UTC",
                command="true",
            )
            for n in names
        ]
    )
    store.close()
    rng = random.Random(1)
    start_us = int((NOW - timedelta(days=365)).timestamp() * 1_000_000)
    step_us = 365 * 86_400 * 1_000_000 // runs

    def rows() -> Iterator[tuple[object, ...]]:
        for i in range(runs):
            at = start_us + i * step_us
            status = rng.choice(STATUSES)
            yield (
                names[i % HISTORY_JOBS],
                at,
                at,
                at + 1000,
                at + 2_000_000,
                status,
                0 if status == "succeeded" else 1,
                1,
                "schedule",
                "bench",
                1,
                "line 1\nline 2\n",
                f"/var/lib/cronpy/logs/{i}.log",
            )

    db = sqlite3.connect(state / "state.db")
    db.execute("PRAGMA synchronous = OFF")  # a benchmark's scratch database: no need to fsync
    db.execute("PRAGMA cache_size = -65536")  # 64 MiB: the five indexes build in memory
    with db:  # one transaction
        db.executemany(
            "INSERT INTO runs (job, scheduled_at, created_at, started_at, ended_at, status,"
            " exit_code, attempt, trigger, host, runner_id, output_tail, log_path)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows(),
        )
        db.execute(
            "UPDATE jobs SET last_run_id = (SELECT max(id) FROM runs WHERE job = jobs.name),"
            " run_count = (SELECT count(*) FROM runs WHERE job = jobs.name)"
        )
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def time_commands(commands: dict[str, list[str]], min_runs: int, work: Path) -> dict[str, float]:
    """Median wall seconds of each command, as a fresh process."""
    exe = hyperfine()
    medians: dict[str, float] = {}
    noisy: list[str] = []
    for name, argv in commands.items():
        check = subprocess.run(argv, capture_output=True, text=True)
        if check.returncode != 0:
            print(f"warning: `{name}` exits {check.returncode}: {check.stderr.strip()[:300]}")
        if exe:
            export = work / "hyperfine.json"
            done = subprocess.run(
                [
                    exe,
                    "--warmup",
                    "3",
                    "--min-runs",
                    str(min_runs),
                    "--shell=none",
                    "--ignore-failure",
                    "--style",
                    "none",
                    "--export-json",
                    str(export),
                    subprocess.list2cmdline(argv),
                ],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            medians[name] = json.loads(export.read_text())["results"][0]["median"]
            if b"outliers" in done.stderr:
                noisy.append(name)
        else:
            for _ in range(3):
                subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            samples = []
            for _ in range(min_runs):
                begin = time.perf_counter()
                subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                samples.append(time.perf_counter() - begin)
            medians[name] = statistics.median(samples)
    if noisy:
        print(f"hyperfine saw statistical outliers (a busy machine) in: {', '.join(noisy)}")
    return medians


IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| (.*)")


def import_offenders(argv: list[str], top: int = 10) -> list[list[str]]:
    """The ``top`` imports by cumulative time in one run of ``argv`` under -X importtime."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *argv], capture_output=True, text=True
    )
    found = []
    for line in done.stderr.splitlines():
        if match := IMPORT_LINE.match(line):
            found.append((int(match[2]), int(match[1]), match[3].rstrip()))
    found.sort(reverse=True)
    return [[f"{cum / 1000:.1f}", f"{own / 1000:.1f}", name] for cum, own, name in found[:top]]


PROFILE = r"""
import cProfile, io, pstats, sys
from cronpy.cli.main import main
sink, real = io.StringIO(), sys.stdout
profile = cProfile.Profile()
sys.stdout = sink
profile.enable()
main(sys.argv[1:])
profile.disable()
sys.stdout = real
pstats.Stats(profile).sort_stats("cumulative").print_stats(int(os.environ["TOP"]))
""".replace("import cProfile", "import os, cProfile")


def profile_command(argv: list[str], top: int = 40) -> str:
    """cProfile of one cold in-process run of ``cronpy ARGV``, cumulative order (imports
    included: nothing is imported before ``main``)."""
    done = subprocess.run(
        [sys.executable, "-c", PROFILE, *argv],
        capture_output=True,
        text=True,
        env={**os.environ, "TOP": str(top)},
    )
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    keep = [line for line in lines if "importlib" not in line and "{built-in" not in line]
    return "\n".join(keep)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1000, help="jobs for status (1,000)")
    parser.add_argument("--runs", type=int, default=1_000_000, help="runs for history (1e6)")
    parser.add_argument("--min-runs", type=int, default=20, help="timed runs per command")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also print a cProfile of one status and one history run",
    )
    args = parser.parse_args()
    use_bytecode_cache()
    cronpy = cronpy_command()
    with tempfile.TemporaryDirectory(prefix="cronpy-bench-") as tmp:
        work = Path(tmp)
        begin = time.perf_counter()
        populate_status(work / "status", args.jobs)
        populate_history(work / "history", args.runs)
        size = (work / "history" / "state.db").stat().st_size
        print(
            f"state written in {time.perf_counter() - begin:.1f} s"
            f" (history database {size / 2**20:.0f} MiB)"
        )
        s = ["--state-dir", str(work / "status")]
        h = ["--state-dir", str(work / "history")]
        commands = {
            "cronpy --version": [*cronpy, "--version"],
            "cronpy --help": [*cronpy, "--help"],
            f"cronpy status ({args.jobs:,} jobs)": [*cronpy, *s, "status"],
            f"cronpy history {HOT} ({args.runs:,} runs)": [*cronpy, *h, "history", HOT],
            "  status --json": [*cronpy, *s, "status", "--json"],
            "  history (all jobs)": [*cronpy, *h, "history"],
            f"  history {HOT} --status failed": [*cronpy, *h, "history", HOT, "--status", "failed"],
            "  status, no bytecode cache (PYTHONDONTWRITEBYTECODE=1)": [
                "/usr/bin/env",
                "-u",
                "PYTHONPYCACHEPREFIX",
                "PYTHONDONTWRITEBYTECODE=1",
                *cronpy,
                *s,
                "status",
            ],
            "  python -c pass (interpreter floor)": [sys.executable, "-c", "pass"],
        }
        medians = time_commands(commands, args.min_runs, work)
        floor = medians["  python -c pass (interpreter floor)"]
        targets = [2.5, 2.5, 4.0, 4.0]  # ratios to the floor
        rows = []
        for i, (name, median) in enumerate(medians.items()):
            target = targets[i] if i < len(targets) else None
            ratio = median / floor
            rows.append(
                [
                    name,
                    f"{median * 1000:.1f}",
                    f"{ratio:.2f}x",
                    "" if target is None else f"{target}x",
                    "" if target is None else verdict(ratio, target),
                ]
            )
        tool = "hyperfine --warmup 3 -N" if hyperfine() else "perf_counter loop"
        print_table(
            f"cold-process wall time, median ({tool}, stdout not a terminal)",
            ["command", "median ms", "x floor", "target", "verdict"],
            rows,
        )
        print_table(
            "python -X importtime -c 'import cronpy.cli.main': top 10 cumulative",
            ["cumulative ms", "self ms", "module"],
            import_offenders(["-c", "import cronpy.cli.main"]),
        )
        for label, argv in (("status", [*s, "status"]), ("history", [*h, "history", HOT])):
            print_table(
                f"python -X importtime -m cronpy {label}: top 10 cumulative",
                ["cumulative ms", "self ms", "module"],
                import_offenders(["-m", "cronpy", *argv]),
            )
            if args.profile:
                print(f"\ncProfile of one cold `cronpy {label}` (imports included):")
                print(profile_command(argv))


if __name__ == "__main__":
    main()
