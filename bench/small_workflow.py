"""Small-workflow benchmark: a three-call chain, Ironside vs. miniwdl (bare backend).

Usage: ``python bench/small_workflow.py [--repeat R]``

``a1 -> a2 -> a3``, each ``echo $((x+1))`` read back with ``read_int(stdout())``, each
engine in a fresh directory (a fresh SQLite store for Ironside) per run. Prints the
median wall time and peak RSS of each, ``ironside --version``'s wall time, the ratios, and
the peak RSS of importing the libraries every run needs (the floor under Ironside's RSS).
Ironside's bytecode is written first, as its wheel's install would (``compile_ironside``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from local_scatter import compile_ironside, run_measured  # noqa: E402  (shared helpers)

WDL_SOURCE = """version 1.0
task add_one {
  input { Int x }
  command <<< echo $((~{x}+1)) >>>
  output { Int y = read_int(stdout()) }
}
workflow chain {
  input { Int x = 0 }
  call add_one as a1 { input: x = x }
  call add_one as a2 { input: x = a1.y }
  call add_one as a3 { input: x = a2.y }
  output { Int y = a3.y }
}
"""


#: what any ``ironside run`` loads before it reads a byte of WDL: miniwdl's parser, the
#: store's SQLAlchemy and the config's pyhocon
REQUIRED_IMPORTS = "import WDL, sqlalchemy, pyhocon"


def _median(runs: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(w for w, _ in runs), max(r for _, r in runs)


def main() -> None:
    """Run both engines R times and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    bindir = os.path.dirname(sys.executable)
    work = tempfile.mkdtemp(prefix="ironside-small-")
    env = dict(os.environ)
    env.pop("IRONSIDE_CONFIG", None)
    mw_env = dict(env)
    mw_env["MINIWDL__SCHEDULER__CONTAINER_BACKEND"] = "bare"
    mw_env["MINIWDL__CALL_CACHE__GET"] = "false"
    mw_env["MINIWDL__CALL_CACHE__PUT"] = "false"
    runs: dict[str, list[tuple[float, float]]] = {"ironside": [], "miniwdl": [], "version": []}
    compile_ironside()
    try:
        wdl = os.path.join(work, "chain.wdl")
        with open(wdl, "w") as fh:
            fh.write(WDL_SOURCE)
        conf = os.path.join(work, "ironside.conf")
        with open(conf, "w") as fh:  # like miniwdl's: no call cache
            fh.write("call-caching.enabled = false\n")
        for i in range(args.repeat):
            cwd = os.path.join(work, f"ironside-{i}")
            os.makedirs(cwd)
            wall, rss, out = run_measured(
                [os.path.join(bindir, "ironside"), "run", wdl, "--config", conf], cwd, env
            )
            assert json.loads(out)["outputs"]["chain.y"] == 3, out
            runs["ironside"].append((wall, rss))
            wall, rss, out = run_measured(
                [os.path.join(bindir, "miniwdl"), "run", wdl, "--dir", f"{work}/mw-{i}/."],
                work,
                mw_env,
            )
            assert json.loads(out)["outputs"]["chain.y"] == 3, out
            runs["miniwdl"].append((wall, rss))
            wall, rss, out = run_measured(
                [os.path.join(bindir, "ironside"), "--version"], work, env
            )
            runs["version"].append((wall, rss))
        _, imports_rss, _ = run_measured([sys.executable, "-c", REQUIRED_IMPORTS], work, env)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    iw, ir = _median(runs["ironside"])
    mw, mr = _median(runs["miniwdl"])
    vw, _ = _median(runs["version"])
    print(f"three-call chain, median of {args.repeat} runs each")
    print(f"  ironside  {iw:6.2f} s   peak RSS {ir:6.1f} MB")
    print(f"  miniwdl   {mw:6.2f} s   peak RSS {mr:6.1f} MB")
    print(f"  ironside / miniwdl wall = {iw / mw:.2f}x   (target <= 0.8x)")
    print(f"  ironside RSS / miniwdl RSS = {ir / mr:.2f}   (target <= 1.0)")
    print(f"  ironside --version {vw:.3f} s   (target < 0.15 s)")
    print(
        f"  {REQUIRED_IMPORTS!r} alone: peak RSS {imports_rss:.1f} MB"
        f" = {imports_rss / mr:.2f} of miniwdl's whole run"
    )


if __name__ == "__main__":
    main()
