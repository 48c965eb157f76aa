"""Call-cache lookup latency with a million entries, in MariaDB/MySQL and in SQLite.

For each database: migrate a fresh schema, write ``--entries`` cache entries in
batched Core inserts (executemany), then time ``--lookups`` random lookups
(half hits, half misses) through the engine's real ``SqlCacheStore.find_entries``.
Prints the write time, p50 and p99 lookup latency and whether each target is met
(p50 <= 2 ms, p99 <= 10 ms), with the ratio to the target.

    python bench/callcache_lookup.py                      # 1,000,000 entries, both databases
    python bench/callcache_lookup.py --entries 20000      # a quick run
    python bench/callcache_lookup.py --no-mysql           # SQLite only

MySQL: ``--mysql-url`` (default ``mysql+pymysql://root@127.0.0.1:3306/test``) names
the server; the bench creates and drops its own database ``ironside_bench`` there.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

from ironside.store.cache_entries import CACHE_ENTRIES, SqlCacheStore
from ironside.store.db import open_store

P50_TARGET_MS = 2.0
P99_TARGET_MS = 10.0
BENCH_DATABASE = "ironside_bench"


def md5(text_: str) -> str:
    """MD5 hex of ``text_``."""
    return hashlib.md5(text_.encode()).hexdigest()


def entry_row(i: int) -> dict[str, Any]:
    """A realistic cache-entry row (as ``entry_to_row`` writes it) for entry number ``i``."""
    root = f"/data/ironside-executions/wf/{md5(str(i // 50))[:8]}-run/call-task{i % 7}"
    components = {
        "backend name": md5("Local"),
        "command template": md5(f"cmd{i % 7}"),
        "input count": md5("2"),
        "input: File f": md5(f"file{i}"),
        "output count": md5("1"),
        "runtime attribute: docker": md5("N/A"),
    }
    return {
        "aggregate_hash": md5(f"entry{i}"),
        "base_hash": md5(f"base{i % 7}"),
        "files_hash": md5(f"files{i}"),
        "hashes": json.dumps(components, sort_keys=True, separators=(",", ":")),
        "workflow_id": f"{i // 50:08x}-0000-4000-8000-000000000000",
        "call_fqn": f"wf.task{i % 7}",
        "shard": i % 50,
        "call_root": root,
        "outputs": json.dumps({"out": f"{root}/execution/out.txt"}),
        "files": json.dumps([f"{root}/execution/{n}" for n in ("out.txt", "stdout", "rc")]),
        "return_code": 0,
        "created_at": 1_700_000_000.0 + i,
        "allow_result_reuse": True,
    }


def batches(count: int, size: int) -> Iterator[list[dict[str, Any]]]:
    """Rows 0..count-1 in lists of ``size``."""
    for start in range(0, count, size):
        yield [entry_row(i) for i in range(start, min(start + size, count))]


def write_entries(store: SqlCacheStore, count: int, batch: int) -> float:
    """Insert ``count`` entries, one transaction per batch; seconds spent in the database.

    Building the rows in Python is not counted (it is the bench's own work).
    """
    spent = 0.0
    for rows in batches(count, batch):
        began = time.perf_counter()
        with store.engine.begin() as conn:
            conn.execute(insert(CACHE_ENTRIES), rows)
        spent += time.perf_counter() - began
    return spent


def time_lookups(store: SqlCacheStore, count: int, lookups: int, seed: int) -> list[float]:
    """Milliseconds of each of ``lookups`` random lookups (even: a hit, odd: a miss)."""
    rng = random.Random(seed)
    keys = [md5(f"entry{rng.randrange(count)}") for _ in range(lookups // 2)]
    keys += [md5(f"missing{rng.random()}") for _ in range(lookups - len(keys))]
    rng.shuffle(keys)
    for key in keys[:50]:  # warm the connection pool and caches
        store.find_entries(key)
    latencies = []
    hits = 0
    for key in keys:
        began = time.perf_counter()
        found = store.find_entries(key)
        latencies.append((time.perf_counter() - began) * 1000.0)
        hits += bool(found)
    if hits != lookups // 2:
        raise AssertionError(f"expected {lookups // 2} hits, got {hits}")
    return latencies


def percentile(values: list[float], p: float) -> float:
    """The ``p``-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100.0 * len(ordered)) - 1))]


def report(name: str, count: int, write_s: float, latencies: list[float]) -> bool:
    """Print one database's figures; True when both targets are met."""
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    ok50, ok99 = p50 <= P50_TARGET_MS, p99 <= P99_TARGET_MS
    print(f"{name}: wrote {count:,} entries in {write_s:.1f} s ({count / write_s:,.0f}/s)")
    print(
        f"{name}: {len(latencies):,} lookups  p50 {p50:.3f} ms (target {P50_TARGET_MS} ms, "
        f"{p50 / P50_TARGET_MS:.2f}x, {'met' if ok50 else 'NOT met'})  "
        f"p99 {p99:.3f} ms (target {P99_TARGET_MS} ms, {p99 / P99_TARGET_MS:.2f}x, "
        f"{'met' if ok99 else 'NOT met'})  mean {statistics.fmean(latencies):.3f} ms"
    )
    return ok50 and ok99


def bench(name: str, url: str, args: argparse.Namespace) -> bool:
    """Migrate ``url``, fill it, time lookups, print."""
    store = open_store(url)
    try:
        cache = SqlCacheStore(store.engine)
        write_s = write_entries(cache, args.entries, args.batch)
        latencies = time_lookups(cache, args.entries, args.lookups, args.seed)
        return report(name, args.entries, write_s, latencies)
    finally:
        store.close()


def with_mysql_database(base_url: str, body: Callable[[str], bool]) -> bool:
    """Run ``body`` on a fresh database ``ironside_bench`` on the server, dropped afterwards."""
    admin = create_engine(base_url)
    with admin.begin() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {BENCH_DATABASE}"))
        conn.execute(text(f"CREATE DATABASE {BENCH_DATABASE}"))
    try:
        url = make_url(base_url).set(database=BENCH_DATABASE)
        return body(url.render_as_string(hide_password=False))
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {BENCH_DATABASE}"))
        admin.dispose()


def main(argv: list[str] | None = None) -> int:
    """Run the bench; exit 0 when every target is met, 1 otherwise."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=10_000, help="rows per insert transaction")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--mysql-url", default="mysql+pymysql://root@127.0.0.1:3306/test")
    parser.add_argument("--no-mysql", action="store_true", help="SQLite only")
    args = parser.parse_args(argv)
    print(f"call-cache lookup bench: {args.entries:,} entries, {args.lookups:,} lookups")
    met = True
    if not args.no_mysql:
        met &= with_mysql_database(args.mysql_url, lambda url: bench("mysql", url, args))
    with tempfile.TemporaryDirectory(prefix="ironside-bench-") as tmp:
        met &= bench("sqlite", f"sqlite:///{Path(tmp) / 'cache.sqlite'}", args)
    print("all targets met" if met else "some targets NOT met")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
