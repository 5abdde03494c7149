"""Command lines from a webhook (Flagger's `metadata.cmd`): `load-harness drive …` parsed by the CLI's own option
definitions, and the `hey …` line a flagger-loadtester webhook already has, translated into drive options.

One source of truth: the drive line goes through the command typer builds from `driver.command.drive_options`, so
flag names, value types, repeatable options and `--flag=value` all mean what they mean on a shell. Every drive
option is either ACCEPTED (and mapped to the RunRequest field it sets) or REFUSED with a reason; a new CLI
option that is neither fails tests/api/test_flagger_cmdline.py. A hey line is read with HEY_FLAGS (each hey
flag → the drive option it means), turned into drive words and parsed by the same function.

The result is a CommandLine: the RunRequest field values the line set, and the flag that set each, so an error
found later (a bound, the SSRF guard) can name the flag the caller wrote."""

from __future__ import annotations

import functools
import math
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import typer

from load_harness import limits as L
from load_harness.driver.command import drive_options
from load_harness.driver.options import OptionsError, parse_headers

if TYPE_CHECKING:
    from typer._click import Command  # typer >= 0.29 vendors click; get_command returns its Command

URL = "URL"  # how the CLI's usage names the positional target

# Drive option (the typer parameter name) → the CommandLine / RunRequest field it sets.
ACCEPTED: Mapping[str, str] = {
    "url": "url",
    "rate": "rate",
    "concurrency": "concurrency",
    "duration": "duration",
    "requests": "requests",
    "method": "method",
    "body": "body",
    "header": "headers",
    "timeout": "timeout",
    "shards": "shards",
    "threshold": "thresholds",
    "cpu_ms": "cpu_ms",
    "iterations": "iterations",
}

# Drive options a webhook may not use, each with the reason its error gives.
REFUSED: Mapping[str, str] = {
    "stages": "ramps are not accepted from a webhook: a Flagger run is one constant step bounded by --duration",
    "json_output": "the webhook answers with JSON already; this only changes what the CLI prints",
    "report": "would write a file on the server; the run's figures are at GET /runs/{id}",
    "save": "a webhook run is always recorded in the store",
    "pushgateway": "the server's shards push to its own PUSHGATEWAY_URL; a webhook does not choose where",
    "max_in_flight": "the service sets its own in-flight cap for runs it starts",
    "max_burst": "the service sets its own catch-up burst cap for runs it starts",
    "insecure": "runs started remotely always verify TLS certificates",
    "run_id": "internal: how the supervisor and Indexed Jobs start a stored run's shards",
    "shard_index": "internal: how the supervisor and Indexed Jobs start a stored run's shards",
    "stream": "internal: the protocol between a run's launcher and its shard processes",
}

# hey flag → the drive option it means. -q is per worker: the open-loop rate is -q × -c (hey's default -c is
# HEY_DEFAULT_WORKERS); without -q, -c is the closed-loop concurrency. -t is whole seconds, -z a Go duration.
HEY_FLAGS: Mapping[str, str] = {
    "-z": "duration",
    "-q": "rate",
    "-c": "concurrency",
    "-m": "method",
    "-d": "body",
    "-H": "header",
    "-n": "requests",
    "-t": "timeout",
}
HEY_DEFAULT_WORKERS = 50

_MESSAGE_MAX = 300  # click's messages may quote a value; the whole line is already in the error's `value`
_SECONDS = re.compile(r"[0-9]{1,9}")


class CommandLineError(ValueError):
    """A command line the webhook cannot run; the message starts with the flag when one is to blame."""

    def __init__(self, message: str, limit: dict[str, float] | None = None) -> None:
        super().__init__(message if len(message) <= _MESSAGE_MAX else message[: _MESSAGE_MAX - 1] + "…")
        self.limit = limit


@dataclass(frozen=True)
class CommandLine:
    """The RunRequest field values a command line set (duration and timeout as the text the flag took), and
    `flags`: each field that was set → the flag (or URL) that set it."""

    url: str | None = None
    rate: float | None = None
    concurrency: int | None = None
    duration: str | None = None
    requests: int | None = None
    method: str | None = None
    body: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    timeout: str | None = None
    shards: int | None = None
    cpu_ms: float | None = None
    iterations: int | None = None
    thresholds: tuple[str, ...] = ()
    flags: Mapping[str, str] = field(default_factory=dict)


def parse(cmd: str) -> CommandLine:
    """A `load-harness drive …` or `hey …` line → CommandLine; raises CommandLineError."""
    if len(cmd) > L.FLAGGER_CMD_MAX:
        message = f"is {len(cmd)} characters long; at most {L.FLAGGER_CMD_MAX} (a long body goes in metadata.body)"
        raise CommandLineError(message, {"max_length": L.FLAGGER_CMD_MAX})
    try:
        words = shlex.split(cmd)
    except ValueError as exc:  # an unterminated quote or a trailing backslash
        raise CommandLineError(f"cannot split the command line: {exc}") from exc
    if words[:2] == ["load-harness", "drive"]:
        return parse_drive(words[2:])
    if words[:1] == ["hey"]:
        return parse_hey(words[1:])
    raise CommandLineError("must start with `load-harness drive` or `hey`")


