#!/usr/bin/env python3
"""Executes notebooks headlessly with the evcxr Rust kernel; fails if a cell errors.

Executed copies (with outputs) go to target/notebooks/. Prints how long the first cell
(`:dep`, which compiles the crate) and each whole notebook took. `--measure-start-up`
instead times what a student waits for: the first cell with an empty cache, the same
notebook in a fresh kernel with the cache warm, and another notebook.
"""
import argparse
import datetime
import os
import pathlib
import sys
import tempfile
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE.parent / "target" / "notebooks"


def seconds(cell):
    timing = cell.get("metadata", {}).get("execution", {})
    try:
        start = datetime.datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))
        end = datetime.datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
        return (end - start).total_seconds()
    except (KeyError, ValueError):
        return float("nan")


def run(path: pathlib.Path, timeout: int) -> bool:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="rust", record_timing=True,
                            resources={"metadata": {"path": str(HERE)}})
    start = time.monotonic()
    ok = True
    try:
        client.execute()
    except CellExecutionError as error:
        print(f"FAILED {path.name}:\n{error}", file=sys.stderr)
        ok = False
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    if errors:
        # evcxr reports compile errors in `evalue` with an empty traceback.
        print(f"FAILED {path.name}: {errors[0].get('evalue')}", file=sys.stderr)
        ok = False
    # An error returned with `?` inside a block is only printed to stderr, and
    # the cell counts as run: no cell of the course writes to stderr otherwise.
    stderr = ["".join(o.get("text", "")) for c in nb.cells if c.cell_type == "code"
              for o in c.get("outputs", []) if o.get("name") == "stderr"]
    if stderr:
        print(f"FAILED {path.name}: a cell wrote to stderr:\n{stderr[0][:2000]}", file=sys.stderr)
        ok = False
    OUT.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, OUT / path.name)
    code = [c for c in nb.cells if c.cell_type == "code"]
    print(f"{'ok  ' if ok else 'FAIL'} {path.name}: {len(code)} cells, first cell {seconds(code[0]):.1f} s, "
          f"whole notebook {time.monotonic() - start:.1f} s", flush=True)
    return ok


def first_cell_seconds(path: pathlib.Path, timeout: int) -> float:
    """Runs only the notebook's first code cell (the `:dep` cell) in a fresh kernel."""
    nb = nbformat.read(path, as_version=4)
    nb.cells = [next(c for c in nb.cells if c.cell_type == "code")]
    client = NotebookClient(nb, timeout=timeout, kernel_name="rust", record_timing=True,
                            resources={"metadata": {"path": str(HERE)}})
    client.execute()
    return seconds(nb.cells[0])


def measure_start_up(first: pathlib.Path, other: pathlib.Path, timeout: int) -> None:
    """A student's waits, in fresh kernels that share evcxr's crate cache: cold, warm (each
    kernel with its own build folder, as without EVCXR_TMPDIR), another notebook, and
    kernels that find the cold run's build folder (EVCXR_TMPDIR kept, as the README shows)."""
    with tempfile.TemporaryDirectory() as home:
        os.environ["XDG_CACHE_HOME"] = str(pathlib.Path(home) / "cache")
        builds = pathlib.Path(home) / "builds"
        waits = []
        for label, path, folder in [
                ("first cell, cold", first, "cold"),
                ("same notebook, fresh kernel, cache warm", first, "warm"),
                ("another notebook, cache warm", other, "other"),
                ("same notebook, fresh kernel, build folder kept", first, "cold"),
                ("another notebook, build folder kept", other, "cold")]:
            os.environ["EVCXR_TMPDIR"] = str(builds / folder)
            waits.append((label, path.name, first_cell_seconds(path, timeout)))
        crates = {p.name.split("-")[0] for p in (builds / "cold").rglob("*.rlib")}
    for label, name, wait in waits:
        print(f"start-up: {label} ({name}): {wait:.1f} s", flush=True)
    print(f"start-up: crates compiled by the first cell, cold: {len(crates)}", flush=True)


def main():
    parser = argparse.ArgumentParser(
        description="Execute the course's notebooks with the evcxr Rust kernel "
                    "(install it first: see the README).")
    parser.add_argument("notebooks", nargs="*", metavar="NOTEBOOK",
                        help="notebooks to run (default: every notebooks/*.ipynb)")
    parser.add_argument("--timeout", type=int, default=1800, metavar="SECONDS",
                        help="longest time one cell may take (default: 1800)")
    parser.add_argument("--measure-start-up", action="store_true",
                        help="time the first cell cold, warm, and in another notebook "
                             "(the first two NOTEBOOKs, default 01 and 06) instead of running")
    parser.add_argument("--prepare", action="store_true",
                        help="compile the course for the notebooks now (minutes), into evcxr's "
                             "cache and the EVCXR_TMPDIR folder, so that every first cell takes "
                             "seconds")
    args = parser.parse_args()
    paths = [pathlib.Path(p) for p in args.notebooks] or sorted(HERE.glob("*.ipynb"))
    missing = [p for p in paths if not p.exists()]
    if missing:
        parser.error(f"no such notebook: {missing[0]}")
    if args.prepare:
        # What a teacher runs before the lecture: the slow first compile happens here, into
        # evcxr's cache and the build folder EVCXR_TMPDIR names, not in a student's first cell.
        if "EVCXR_TMPDIR" not in os.environ:
            parser.error("--prepare fills the build folder that EVCXR_TMPDIR names: set it first "
                         "(see the README)")
        wait = first_cell_seconds(paths[0], args.timeout)
        print(f"prepared in {wait:.0f} s: the first cell of every notebook now starts from "
              f"{os.environ['EVCXR_TMPDIR']}", flush=True)
        return
    if args.measure_start_up:
        if len(args.notebooks) < 2:
            paths = [HERE / "01-representing-data.ipynb", HERE / "06-guided-generation.ipynb"]
        measure_start_up(paths[0], paths[1], args.timeout)
        return
    results = [run(p, args.timeout) for p in paths]
    passed = sum(results)
    print(f"notebooks: {passed} passed, {len(results) - passed} failed")
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
