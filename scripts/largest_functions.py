#!/usr/bin/env python3
"""The largest function (in lines) in each top-level source folder.

Uses universal-ctags (Debian: universal-ctags) for function extents, so it
counts definitions the way a C/C++ parser sees them, lambdas inside a
function included in it.

  /usr/bin/python3 scripts/largest_functions.py [--top N] [--rev REV]

--rev REV measures the tree at a git revision (checked out into a temporary
directory) instead of the working tree.
"""
import argparse
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FOLDERS = ["lib", "passes", "dialects", "runtime", "tools"]
EXTS = (".c", ".cpp", ".h")


def functions(tree):
    files = []
    for folder in FOLDERS:
        for dirpath, _, names in os.walk(os.path.join(tree, folder)):
            files += [os.path.join(dirpath, n) for n in names if n.endswith(EXTS)]
    out = subprocess.run(["ctags", "-x", "--_xformat=%N\t%F\t%n\t%{end}", "--kinds-c=f",
                          "--kinds-c++=f", "--language-force=C++", "-f", "-"] + files,
                         stdout=subprocess.PIPE, text=True, check=True).stdout
    for line in out.splitlines():
        name, path, start, end = line.split("\t")
        if end.isdigit():
            yield name, os.path.relpath(path, tree), int(start), int(end)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--top", type=int, default=1)
    ap.add_argument("--rev")
    args = ap.parse_args()
    tree = ROOT
    tmp = None
    if args.rev:
        tmp = tempfile.TemporaryDirectory()
        archive = subprocess.run(["git", "-C", ROOT, "archive", args.rev], stdout=subprocess.PIPE,
                                 check=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp.name], input=archive, check=True)
        tree = tmp.name
    by_folder = {f: [] for f in FOLDERS}
    for name, path, start, end in functions(tree):
        by_folder[path.split(os.sep)[0]].append((end - start + 1, name, f"{path}:{start}"))
    for folder in FOLDERS:
        for lines, name, where in sorted(by_folder[folder], reverse=True)[:args.top]:
            print(f"{folder:9} {lines:5} lines  {name}  ({where})")


if __name__ == "__main__":
    sys.exit(main())