def parse_drive(words: Sequence[str], aliases: Mapping[str, str] | None = None) -> CommandLine:
    """The words after `load-harness drive`, parsed by the CLI's command. `aliases` renames drive flags in
    messages and in `flags` (a hey line names its own flags)."""
    aliases = aliases or {}
    command = drive_parser()
    try:
        # No help option: `--help` would print to this process's stdout and exit.
        context = command.make_context("drive", list(words), help_option_names=[])
    except typer.TyperException as exc:  # click's UsageError family: unknown option, missing or bad value
        raise CommandLineError(_usage_message(exc, aliases)) from None
    given: dict[str, Any] = {}
    flags: dict[str, str] = {}
    for param in command.params:
        name = param.name
        source = context.get_parameter_source(name)
        if source is None or source.name != "COMMANDLINE":  # defaults, and never the environment
            continue
        flag = aliases.get(_flag(param), _flag(param))
        if name in REFUSED:
            raise CommandLineError(f"{flag}: {REFUSED[name]}")
        if name not in ACCEPTED:  # the drift test keeps this from happening
            raise CommandLineError(f"{flag}: not accepted from a webhook")
        given[ACCEPTED[name]] = context.params[name]
        flags[ACCEPTED[name]] = flag
    if "headers" in given:
        try:
            given["headers"] = tuple(parse_headers(list(given["headers"])))  # the CLI's NAME:VALUE rules
        except OptionsError as exc:
            raise CommandLineError(f"{flags['headers']}: {exc}") from None
    if "thresholds" in given:
        given["thresholds"] = tuple(given["thresholds"])
    if isinstance(given.get("method"), str):
        given["method"] = given["method"].upper()  # as build_plan reads it
    return CommandLine(**given, flags=flags)


def parse_hey(words: Sequence[str]) -> CommandLine:
    """The words after `hey`: `-flag value` or `-flag=value` (Go's flag syntax) from HEY_FLAGS, and the URL."""
    values: dict[str, list[str]] = {}
    positionals: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if not word.startswith("-") or word == "-":
            positionals.append(word)
            continue
        flag, sep, value = word.partition("=")
        if flag not in HEY_FLAGS:
            known = " ".join(HEY_FLAGS)
            raise CommandLineError(f"{flag[:40]}: not a hey flag the webhook understands (it reads {known})")
        if not sep:
            if index == len(words):
                raise CommandLineError(f"{flag}: needs a value")
            value = words[index]
            index += 1
        values.setdefault(flag, []).append(value)
    if len(positionals) > 1:
        raise CommandLineError(f"{URL}: hey takes one URL, got {len(positionals)} words that are not flags")
    drive_words: list[str] = []
    aliases: dict[str, str] = {}

    def add(hey_flag: str, value: str) -> None:
        drive_flag = _flag_of(HEY_FLAGS[hey_flag])
        drive_words.extend([drive_flag, value])
        aliases[drive_flag] = hey_flag

    for hey_flag, items in values.items():
        if hey_flag in ("-q", "-c"):
            continue
        repeatable = HEY_FLAGS[hey_flag] in _multiple()
        for item in items if repeatable else items[-1:]:  # Go's flag package: the last one wins
            add(hey_flag, _hey_seconds(item) if hey_flag == "-t" else item)
    if "-q" in values:
        per_worker = _positive(values["-q"][-1], "-q")
        workers = _positive(values["-c"][-1], "-c") if "-c" in values else HEY_DEFAULT_WORKERS
        add("-q", repr(per_worker * workers))  # hey's -q is per worker: the arrival rate is q × c, open loop
    elif "-c" in values:
        add("-c", values["-c"][-1])
    drive_words.extend(positionals)
    return parse_drive(drive_words, aliases)


@functools.cache
def drive_parser() -> Command:
    """The command typer builds from driver.command.drive_options, the signature `load-harness drive` parses
    with. Built once and warmed (typer builds each option's converter on its first parse); call it at start-up so
    no request pays."""
    app = typer.Typer(add_completion=False)  # no --install-completion options
    app.command("drive")(drive_options)
    command = typer.main.get_command(app)
    command.make_context("drive", [], help_option_names=[])
    return command


@functools.cache
def _multiple() -> frozenset[str]:
    return frozenset(p.name for p in drive_parser().params if p.multiple and p.name)


def _flag_of(name: str) -> str:
    return next(_flag(p) for p in drive_parser().params if p.name == name)


def _flag(param: Any) -> str:
    return str(param.opts[0]) if param.param_type_name == "option" else URL


def _usage_message(exc: typer.TyperException, aliases: Mapping[str, str]) -> str:
    """click's usage errors as `FLAG: problem`."""
    message = str(getattr(exc, "message", exc))
    param = getattr(exc, "param", None)
    option = getattr(exc, "option_name", None)
    if param is not None:  # a value the option's type refused, or a missing one
        flag = _flag(param)
        return f"{aliases.get(flag, flag)}: {message}"
    if option and hasattr(exc, "possibilities"):  # no such option
        accepted = {_flag_of(name) for name in ACCEPTED} - {URL}
        close = sorted(p for p in exc.possibilities or () if p in accepted)
        return f"{option}: no such option" + (f" (did you mean {' or '.join(close)}?)" if close else "")
    if option:  # "Option '--rate' requires an argument."
        return f"{aliases.get(option, option)}: {message.removeprefix(f'Option {option!r} ')}"
    return message  # extra words after the URL


def _positive(text: str, flag: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise CommandLineError(f"{flag}: must be a positive number, got {text[:40]!r}")
    return value


def _hey_seconds(text: str) -> str:
    if not _SECONDS.fullmatch(text):
        raise CommandLineError(f"-t: must be a whole number of seconds, got {text[:40]!r}")
    return f"{text}s"
