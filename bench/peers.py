"""cronpy beside its peers, in one run: Debian cron, yacron and cronstable (with its state
store, since cronpy always records), and a bare Popen loop as the floor.

It installs the peers itself (Debian's `cron` with apt-get if missing; yacron and cronstable
from PyPI, each in its own virtual environment under bench/.peers/), runs the same workloads
against each one after another, stops every process it started, and prints one table:

  bursts       --jobs jobs `* * * * *` due at the same minute boundary, --rounds boundaries:
               start lateness p50/p99 (the child's `date +%s.%N` minus the boundary)
  single job   one job alone at the finest granularity the system has (every second for
               cronpy and cronstable, every minute for Debian cron and yacron)
  idle         --jobs jobs configured, none due (`0 0 1 1 *`), --idle-seconds: CPU seconds,
               voluntary context switches per minute (all threads), RSS
  load         the daemon's CPU per burst round and its peak RSS during the bursts
  floor        the same commands launched by a bare `subprocess.Popen` loop at the boundary
  output       a cronpy job printing --output-size bytes: runner RSS and throughput, beside
               the same bytes piped into `cat > /dev/null`

--sustained instead searches, for cronpy and cronstable, the largest N of jobs every second
that keep start-lateness p99 under 1 s with no missed or doubled occurrence.

Usage: .venv/bin/python bench/peers.py [--quick] [--sustained] [--only cronpy,yacron,...]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import use_bytecode_cache
from _peers_extra import output_at_speed, search
from _peers_systems import (
    SYSTEMS,
    Cronpy,
    Cronstable,
    install_debian_cron,
    install_pypi_peers,
    stop_all,
    versions,
)
from _peers_work import WORK_DIRS, Result, bursts, floor, idle, median, single


def machine() -> dict[str, str]:
    model = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {
        "nproc": str(os.cpu_count()),
        "CPU": model,
        "kernel": platform.release(),
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def fmt(value: float | None, scale: float = 1.0, digits: int = 1) -> str:
    return "-" if value is None else f"{value * scale:.{digits}f}"


def cell(value: float | None, ours: float | None, scale: float, digits: int) -> str:
    """A peer's figure with cronpy's figure divided by it: below 1 means cronpy is lower."""
    text = fmt(value, scale, digits)
    if value is None or ours is None:
        return text
    if value == 0:
        return text if ours == 0 else f"{text} (cronpy higher)"
    return f"{text} ({ours / value:.2g}x)"


ROWS: list[tuple[str, Any, float, int]] = [
    # (label, how to get the figure from the results, scale, digits)
    ("bursts: start lateness p50, ms", lambda r: r["bursts"].p(50), 1000, 1),
    ("bursts: start lateness p99, ms", lambda r: r["bursts"].p(99), 1000, 1),
    ("single job: start lateness p50, ms", lambda r: r["single"].p(50), 1000, 2),
    ("single job: start lateness p99, ms", lambda r: r["single"].p(99), 1000, 2),
    ("idle: CPU seconds over the window", lambda r: r["idle"].cpu[0], 1, 2),
    ("idle: voluntary context switches / min", lambda r: r["idle"].vcsw_per_min, 1, 1),
    ("idle: RSS, MiB", lambda r: r["idle"].rss_mib, 1, 1),
    ("load: CPU s per burst (median)", lambda r: median(r["bursts"].cpu), 1, 2),
    ("load: + reaped children, s per burst", lambda r: _with_children(r["bursts"]), 1, 2),
    ("load: peak RSS during bursts, MiB", lambda r: r["bursts"].peak_mib, 1, 1),
    ("machine load average after the bursts", lambda r: r["bursts"].loadavg, 1, 2),
]


def _with_children(result: Result) -> float | None:
    both = [a + b for a, b in zip(result.cpu, result.cpu_children, strict=True)]
    return median(both)


def table(results: dict[str, dict[str, Result]]) -> str:
    labels = list(results)
    ours = results.get("cronpy")
    head = ["workload", *labels]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, get, scale, digits in ROWS:
        row = [label]
        mine = _get(get, ours)
        for name in labels:
            value = _get(get, results[name])
            plain = name == "cronpy" or label.startswith("machine")  # no ratio for these
            row.append(fmt(value, scale, digits) if plain else cell(value, mine, scale, digits))
        lines.append("| " + " | ".join(row) + " |")
    extra = ["bursts: missing / doubled starts", "single job: granularity"]
    for what in extra:
        row = [what]
        for name in labels:
            r = results[name]
            if what.startswith("bursts"):
                b = r.get("bursts")
                row.append("-" if b is None else f"{b.missing} / {b.extra} of {len(b.late)}")
            else:
                s = r.get("single")
                row.append("-" if s is None else s.note)
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def _get(get: Any, results: dict[str, Result] | None) -> float | None:
    if results is None:
        return None
    try:
        return get(results)  # type: ignore[no-any-return]
    except (KeyError, IndexError):
        return None


def comparison(args: argparse.Namespace) -> None:
    results: dict[str, dict[str, Result]] = {}
    chosen = [k for k in SYSTEMS if not args.only or k.label in args.only]
    for kind in chosen:
        print(f"\n== {kind.label}", flush=True)
        res: dict[str, Result] = {}
        res["idle"] = idle(kind, args.jobs, args.idle_seconds)
        i = res["idle"]
        print(f"  idle: cpu {i.cpu[0]:.2f} s, {i.vcsw_per_min:.1f} vcsw/min,"
              f" rss {i.rss_mib:.1f} MiB, {i.note}", flush=True)  # fmt: skip
        if kind.second_level or args.minute_rounds:
            res["single"] = single(kind, args.single_seconds, args.minute_rounds)
            print(f"  single: p50 {fmt(res['single'].p(50), 1000, 2)} ms"
                  f" p99 {fmt(res['single'].p(99), 1000, 2)} ms"
                  f" n={len(res['single'].late)}", flush=True)  # fmt: skip
        res["bursts"] = bursts(kind, args.jobs, args.rounds)
        b = res["bursts"]
        print(f"  bursts: p50 {fmt(b.p(50), 1000)} ms p99 {fmt(b.p(99), 1000)} ms"
              f" n={len(b.late)} missing {b.missing} doubled {b.extra}"
              f" cpu {b.cpu}", flush=True)  # fmt: skip
        results[kind.label] = res
    if not args.only or "floor" in args.only:
        print("\n== floor (bare Popen loop)", flush=True)
        fl = floor(args.jobs, args.rounds)
        results["floor"] = {"bursts": fl}
        print(f"  bursts: p50 {fmt(fl.p(50), 1000)} ms p99 {fmt(fl.p(99), 1000)} ms", flush=True)
    print("\n" + table(results))
    if not args.only or "output" in args.only:
        print(f"\n== output at speed: a cronpy job printing {args.output_size}", flush=True)
        o = output_at_speed(args.output_size)
        size = _bytes(args.output_size)
        print(
            f"| runner RSS before / peak / after, MiB | {o.rss_before_mib:.1f} /"
            f" {o.rss_peak_mib:.1f} / {o.rss_after_mib:.1f} |\n"
            f"| cronpy run ({o.status}): seconds, MiB/s | {o.seconds:.2f} s,"
            f" {size / o.seconds / 2**20:.0f} MiB/s |\n"
            f"| same bytes into `cat > /dev/null` | {o.cat_seconds:.2f} s,"
            f" {size / o.cat_seconds / 2**20:.0f} MiB/s (cronpy/cat time"
            f" {o.seconds / o.cat_seconds:.2f}x) |"
        )


def _bytes(size: str) -> int:
    units = {"K": 2**10, "M": 2**20, "G": 2**30}
    return int(size[:-1]) * units[size[-1]] if size[-1] in units else int(size)


def sustained(args: argparse.Namespace) -> None:
    lines: list[str] = []
    found: dict[str, int] = {}
    for kind in (Cronpy, Cronstable):
        if args.only and kind.label not in args.only:
            continue
        print(f"\n== sustained: {kind.label}", flush=True)
        found[kind.label], _ = search(
            kind, args.start_n, args.trial_seconds, args.confirm_seconds, args.budget, lines
        )
    print("\n| system | largest N every second (p99 < 1 s, none missed or doubled) |")
    print("|---|---|")
    for label, n in found.items():
        print(f"| {label} | {n} |")
    print("\n" + "\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: seconds, not minutes")
    parser.add_argument("--sustained", action="store_true", help="the throughput search only")
    parser.add_argument("--only", type=lambda s: s.split(","), default=[],
                        help="cronpy,Debian cron,yacron,cronstable,floor,output")  # fmt: skip
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="minute boundaries of bursts")
    parser.add_argument("--minute-rounds", type=int, default=3,
                        help="boundaries of the single job, minute-level systems")  # fmt: skip
    parser.add_argument("--single-seconds", type=float, default=60)
    parser.add_argument("--idle-seconds", type=float, default=60)
    parser.add_argument("--output-size", default="1G")
    parser.add_argument("--start-n", type=int, default=50)
    parser.add_argument("--trial-seconds", type=float, default=30)
    parser.add_argument("--confirm-seconds", type=float, default=120)
    parser.add_argument("--budget", type=float, default=420, help="seconds per system")
    parser.add_argument("--skip-install", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directories")
    args = parser.parse_args()
    if args.quick:
        args.jobs, args.rounds, args.minute_rounds = 20, 1, 0
        args.single_seconds = args.idle_seconds = 5
        args.output_size = "64M"
        args.start_n, args.trial_seconds, args.confirm_seconds, args.budget = 20, 5, 8, 40
    use_bytecode_cache()
    if not args.skip_install:
        install_debian_cron()
        install_pypi_peers()
    print(f"command: {' '.join(sys.argv)}")
    for key, value in {**machine(), **versions()}.items():
        print(f"{key}: {value}")

    def on_signal(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    began = time.monotonic()
    try:
        sustained(args) if args.sustained else comparison(args)
    finally:
        stop_all()
        for work in WORK_DIRS:
            if args.keep:
                print(f"kept {work}")
            else:
                shutil.rmtree(work, ignore_errors=True)
    print(f"\nfinished in {time.monotonic() - began:.0f} s; every daemon started was stopped")


if __name__ == "__main__":
    main()
