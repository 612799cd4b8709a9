#!/usr/bin/env python3
"""Executes notebooks headlessly with the evcxr Rust kernel; fails if a cell errors.

Executed copies (with outputs) go to target/notebooks/. Prints how long the first cell
(`:dep`, which compiles the crate) and each whole notebook took. `--measure-start-up`
instead times what a student waits for: the first cell with an empty cache, the same
notebook in a fresh kernel with the cache warm, and another notebook. `--prepare`
compiles the course into evcxr's cache before a lesson; `--lab` opens JupyterLab with
the kernels set up as here.
"""
import argparse
import datetime
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

try:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
except ImportError as error:
    # `--help` and `--lab` do without them.
    MISSING_MODULE = error.name
else:
    MISSING_MODULE = None

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE.parent / "target" / "notebooks"
CARGO_CONFIG = HERE / "cargo-config.toml"


def course_cache() -> pathlib.Path:
    """The notebooks' builds: outside the course's workspace, which cargo would claim them
    for, and kept between kernels."""
    base = os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache"
    return pathlib.Path(base) / "clip-art"


def set_up_kernels() -> pathlib.Path:
    """What an evcxr kernel started from this process needs; returns where it builds."""
    cache = course_cache()
    # Cargo reads it from every folder above the one it builds in.
    config = cache / ".cargo" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(CARGO_CONFIG, config)
    # Each kernel builds in a new folder under TMPDIR (unless EVCXR_TMPDIR names one), so
    # several notebooks can be open at once.
    kernels = cache / "kernels"
    kernels.mkdir(exist_ok=True)
    os.environ["TMPDIR"] = str(kernels)
    # evcxr links the cells' code against the toolchain's shared standard library.
    libdir = subprocess.run(["rustc", "--print", "target-libdir"], check=True,
                            capture_output=True, text=True).stdout.strip()
    paths = [p for p in os.environ.get("LD_LIBRARY_PATH", "").split(":") if p]
    if libdir not in paths:
        os.environ["LD_LIBRARY_PATH"] = ":".join([libdir, *paths])
    return pathlib.Path(os.environ.get("EVCXR_TMPDIR", kernels))


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


def execute(cells, folder: pathlib.Path, timeout: int):
    """Runs the cells in a fresh kernel started in `folder`; returns them with outputs."""
    nb = nbformat.v4.new_notebook(cells=cells)
    client = NotebookClient(nb, timeout=timeout, kernel_name="rust", record_timing=True,
                            resources={"metadata": {"path": str(folder)}})
    client.execute()
    return nb.cells


