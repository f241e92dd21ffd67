#!/usr/bin/env python3
"""The library's module dependency structure: import circles and long files.

    python3 scripts/module-graph.py [--variant child|use|both] [--max-cycle-within-folder]
                                    [--check-lines] [--max-lines N] [--strict-paths] [--edges]
                                    [--root src]

Reads the library's .rs files under ROOT (default: src/ beside this script's folder; cli/
and src/main.rs are left out), maps each file to its module path (src/lib.rs = crate,
src/foo.rs or src/foo/mod.rs = crate::foo, src/losses/kl/kernels.rs = crate::losses::kl::kernels)
and draws an edge A -> B when A's code names B's module:

  - a `crate::`, `super::` or `self::` path, in a `use` (grouped `use crate::{a::b, c}` forms
    too) or anywhere in the code (`crate::losses::dist::input_reads(...)`);
  - a path whose first segment is a module declared inside A's module (Rust 2018 relative
    paths: `use kernels::KL_ROWS;` or `reference::kl(...)` in src/losses/kl/mod.rs), unless
    --strict-paths;
  - variant `child` only: a `mod x;` / `pub mod x;` declaration (A -> the file of A's child x).

A path goes to the file of its longest module prefix that is a file (`crate::losses::dist::
input_reads` -> src/losses/dist/mod.rs; `crate::Error` -> src/lib.rs). Comments (doc comments
too), string, raw-string and char literals are skipped, so `include_str!("x.wgsl")` is no edge.
Code inside inline `mod name { ... }` blocks resolves relative to that inline module.

Prints, per variant: the file and edge count, the largest strongly connected component (an
import circle), every component of more than one file (one line each, names relative to ROOT),
then every file over --max-lines (700) lines. Variant `child` (the headline: how the issue
counted, "following crate::, super:: and child-module paths") comes first; `use` leaves out the
`mod x;` edges. Default: both.

Checks (exit 1 when one fails, for every variant printed):
  --max-cycle-within-folder  every circle's files lie in one folder (e.g. src/losses/dist/);
  --check-lines              no library file over --max-lines lines.

Not handled: `#[path = ...]` module attributes (warned about), names brought in by `use` and
then used as path roots (the `use` itself is the edge), macro-generated paths.
Standard library only.
"""
import argparse
import os
import re
import sys
from collections import defaultdict

TOKEN = re.compile(r"\$?[A-Za-z_][A-Za-z0-9_]*|::|\S")
IDENT = re.compile(r"\$?[A-Za-z_][A-Za-z0-9_]*$")
PATH_ROOTS = {"crate", "$crate", "super", "self"}
KEYWORD_NOT_PATH = {"Self"}


def strip(src):
    """`src` with comments and string/char literals blanked out (newlines kept)."""
    out = []
    i, n = 0, len(src)

    def blank(a, b):
        out.append("".join(c if c == "\n" else " " for c in src[a:b]))

    while i < n:
        c = src[i]
        nxt = src[i + 1] if i + 1 < n else ""
        prev_ident = i > 0 and (src[i - 1].isalnum() or src[i - 1] == "_")
        if c == "/" and nxt == "/":
            j = src.find("\n", i)
            j = n if j < 0 else j
            blank(i, j)
            i = j
        elif c == "/" and nxt == "*":
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif src.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            blank(i, j)
            i = j
        elif not prev_ident and (m := re.match(r'(?:b|c)?r(#*)"', src[i:i + 300])):
            # raw string r"..", r#".."#, br#".."#, cr".."
            end = '"' + m.group(1)
            j = src.find(end, i + m.end())
            j = n if j < 0 else j + len(end)
            blank(i, j)
            i = j
        elif c == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            blank(i, j + 1)
            i = j + 1
        elif c == "'":
            # char literal ('a', '\n', '\u{..}', '\'') or a lifetime / label ('a, 'static)
            if nxt == "\\":
                j = i + 2
                while j < n and src[j] != "'":
                    j += 2 if src[j] == "\\" else 1
                blank(i, j + 1)
                i = j + 1
            elif i + 2 < n and src[i + 2] == "'":
                blank(i, i + 3)
                i += 3
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def module_path(rel):
    """'losses/kl/mod.rs' -> ('losses', 'kl'); 'lib.rs' -> ()."""
    parts = rel.replace(os.sep, "/").split("/")
    last = parts[-1][:-3]
    if len(parts) == 1 and last == "lib":
        return ()
    if last == "mod":
        return tuple(parts[:-1])
    return tuple(parts[:-1]) + (last,)


