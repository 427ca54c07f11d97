"""Run every benchmark in ``bench/`` and rewrite the generated table of ``bench/RESULTS.md``.

Each benchmark is a script ``bench/<name>.py`` whose last stdout line is a JSON object with at least
``bench`` and ``ratio`` (a figure measured against a baseline *in the same run*, so machines and
loads compare). This runner starts each in its own process (one torch thread,
``OMP_NUM_THREADS=1``), collects those lines, describes the machine (CPU model, cores, torch,
threads, load, GPU) and replaces the text between the ``<!-- run_all:begin -->`` and
``<!-- run_all:end -->`` markers of ``RESULTS.md`` with a table of this run (inserted under the title
the first time). Everything outside the markers — the hand-written notes — is kept.

Usage: ``PYTHONPATH=. python bench/run_all.py [--quick] [--only NAME ...] [--timeout S]``, or
``--collect FILE...`` to render the table from saved outputs of separate runs.
``--quick`` passes each benchmark's own smoke-size flags (figures are then noisier; the table says
so).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from patternlang.runtime.markdown import cell  # the report's table cell: 4 significant digits, — for none

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
BEGIN, END = "<!-- run_all:begin -->", "<!-- run_all:end -->"
QUICK = {  # smoke sizes per benchmark (flags, environment)
    "llc_toy": (["--quick"], {}),
    "llc_dln": (["--quick"], {}),
    "sgld_overhead": (["--steps", "5", "--rounds", "1"], {}),
    "observe_overhead": ([], {"BENCH_REPS": "5"}),
    "gpu_chains": (["--steps", "3"], {}),
    "vs_devinterp": (["--quick"], {}),
    "component_vs_devinterp": (["--quick"], {}),
    "scaling": (["--quick"], {}),
    "chi_efficiency": (["--quick"], {}),
}


def discover(only: list[str] | None = None) -> list[Path]:
    """Benchmark scripts: ``bench/*.py`` that print a ``"bench"`` JSON line (exploration scripts
    such as ``parens_rules.py`` do not), except this runner and private ``_*.py`` helpers."""
    found = sorted(p for p in BENCH.glob("*.py") if p.name != "run_all.py"
                   and not p.name.startswith("_") and '"bench"' in p.read_text())
    return [p for p in found if not only or p.stem in only]


def last_json(stdout: str) -> dict | None:
    """The last line of ``stdout`` that parses as a JSON object (``None`` if there is none)."""
    for line in reversed(stdout.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(obj, dict):
                return obj
    return None


def run_one(script: Path, quick: bool, timeout: float) -> dict:
    """Run one benchmark; its JSON (plus ``seconds``), or an ``error`` row."""
    flags, env_extra = QUICK.get(script.stem, ([], {})) if quick else ([], {})
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **env_extra}
    t0 = time.time()
    try:
        proc = subprocess.run([sys.executable, str(script), *flags], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"bench": script.stem, "ratio": None, "error": f"timed out after {timeout:.0f}s",
                "seconds": round(time.time() - t0, 1)}
    row = last_json(proc.stdout) or {"bench": script.stem, "ratio": None}
    if proc.returncode != 0:
        row["error"] = f"exit {proc.returncode}: {proc.stderr.strip().splitlines()[-1:] or ''}"
    elif "ratio" not in row:
        row.setdefault("error", "no JSON line with a ratio")
    row["seconds"] = round(time.time() - t0, 1)
    return row


def machine() -> dict:
    """CPU model, cores, torch version and threads, load, GPU (for the results header)."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return {"cpu": cpu, "cores": os.cpu_count(), "torch": torch.__version__,
            "threads": 1, "gpu": gpu, "python": platform.python_version(),
            "load_1min": round(load, 2), "date": time.strftime("%Y-%m-%d %H:%M")}


def collect(paths: list[Path]) -> list[dict]:
    """Benchmark rows from saved output files: every JSON line with a ``"bench"`` key (the last one
    per benchmark wins), for a table assembled from runs made separately (e.g. one at a time on a
    loaded machine)."""
    rows: dict[str, dict] = {}
    for path in paths:
        for line in path.read_text().splitlines():
            line = line.strip()
            if line.startswith('{"bench"'):
                obj = json.loads(line)
                obj.setdefault("source", path.name)
                rows[obj["bench"]] = obj
    return [rows[k] for k in sorted(rows)]


def render(rows: list[dict], mach: dict, quick: bool, collected: bool = False) -> str:
    """The generated block: machine line, one table row per benchmark, the raw JSON lines."""
    how = "assembled by `bench/run_all.py --collect` from separate runs (see each row's `source`)" \
        if collected else f"generated by `bench/run_all.py`{' --quick (smoke sizes)' if quick else ''}"
    head = (f"_{how[0].upper() + how[1:]} on "
            f"{mach['date']}: {mach['cpu']}, {mach['cores']} cores, torch {mach['torch']}, "
            f"{mach['threads']} thread per process, GPU {mach['gpu']}, load "
            f"{mach['load_1min']} at the end._")
    lines = [BEGIN, "", head, "", "| benchmark | ratio | goal | seconds | note |",
             "| --- | --- | --- | --- | --- |"]
    for r in rows:
        note = r.get("error") or r.get("skipped") or ""
        goal = r.get("goal", r.get("goal_ratio"))
        lines.append(f"| {r['bench']} | {cell(r.get('ratio'))} | {cell(goal)} | "
                     f"{cell(r.get('seconds'))} | {note} |")
    lines += ["", "<details><summary>last JSON line of each benchmark</summary>", "", "```json"]
    lines += [json.dumps(r) for r in rows]
    lines += ["```", "", "</details>", "", END]
    return "\n".join(lines)


def rewrite(results_md: Path, block: str) -> str:
    """``RESULTS.md`` with ``block`` between the markers (or under the title if none yet)."""
    text = results_md.read_text() if results_md.exists() else "# Benchmark results\n"
    if BEGIN in text and END in text:
        pre, rest = text.split(BEGIN, 1)
        post = rest.split(END, 1)[1]
        return pre + block + post
    lines = text.splitlines(keepends=True)
    at = 1 if lines and lines[0].startswith("# ") else 0
    return "".join(lines[:at]) + "\n" + block + "\n\n" + "".join(lines[at:]).lstrip("\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smoke sizes (noisier figures)")
    ap.add_argument("--only", nargs="+", help="benchmark names (file stems) to run")
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds per benchmark")
    ap.add_argument("--results", type=Path, default=BENCH / "RESULTS.md")
    ap.add_argument("--collect", type=Path, nargs="+", help="render saved benchmark outputs instead of running")
    args = ap.parse_args()
    if args.collect:
        rows = collect(args.collect)
        args.results.write_text(rewrite(args.results, render(rows, machine(), args.quick, collected=True)))
        print(json.dumps({"bench": "run_all", "collected": [r["bench"] for r in rows]}))
        return
    rows = []
    for script in discover(args.only):
        print(f"running {script.name} ...", file=sys.stderr, flush=True)
        rows.append(run_one(script, args.quick, args.timeout))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    block = render(rows, machine(), args.quick)
    args.results.write_text(rewrite(args.results, block))
    print(json.dumps({"bench": "run_all", "ran": len(rows),
                      "failed": [r["bench"] for r in rows if r.get("error")],
                      "results": str(args.results)}))


if __name__ == "__main__":
    main()
