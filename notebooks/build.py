#!/usr/bin/env python3
"""Builds the Jupyter notebooks (evcxr Rust kernel) from their text sources.

Each `src/NAME.txt` holds cells separated by a line `%% markdown` or `%% code`; it becomes
`NAME.ipynb` beside this script, without outputs. A line `%% start` stands for
`src/start.inc`, which every notebook shares: what its first cell does, and that cell,
whose `:dep` lines must be the same everywhere for evcxr's cache to serve them all.
`--check` fails if a committed notebook differs from its source, so the two never drift
apart.
"""
import json
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
START = HERE / "src" / "start.inc"
KERNEL = {
    "display_name": "Rust",
    "language": "rust",
    "name": "rust",
}
LANGUAGE = {
    "codemirror_mode": "rust",
    "file_extension": ".rs",
    "mimetype": "text/rust",
    "name": "Rust",
    "pygment_lexer": "rust",
    "version": "",
}


def cells(source: str, stem: str):
    kind, lines, out = None, [], []

    def flush():
        text = "\n".join(lines).strip("\n")
        if kind is None:
            if text:
                raise SystemExit(f"{stem}: text before the first '%% markdown' or '%% code' line")
            return
        cell = {
            "cell_type": kind,
            "id": f"{stem[:2]}-{len(out) + 1:02d}",
            "metadata": {},
            "source": text.splitlines(keepends=True),
        }
        if kind == "code":
            cell["execution_count"] = None
            cell["outputs"] = []
        out.append(cell)

    for line in source.splitlines():
        marker = line.strip()
        if marker in ("%% markdown", "%% code"):
            flush()
            kind, lines = marker[3:], []
        else:
            lines.append(line)
    flush()
    return out


def with_start(source: str) -> str:
    start = START.read_text(encoding="utf-8").rstrip("\n")
    return "\n".join(start if line.strip() == "%% start" else line
                     for line in source.splitlines())


def notebook(path: pathlib.Path) -> str:
    nb = {
        "cells": cells(with_start(path.read_text(encoding="utf-8")), path.stem),
        "metadata": {"kernelspec": KERNEL, "language_info": LANGUAGE},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def main():
    check = "--check" in sys.argv[1:]
    stale = []
    for source in sorted((HERE / "src").glob("*.txt")):
        target = HERE / f"{source.stem}.ipynb"
        text = notebook(source)
        if check:
            if not target.exists() or target.read_text(encoding="utf-8") != text:
                stale.append(target.name)
        else:
            target.write_text(text, encoding="utf-8")
            print(f"wrote {target.relative_to(HERE.parent)}")
    if stale:
        raise SystemExit(
            "notebooks out of date with notebooks/src: " + ", ".join(stale)
            + "\nrun: python3 notebooks/build.py"
        )


if __name__ == "__main__":
    main()