def first_code_cell(path: pathlib.Path):
    return next(c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")


def first_cell_seconds(path: pathlib.Path, timeout: int) -> float:
    """Runs only the notebook's first code cell (the `:dep` cell) in a fresh kernel."""
    return seconds(execute([first_code_cell(path)], HERE, timeout)[0])


def edits_are_compiled(start_cell, timeout: int) -> bool:
    """Whether a kernel sees an edit to the course, rather than the course evcxr's cache
    kept from before it (the cache keys a crate by its compiler arguments alone: build.rs
    adds the sources' hash to them). Edits a copy of the course, between two kernels."""
    with tempfile.TemporaryDirectory() as folder:
        course = pathlib.Path(folder) / "course"
        shutil.copytree(HERE.parent, course, ignore=shutil.ignore_patterns(
            "target", ".git", "node_modules", "mathjax", "*.ipynb"))
        lib = course / "src" / "lib.rs"
        original = lib.read_text(encoding="utf-8")
        probe = nbformat.v4.new_code_cell('println!("{}", clip_art::EDIT_PROBE);')
        seen = []
        for value in ["before the edit", "after the edit"]:
            lib.write_text(f'{original}\npub const EDIT_PROBE: &str = "{value}";\n',
                           encoding="utf-8")
            cells = execute([start_cell, probe], course / "notebooks", timeout)
            seen.append("".join(o.get("text", "") for o in cells[1].outputs).strip())
    print(f"start-up: a kernel after an edit of the course prints {seen[1]!r} "
          f"(before it: {seen[0]!r})", flush=True)
    return seen == ["before the edit", "after the edit"]


def measure_start_up(first: pathlib.Path, other: pathlib.Path, timeout: int) -> bool:
    """A student's waits, in fresh kernels that share evcxr's crate cache: cold, then warm
    (each kernel with a new build folder, as `--lab` gives them), another notebook, and
    kernels that find the cold run's build folder (EVCXR_TMPDIR kept). Then whether an
    edited course reaches a kernel."""
    with tempfile.TemporaryDirectory() as home:
        os.environ["XDG_CACHE_HOME"] = str(pathlib.Path(home) / "cache")
        os.environ.pop("EVCXR_TMPDIR", None)
        set_up_kernels()
        builds = course_cache() / "builds"
        waits = []
        for label, path, folder in [
                ("first cell, cold", first, "cold"),
                ("same notebook, fresh kernel, cache warm", first, "warm"),
                ("another notebook, fresh kernel, cache warm", other, "other"),
                ("same notebook, build folder kept", first, "cold"),
                ("another notebook, build folder kept", other, "cold")]:
            os.environ["EVCXR_TMPDIR"] = str(builds / folder)
            waits.append((label, path.name, first_cell_seconds(path, timeout)))
        crates = {p.name.split("-")[0] for p in (builds / "cold").rglob("*.rlib")}
        for label, name, wait in waits:
            print(f"start-up: {label} ({name}): {wait:.1f} s", flush=True)
        print(f"start-up: crates compiled by the first cell, cold: {len(crates)}", flush=True)
        del os.environ["EVCXR_TMPDIR"]
        return edits_are_compiled(first_code_cell(first), timeout)


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
                             "cache, so that every first cell takes seconds")
    parser.add_argument("--lab", action="store_true",
                        help="open JupyterLab on the notebooks with the kernels set up as here; "
                             "other options go to JupyterLab (as root: --allow-root)")
    args, jupyter_options = parser.parse_known_args()
    if jupyter_options and not args.lab:
        parser.error(f"unrecognized arguments: {' '.join(jupyter_options)}")
    if MISSING_MODULE and not args.lab:
        sys.exit(f"run.py runs notebooks with nbclient and nbformat, and {MISSING_MODULE} is "
                 f"missing: pip install nbclient nbformat (see the README)")
    paths = [pathlib.Path(p) for p in args.notebooks] or sorted(HERE.glob("*.ipynb"))
    missing = [p for p in paths if not p.exists()]
    if missing:
        parser.error(f"no such notebook: {missing[0]}")
    if args.measure_start_up:
        if len(args.notebooks) < 2:
            paths = [HERE / "01-representing-data.ipynb", HERE / "06-guided-generation.ipynb"]
        if not measure_start_up(paths[0], paths[1], args.timeout):
            sys.exit("FAILED: a kernel started after an edit of the course ran the course "
                     "from before it (evcxr's cache; see build.rs)")
        return
    build_folder = set_up_kernels()
    if args.lab:
        print(f"kernels build in {build_folder}, with {CARGO_CONFIG.name} as "
              f"{course_cache() / '.cargo' / 'config.toml'}", flush=True)
        try:
            os.execvp("jupyter", ["jupyter", "lab", str(HERE), *jupyter_options])
        except FileNotFoundError:
            sys.exit("no `jupyter` command: install JupyterLab first (see the README)")
    if args.prepare:
        # What a teacher runs before the lecture: the slow first compile happens here, into
        # evcxr's cache, not in a student's first cell.
        wait = first_cell_seconds(paths[0], args.timeout)
        print(f"prepared in {wait:.0f} s: the first cell of every notebook now takes seconds "
              f"(open them with `python3 notebooks/run.py --lab`)", flush=True)
        return
    results = [run(p, args.timeout) for p in paths]
    passed = sum(results)
    print(f"notebooks: {passed} passed, {len(results) - passed} failed")
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
