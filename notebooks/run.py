#!/usr/bin/env python3
"""Executes every notebook headlessly with the evcxr Rust kernel; fails if a cell errors.

Usage: python3 notebooks/run.py [NOTEBOOK ...]   (default: every notebooks/*.ipynb)
Executed copies (with outputs) go to target/notebooks/. Prints how long the first cell
(`:dep`, which compiles the crate) and each whole notebook took.
"""
import datetime
import pathlib
import sys
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


def run(path: pathlib.Path) -> bool:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=1800, kernel_name="rust", record_timing=True,
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


def main():
    paths = [pathlib.Path(p) for p in sys.argv[1:]] or sorted(HERE.glob("*.ipynb"))
    results = [run(p) for p in paths]
    passed = sum(results)
    print(f"notebooks: {passed} passed, {len(results) - passed} failed")
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
