"""Cold-process CLI time of two checkouts of cronpy, interleaved command by command.

Each tree (a checkout with its own .venv, e.g. a `git worktree` of an older commit) writes its
own state with its own bench/bench_cli.py (``populate_status``, ``populate_history``), so each
reads a database its own store made. Then every command runs alternately on the two trees,
old-new in one round and new-old in the next, so a burst of load on this shared machine falls
on both sides. Reported per command and tree: wall time median / p90 / p99 and the child's CPU
time (user+sys from wait4) median, and the ratios new/old.

Usage: .venv/bin/python bench/compare_cli_trees.py --old /path/to/old-tree [--new .]
                                                 [--rounds 40] [--jobs 1000] [--runs 1000000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from _common import REPO, percentile, print_table, use_bytecode_cache

HOT = "job-0007"
POPULATE = (
    "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); import bench_cli;"
    " work = Path(sys.argv[2]); bench_cli.populate_status(work / 'status', int(sys.argv[3]));"
    " bench_cli.populate_history(work / 'history', int(sys.argv[4]))"
)


def timed(argv: list[str]) -> tuple[float, float, int]:
    """(wall s, child CPU s, exit status) of one cold run, stdout and stderr discarded."""
    begin = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - begin
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    return wall, usage.ru_utime + usage.ru_stime, proc.returncode


def commands(tree: Path, state: Path) -> dict[str, list[str]]:
    cronpy = str(tree / ".venv" / "bin" / "cronpy")
    s = ["--state-dir", str(state / "status")]
    h = ["--state-dir", str(state / "history")]
    return {
        "--version": [cronpy, "--version"],
        "status (1,000 jobs)": [cronpy, *s, "status"],
        f"history {HOT} (1e6 runs)": [cronpy, *h, "history", HOT],
        "status --json": [cronpy, *s, "status", "--json"],
        "history (all jobs)": [cronpy, *h, "history"],
        "python -c pass": [str(tree / ".venv" / "bin" / "python"), "-c", "pass"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", type=Path, required=True, help="the older checkout")
    parser.add_argument("--new", type=Path, default=REPO, help="the newer checkout (this one)")
    parser.add_argument("--rounds", type=int, default=40, help="timed runs per command and tree")
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=1_000_000)
    args = parser.parse_args()
    use_bytecode_cache()
    trees = {"old": args.old.resolve(), "new": args.new.resolve()}
    with tempfile.TemporaryDirectory(prefix="cronpy-bench-") as tmp:
        argvs: dict[str, dict[str, list[str]]] = {}
        for side, tree in trees.items():
            state = Path(tmp) / side
            state.mkdir()
            begin = time.perf_counter()
            subprocess.run(
                [
                    str(tree / ".venv" / "bin" / "python"),
                    "-c",
                    POPULATE,
                    str(tree / "bench"),
                    str(state),
                    str(args.jobs),
                    str(args.runs),
                ],
                check=True,
                cwd=tree,  # `python -c` puts the working directory first on sys.path
            )
            print(f"{side}: {tree}, state written in {time.perf_counter() - begin:.1f} s")
            argvs[side] = commands(tree, state)
        names = list(argvs["old"])
        for side in trees:  # warm-up, and a check that every command works on both trees
            for name in names:
                for _ in range(3):
                    _, _, code = timed(argvs[side][name])
                if code != 0:
                    print(f"warning: {side} `{name}` exits {code}")
        wall: dict[tuple[str, str], list[float]] = {}
        cpu: dict[tuple[str, str], list[float]] = {}
        for r in range(args.rounds):
            order = ("old", "new") if r % 2 == 0 else ("new", "old")
            for name in names:
                for side in order:
                    seconds, cpu_s, _ = timed(argvs[side][name])
                    wall.setdefault((side, name), []).append(seconds * 1000)
                    cpu.setdefault((side, name), []).append(cpu_s * 1000)
    rows = []
    for name in names:
        cells = []
        for side in trees:
            w = wall[(side, name)]
            cells += [
                f"{statistics.median(w):.1f} / {percentile(w, 90):.1f} / {percentile(w, 99):.1f}",
                f"{statistics.median(cpu[(side, name)]):.1f}",
            ]
        old_w, new_w = wall[("old", name)], wall[("new", name)]
        ratio = statistics.median(new_w) / statistics.median(old_w)
        ratio99 = percentile(new_w, 99) / percentile(old_w, 99)
        cpu_ratio = statistics.median(cpu[("new", name)]) / statistics.median(cpu[("old", name)])
        rows.append([name, *cells, f"{ratio:.2f}", f"{ratio99:.2f}", f"{cpu_ratio:.2f}"])
    print_table(
        f"cold-process time, {args.rounds} interleaved runs per command and tree (ms)",
        [
            "command",
            "old median/p90/p99",
            "old CPU",
            "new median/p90/p99",
            "new CPU",
            "new/old median",
            "new/old p99",
            "new/old CPU",
        ],
        rows,
    )
    print(f"load average at the end: {Path('/proc/loadavg').read_text().split()[:3]}")


if __name__ == "__main__":
    main()
