"""Terraform as python-hcl2 8.x reads it, normalised: the one HCL reader of fleet (the offline checks of
infrastructure/, the pod budget's add-on map, and `fleet eks status --from-terraform`).

python-hcl2 8.x keeps the quotes around strings (`"\\"1.35\\""`), writes references and other expressions as
`${...}` strings, marks blocks with `__is_block__` and serialises `jsonencode({...})` as the text of the call. Here
every string is unquoted, the `__` keys are dropped, and a `var.`/`local.` reference can be traced to the values
that feed it: the variable's default, a terraform.tfvars value, or what a local `module` call passes in.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2

INFRA_DIR = "infrastructure"
# One HCL block's arguments as python-hcl2 returns them, after clean(): str, bool, number, list or dict values.
Body = dict[str, Any]
REF_RE = re.compile(r"^\$\{(var|local)\.([A-Za-z0-9_-]+)\}$")
JSONENCODE_RE = re.compile(r"^\$\{jsonencode\((.*)\)\}$", re.S)
HEREDOC_RE = re.compile(r"^<<-?([A-Za-z][A-Za-z0-9._-]*)\r?\n(.*?)\n?[ \t]*\1$", re.S)
EMBEDDED_REF_RE = re.compile(r"\b(var|local)\.([A-Za-z0-9_-]+)")
EMBEDDED_LITERAL_RE = re.compile(r'"((?:[^"\\$]|\\.)*)"')
MAX_TRACE_DEPTH = 8  # var -> caller -> var ... deeper than any stack here; stops a cycle


def unquote(value: Any) -> Any:
    """A python-hcl2 string without its surrounding quotes; anything else unchanged."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def clean(value: Any) -> Any:
    """Unquote every string and key, drop python-hcl2's `__` markers, recursively."""
    if isinstance(value, dict):
        return {unquote(k): clean(v) for k, v in value.items() if not str(k).startswith("__")}
    if isinstance(value, list):
        return [clean(v) for v in value]
    return unquote(value)


def decode_embedded(value: str) -> Any | None:
    """The object inside `jsonencode({...})` or a JSON heredoc/string, or None when it is neither (or unreadable)."""
    match = JSONENCODE_RE.match(value)
    if match:
        try:
            return clean(hcl2.loads(f"embedded = {match.group(1)}\n")["embedded"])
        except Exception:  # hcl2 raises lark errors of many kinds; a comprehension inside is not a literal
            return None
    heredoc = HEREDOC_RE.match(value)
    text = heredoc.group(2) if heredoc else value
    if not text.lstrip().startswith(("{", "[")):
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


@dataclass(frozen=True)
class Block:
    kind: str  # terraform, provider, variable, locals, module, resource, data, output
    labels: tuple[str, ...]
    body: Body
    file: str  # relative to the tree's root: the repository (load_tree) or the stack (load_stack)

    @property
    def where(self) -> str:
        labels = " ".join(f'"{label}"' for label in self.labels)
        return f"{self.kind} {labels} in {self.file}".replace("  ", " ")


def _blocks(doc: dict[str, Any], file: str) -> Iterator[Block]:
    for kind, entries in doc.items():
        for entry in entries if isinstance(entries, list) else []:
            if kind in ("terraform", "locals"):
                yield Block(kind, (), clean(entry), file)
            elif kind in ("resource", "data"):
                for rtype, named in entry.items():
                    for name, body in named.items() if isinstance(named, dict) else []:
                        if isinstance(body, dict):
                            yield Block(kind, (unquote(rtype), unquote(name)), clean(body), file)
            else:
                for label, body in entry.items():
                    if isinstance(body, dict):
                        yield Block(kind, (unquote(label),), clean(body), file)


@dataclass
class TfDir:
    path: Path
    rel: str
    blocks: list[Block] = field(default_factory=list)
    tfvars: Body = field(default_factory=dict)

    def of(self, kind: str, first_label: str | None = None) -> list[Block]:
        return [b for b in self.blocks if b.kind == kind and (first_label is None or b.labels[:1] == (first_label,))]

    @property
    def variables(self) -> dict[str, Block]:
        return {b.labels[0]: b for b in self.of("variable")}

    @property
    def locals(self) -> Body:
        return {k: v for b in self.of("locals") for k, v in b.body.items()}


def local_source(source: str) -> bool:
    return source.startswith(("./", "../"))


@dataclass(frozen=True)
class Traced:
    """One value that feeds an expression, and how it got there (outermost last)."""

    value: Any
    via: tuple[str, ...]
    resolved: bool = True  # False: a reference with nothing behind it (no default, no tfvars, no caller)
    home: Path | None = None  # the directory the value is written in (a caller's, once traced through a module)