def library_files(root):
    files = []
    for d, dirs, names in os.walk(root):
        rel_d = os.path.relpath(d, root)
        if rel_d == "bin":
            dirs[:] = []
            continue
        dirs.sort()
        for name in sorted(names):
            if not name.endswith(".rs"):
                continue
            rel = os.path.normpath(os.path.join(rel_d, name)).replace(os.sep, "/")
            if rel == "main.rs":
                continue
            files.append(rel)
    return files


def parse_use_tree(toks, i, prefix, out):
    """Parses one use tree at toks[i]; appends full segment lists to out; returns the next i."""
    segs = list(prefix)
    if i < len(toks) and toks[i] == "::" and not segs:
        segs.append("::")  # leading `::`: an external crate
        i += 1
    while i < len(toks):
        t = toks[i]
        if t == "{":
            i += 1
            while i < len(toks) and toks[i] != "}":
                if toks[i] == ",":
                    i += 1
                    continue
                i = parse_use_tree(toks, i, segs, out)
            return i + 1
        if t == "*":
            out.append(segs)
            return i + 1
        if IDENT.match(t):
            segs.append(t)
            i += 1
            if i < len(toks) and toks[i] == "::":
                i += 1
                continue
            if i < len(toks) and toks[i] == "as":
                i += 2
            out.append(segs)
            return i
        return i + 1  # unexpected token: skip it
    out.append(segs)
    return i


class Scan:
    """One file's references: (module path of the code, path segments), and `mod x;` children."""

    def __init__(self, rel, text):
        self.rel = rel
        self.lines = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
        code = strip(text)
        self.path_attr = bool(re.search(r"#\s*\[\s*path\s*=", code))
        self.toks = TOKEN.findall(code)
        self.base = module_path(rel)
        self.refs = []  # (module path of the scope, segments)
        self.children = []  # module paths declared with `mod x;`
        self.inline = set()  # module paths of inline `mod x { }` blocks
        self._scan()

    def _scan(self):
        toks, n = self.toks, len(self.toks)
        depth = 0
        stack = []  # (name, depth inside its braces)
        i = 0

        def here():
            return self.base + tuple(name for name, _ in stack)

        while i < n:
            t = toks[i]
            if t == "{":
                depth += 1
            elif t == "}":
                depth -= 1
                while stack and depth < stack[-1][1]:
                    stack.pop()
            elif t == "mod" and i + 2 < n and IDENT.match(toks[i + 1]) and (i == 0 or toks[i - 1] != "::"):
                name, after = toks[i + 1], toks[i + 2]
                if after == ";":
                    self.children.append(here() + (name,))
                    i += 3
                    continue
                if after == "{":
                    depth += 1
                    stack.append((name, depth))
                    self.inline.add(here())
                    i += 3
                    continue
            elif t == "use" and (i == 0 or toks[i - 1] != "::"):
                j = i + 1
                while j < n and toks[j] != ";":
                    j += 1
                trees, stmt, k = [], toks[:j], i + 1
                while k < j:
                    k = parse_use_tree(stmt, k, [], trees)
                scope = here()
                for segs in trees:
                    if segs and segs[0] != "::":
                        self.refs.append((scope, segs))
                i = j + 1
                continue
            elif (
                IDENT.match(t)
                and t not in KEYWORD_NOT_PATH
                and i + 2 < n
                and toks[i + 1] == "::"
                and IDENT.match(toks[i + 2])
                and (i == 0 or toks[i - 1] not in ("::", "."))
                and not (i >= 2 and toks[i - 1] == "in" and toks[i - 2] == "(")  # pub(in crate::x)
            ):
                segs = [t]
                j = i + 1
                while j + 1 < n and toks[j] == "::" and IDENT.match(toks[j + 1]):
                    segs.append(toks[j + 1])
                    j += 2
                self.refs.append((here(), segs))
                i = j
                continue
            i += 1


def resolve(scope, segs, modules, relative=True):
    """Absolute module path named by segs in scope, or None (an external or local item)."""
    first = segs[0]
    if first in ("crate", "$crate"):
        cur, rest = (), segs[1:]
    elif first in ("super", "self"):
        cur, k = tuple(scope), 0
        while k < len(segs) and segs[k] in ("super", "self"):
            if segs[k] == "super":
                if not cur:
                    return None
                cur = cur[:-1]
            k += 1
        rest = segs[k:]
    elif relative and tuple(scope) + (first,) in modules:
        cur, rest = tuple(scope), segs
    else:
        return None
    return cur + tuple(s for s in rest if s != "self")


def longest_file(path, file_of):
    for k in range(len(path), -1, -1):
        f = file_of.get(path[:k])
        if f is not None:
            return f
    return None


