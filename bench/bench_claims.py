"""Claiming a burst: the round trip of ``Store.claim_runs`` for 200 jobs due at one instant,
SQLite against PostgreSQL (DESIGN §9: every start is claimed in the store first, so with many
hosts this is on the path of every start).

Each batch claims one new occurrence of each of the 200 jobs, moving their cursors, as the
runner does at a due instant. Printed: median, p99 and max per batch over --batches batches
(after --warmup unmeasured ones), and per claim.

PostgreSQL: by default a throwaway server started here (tests/pgserver.py: initdb in a temp
dir, loopback, fsync and synchronous commit ON, as in production); --url to measure a real one
(it must be empty, or a schema of its own: tables are created). "one by one" is the Store
interface's default claim_runs (one statement per claim), for comparison.

Usage: .venv/bin/python bench/bench_claims.py [--jobs 200] [--batches 50] [--url URL]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.pgserver

from cronpy.interfaces import Store
from cronpy.model import Claim, JobState, Trigger
from cronpy.store.sqlite import SqliteStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def stats(samples: Sequence[float]) -> tuple[float, float, float]:
    """median, p99 (nearest rank), max, in milliseconds"""
    ms = sorted(s * 1000 for s in samples)
    return statistics.median(ms), ms[min(len(ms) - 1, -(-len(ms) * 99 // 100) - 1)], ms[-1]


def measure(
    store: Store, jobs: int, batches: int, warmup: int, claim: Callable[[list[Claim]], object]
) -> list[float]:
    names = [f"job{j:03d}" for j in range(jobs)]
    store.save_job_states([JobState(name=n, first_seen=T0) for n in names])
    runner = store.register_runner("bench", 1, T0)
    samples = []
    for b in range(warmup + batches):
        due = T0 + timedelta(minutes=b + 1)
        claims = [
            Claim(
                job=n,
                scheduled_at=due,
                trigger=Trigger.SCHEDULE,
                attempt=1,
                started_at=due,
                host="bench",
                runner_id=runner,
                cursor=due,
            )
            for n in names
        ]
        begin = time.perf_counter()
        claim(claims)
        if b >= warmup:
            samples.append(time.perf_counter() - begin)
    assert len(store.runs(limit=1_000_000)) == jobs * (warmup + batches)  # every claim won
    return samples


def row(label: str, samples: Sequence[float], jobs: int) -> str:
    med, p99, top = stats(samples)
    return f"{label:<34} {med:9.2f} {p99:9.2f} {top:9.2f} {med * 1000 / jobs:12.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=200, help="claims per batch")
    parser.add_argument("--batches", type=int, default=50, help="measured batches")
    parser.add_argument("--warmup", type=int, default=5, help="unmeasured batches first")
    parser.add_argument("--url", help="a PostgreSQL store URL instead of a throwaway server")
    args = parser.parse_args()

    print(f"{args.jobs} claims per batch, {args.batches} batches")
    print(f"{'store':<34} {'median':>9} {'p99':>9} {'max':>9} {'µs/claim':>12}  (ms per batch)")

    def report(label: str, store: Store, claim: Callable[[list[Claim]], object]) -> None:
        samples = measure(store, args.jobs, args.batches, args.warmup, claim)
        print(row(label, samples, args.jobs))

    with tempfile.TemporaryDirectory() as tmp, SqliteStore(Path(tmp) / "state.db") as sqlite:
        report("sqlite (WAL, synchronous=NORMAL)", sqlite, sqlite.claim_runs)

    from cronpy.store.postgres import PostgresStore

    def on(url: str, label: str) -> None:
        for name, batched in ((label, True), ("postgresql, one by one", False)):
            with PostgresStore(url) as store:
                one_by_one = lambda claims: Store.claim_runs(store, claims)  # noqa: E731
                report(name, store, store.claim_runs if batched else one_by_one)
                # every table the schema made, whatever migrations added since (the URL must
                # name an empty database or schema: see --help)
                db = store._conn()
                tables = db.execute(
                    "SELECT quote_ident(tablename) FROM pg_tables"
                    " WHERE schemaname = current_schema()"
                ).fetchall()
                db.execute("DROP TABLE " + ", ".join(t for (t,) in tables))

    if args.url:
        on(args.url, "postgresql (--url)")
        return
    from tests.pgserver import pg_server, unavailable

    reason = unavailable()
    if reason:
        print(f"postgresql: not measured: {reason}")
        return
    with pg_server(durable=True) as server:
        on(server.url(), "postgresql (loopback, fsync on)")


if __name__ == "__main__":
    main()