@dataclass
class TfTree:
    root: Path
    dirs: dict[Path, TfDir] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    files: int = 0

    def blocks(self, kind: str, first_label: str | None = None) -> Iterator[tuple[TfDir, Block]]:
        for tf_dir in self.dirs.values():
            for block in tf_dir.of(kind, first_label):
                yield tf_dir, block

    def local_target(self, tf_dir: TfDir, block: Block) -> Path | None:
        source = str(block.body.get("source", ""))
        return (tf_dir.path / source).resolve() if local_source(source) else None

    def callers(self, target: TfDir) -> list[tuple[TfDir, Block]]:
        return [(d, b) for d, b in self.blocks("module") if self.local_target(d, b) == target.path]

    def trace(self, value: Any, tf_dir: TfDir, via: tuple[str, ...] = (), depth: int = 0) -> list[Traced]:
        """Every value that can reach `value`: itself when it is not a bare var./local. reference, else the
        variable's tfvars value or default, or each local module call's argument, traced again in the caller."""
        match = REF_RE.match(value) if isinstance(value, str) else None
        if not match or depth > MAX_TRACE_DEPTH:
            return [Traced(value, via, resolved=match is None, home=tf_dir.path)]
        kind, name = match.groups()
        if kind == "local":
            if name in tf_dir.locals:
                return self.trace(tf_dir.locals[name], tf_dir, (*via, f"local.{name} in {tf_dir.rel}"), depth + 1)
            return [Traced(value, via, resolved=False)]
        variable = tf_dir.variables.get(name)
        here = (*via, f"var.{name} in {tf_dir.rel}")
        default: list[Traced] = []
        if variable is not None and "default" in variable.body:
            default = [Traced(variable.body["default"], (*here, "its default"), home=tf_dir.path)]
        callers = self.callers(tf_dir)
        if not callers:
            if name in tf_dir.tfvars:
                return self.trace(tf_dir.tfvars[name], tf_dir, (*here, "terraform.tfvars"), depth + 1)
            return default or [Traced(value, here, resolved=False)]
        found: list[Traced] = []
        for caller_dir, call in callers:
            if name in call.body:
                found += self.trace(call.body[name], caller_dir, (*here, f"passed by {call.where}"), depth + 1)
            else:
                found += default or [Traced(value, (*here, f"not passed by {call.where}"), resolved=False)]
        return found

    def expand_strings(self, value: Any, tf_dir: TfDir, depth: int = 0) -> tuple[list[str], list[str]]:
        """The strings `value` can stand for: list items, what a var./local. reference traces to, and the
        literals and references inside an expression such as concat(local.x, ["a"]); plus what could not be read."""
        if isinstance(value, list):
            strings: list[str] = []
            unreadable: list[str] = []
            for item in value:
                more, bad = self.expand_strings(item, tf_dir, depth + 1)
                strings, unreadable = strings + more, unreadable + bad
            return strings, unreadable
        if not isinstance(value, str) or depth > MAX_TRACE_DEPTH:
            return [], [repr(value)]
        if REF_RE.match(value):
            strings, unreadable = [], []
            for traced in self.trace(value, tf_dir, depth=depth):
                if not traced.resolved:
                    unreadable.append(value)
                    continue
                home = self.dirs.get(traced.home or tf_dir.path, tf_dir)  # expand where the value is written
                more, bad = self.expand_strings(traced.value, home, depth + 1)
                strings, unreadable = strings + more, unreadable + bad
            return strings, unreadable
        references = EMBEDDED_REF_RE.findall(value)
        if not value.startswith("${") or not references:
            # A literal, or an expression over other resources (aws_s3_bucket.state.arn): a specific value, not "*".
            return [value], []
        strings = EMBEDDED_LITERAL_RE.findall(value)
        unreadable = []
        for kind, name in references:
            more, bad = self.expand_strings(f"${{{kind}.{name}}}", tf_dir, depth + 1)
            strings, unreadable = strings + more, unreadable + bad
        return strings, unreadable if strings or unreadable else [value]


def _parse_file(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return hcl2.load(handle)


def _load_dir(tree: TfTree, directory: Path) -> TfDir:
    """Parse directory/*.tf into the tree (a file that does not parse becomes one of tree.errors)."""
    key = directory.resolve()
    tf_dir = tree.dirs.setdefault(key, TfDir(key, os.path.relpath(key, tree.root)))
    for path in sorted(directory.glob("*.tf")):
        rel = os.path.relpath(path.resolve(), tree.root)
        tree.files += 1
        try:
            doc = _parse_file(path)
        except Exception as exc:  # hcl2 raises lark errors of many kinds
            first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            tree.errors.append(f"{rel}: cannot parse HCL: {first_line}")
            continue
        tf_dir.blocks += list(_blocks(doc, rel))
    for tfvars in [directory / "terraform.tfvars", *sorted(directory.glob("*.auto.tfvars"))]:
        if tfvars.is_file():
            try:
                tf_dir.tfvars.update(clean(_parse_file(tfvars)))
            except Exception as exc:
                tree.errors.append(f"{os.path.relpath(tfvars.resolve(), tree.root)}: cannot parse HCL: {exc}")
    return tf_dir


def load_tree(root: Path) -> TfTree:
    """Every directory with *.tf files under root/infrastructure (hidden and .terraform directories skipped)."""
    tree = TfTree(root.resolve())
    infra = root / INFRA_DIR
    if not infra.is_dir():
        return tree
    directories = {
        p.parent for p in infra.rglob("*.tf") if not any(x.startswith(".") for x in p.relative_to(infra).parts)
    }
    for directory in sorted(directories):
        _load_dir(tree, directory)
    return tree


MAX_MODULE_DEPTH = 4  # a root stack, its modules and theirs: deeper than any layout here


def load_stack(directory: Path) -> TfTree:
    """One stack anywhere on disk: the directory and, recursively, every local module it calls. Paths in the
    tree (TfDir.rel, Block.file) are relative to the directory."""
    tree = TfTree(directory.resolve())
    pending = [(tree.root, 0)]
    while pending:
        path, depth = pending.pop(0)
        if path in tree.dirs or not path.is_dir():
            continue
        tf_dir = _load_dir(tree, path)
        if depth < MAX_MODULE_DEPTH:
            calls = [tree.local_target(tf_dir, block) for block in tf_dir.of("module")]
            pending += [(target, depth + 1) for target in calls if target is not None]
    return tree


def walk(value: Any) -> Iterator[Any]:
    """Every value inside `value` (itself first), descending into dicts, lists and decodable embedded JSON."""
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)
    elif isinstance(value, str) and ("jsonencode(" in value or value.lstrip().startswith(("{", "<<"))):
        decoded = decode_embedded(value)
        if decoded is not None:
            yield from walk(decoded)