def build(root, relative=True):
    rels = library_files(root)
    if "lib.rs" not in rels:
        sys.exit(f"module-graph: no lib.rs under {root}")
    scans = {}
    for rel in rels:
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as fh:
            scans[rel] = Scan(rel, fh.read())
    file_of = {}
    warnings = []
    for rel in rels:
        mp = scans[rel].base
        if mp in file_of:
            warnings.append(f"two files for crate::{'::'.join(mp)}: {file_of[mp]}, {rel}")
        file_of.setdefault(mp, rel)
    modules = set(file_of)
    for s in scans.values():
        modules |= s.inline
    use_edges, child_edges = defaultdict(set), defaultdict(set)
    declared = {()}
    for rel, s in scans.items():
        if s.path_attr:
            warnings.append(f"{rel}: #[path] attribute not followed")
        for scope, segs in s.refs:
            mp = resolve(scope, segs, modules, relative)
            if mp is None:
                continue
            f = longest_file(mp, file_of)
            if f is not None and f != rel:
                use_edges[rel].add(f)
        for child in s.children:
            declared.add(child)
            f = file_of.get(child)
            if f is None:
                warnings.append(f"{rel}: `mod {child[-1]};` has no file")
            elif f != rel:
                child_edges[rel].add(f)
    for mp, rel in sorted(file_of.items(), key=lambda kv: kv[1]):
        if mp not in declared:
            warnings.append(f"{rel}: declared by no `mod x;` (scanned anyway)")
    return rels, scans, use_edges, child_edges, warnings


def tarjan(nodes, edges):
    """Strongly connected components, iteratively."""
    index, low, on, stack, sccs = {}, {}, set(), [], []
    counter = 0
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                    advanced = True
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                sccs.append(sorted(comp))
    return sccs


def folder(rel):
    return os.path.dirname(rel) or "."


def report(name, what, rels, edges, root):
    sccs = sorted(tarjan(rels, edges), key=lambda c: (-len(c), c))
    circles = [c for c in sccs if len(c) > 1]
    n_edges = sum(len(v) for v in edges.values())
    largest = sccs[0] if sccs else []
    print(f"variant {name} ({what}): {len(rels)} files, {n_edges} edges, "
          f"largest import circle {len(largest)} of {len(rels)} files, {len(circles)} circles")
    wide = []
    for c in circles:
        folders = sorted({folder(f) for f in c})
        if len(folders) > 1:
            wide.append(c)
        span = f"{len(folders)} folders" if len(folders) > 1 else f"folder {folders[0]}/"
        print(f"  circle {len(c)} files ({span}): {', '.join(c)}")
    return wide


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=os.path.join(os.path.dirname(here), "src"),
                    help="the library's source folder (holds lib.rs); default: src/")
    ap.add_argument("--variant", choices=("child", "use", "both"), default="both",
                    help="child: with `mod x;` edges (headline); use: paths only; default both")
    ap.add_argument("--max-cycle-within-folder", action="store_true",
                    help="exit 1 if an import circle spans files of more than one folder")
    ap.add_argument("--check-lines", action="store_true",
                    help="exit 1 if a library file has more than --max-lines lines")
    ap.add_argument("--max-lines", type=int, default=700)
    ap.add_argument("--strict-paths", action="store_true",
                    help="only crate::/super::/self:: paths: leave out child-relative paths "
                         "such as `use kernels::X;` in a loss's mod.rs")
    ap.add_argument("--edges", action="store_true", help="also print every edge, A -> B")
    args = ap.parse_args()

    root = args.root
    rels, scans, use_edges, child_edges, warnings = build(root, not args.strict_paths)
    for w in warnings:
        print(f"warning: {w}")
    print(f"root {root}")
    combined = {r: use_edges.get(r, set()) | child_edges.get(r, set()) for r in rels}
    variants = []
    if args.variant in ("child", "both"):
        variants.append(("child", "paths + `mod x;` declarations", combined))
    if args.variant in ("use", "both"):
        paths = "crate::/super::/self::" + ("" if args.strict_paths else "/child-relative")
        variants.append(("use", paths + " paths only", use_edges))
    failed = []
    for name, what, edges in variants:
        wide = report(name, what, rels, edges, root)
        if args.edges:
            for a in rels:
                for b in sorted(edges.get(a, ())):
                    print(f"    {a} -> {b}")
        if args.max_cycle_within_folder and wide:
            failed.append(f"variant {name}: {len(wide)} import circle(s) span more than one "
                          f"folder (largest {len(wide[0])} files)")
    long_files = [(r, scans[r].lines) for r in rels if scans[r].lines > args.max_lines]
    long_files.sort(key=lambda x: -x[1])
    print(f"files over {args.max_lines} lines: {len(long_files)}"
          + (": " + ", ".join(f"{r} ({n})" for r, n in long_files) if long_files else ""))
    if args.check_lines and long_files:
        failed.append(f"{len(long_files)} file(s) over {args.max_lines} lines")
    for f in failed:
        print(f"FAIL: {f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
