"""`fleet eks status`: where an EKS version stands in AWS's support calendar, and what it costs.
(`fleet eks calendar`, which shows and refreshes the calendar, lives in calendar_cli.py.)

Exit codes of `status` (fleet/exits.py; checked in this order):
  3  bad input: unreadable calendar, pricing or Terraform, bad --date, no version given, a --version that is not
     a version, or an old version the calendar lacks
  5  past the end of support: extended support is over, or standard support is over under the STANDARD upgrade
     policy; either way AWS upgrades the control plane on its own schedule
  1  in extended support: the control plane costs 6x
  4  in standard support, but the end of standard support is within --warn-days
  0  in standard support with more than --warn-days left, or newer than the calendar's newest version
  2  usage error from the command-line parser (unknown option), and only that
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from fleet import dates, exits
from fleet.cost.pricing import load_pricing
from fleet.datafiles import DataFileError
from fleet.eks.calendar import BadVersion, Policy, Status, normalise, status
from fleet.eks.calendar_cli import calendar_command
from fleet.eks.calendar_file import CALENDAR_HELP, LoadedCalendar, load_effective
from fleet.eks.terraform import EksConfig, TerraformError, read_eks_config
from fleet.exits import die
from fleet.output import emit

app = typer.Typer(help="EKS version support status and upgrade deadlines.", no_args_is_help=True)

EXIT_OK, EXIT_EXTENDED, EXIT_WARN = exits.OK, exits.FINDINGS, exits.DEADLINE
EXIT_PAST_SUPPORT, EXIT_BAD_INPUT = exits.PAST_SUPPORT, exits.BAD_INPUT


@app.callback()
def _group() -> None:
    """EKS version support status and upgrade deadlines."""
    # A callback keeps the subcommands subcommands (typer would flatten a lone command into the group).


app.command("calendar")(calendar_command)


def days(n: int | None) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def exit_code(st: Status, warn_days: int) -> int:
    if st.phase == "unknown":
        return EXIT_BAD_INPUT  # the calendar cannot judge it: the user has to add its dates
    if st.phase in ("unsupported", "auto-upgrade"):
        return EXIT_PAST_SUPPORT
    if st.phase == "extended":
        return EXIT_EXTENDED
    return EXIT_WARN if st.in_warning_window(warn_days) else EXIT_OK


def message(st: Status, warn_days: int, extra_monthly: float) -> str:
    """One sentence a person can act on. `extra_monthly` is what extended support adds under `st.policy`."""
    steps = f" ({' -> '.join(st.upgrade_path)}, one minor version at a time)" if len(st.upgrade_path) > 1 else ""
    target = f"upgrade to {st.recommended}{steps}"
    if st.phase == "unknown":
        return (
            f"EKS {st.version} is not in the calendar: run `fleet eks calendar --refresh` to get its dates from "
            "AWS, or add them from the EKS user guide (--calendar)."
        )
    if st.phase == "newer":
        return (
            f"EKS {st.version} is newer than the calendar knows (newest: {st.newest_known}), so its deadlines are "
            "unknown; a new version gets 14 months of standard support. Run `fleet eks calendar --refresh` to get "
            "its dates from AWS (or add them with --calendar) to be warned before they pass."
        )
    if st.phase == "auto-upgrade":
        return (
            f"EKS {st.version} left standard support on {st.next_deadline}. With upgrade policy STANDARD, AWS "
            "upgrades the control plane automatically at the end of standard support instead of billing extended "
            f"support (no extended-support cost), so the cluster is being or has been upgraded; the pinned "
            f"version is stale: {target}."
        )
    if st.phase == "unsupported":
        return (
            f"EKS {st.version} left extended support on {st.next_deadline}, so AWS upgrades the control plane "
            f"on its own schedule; {target} now."
        )
    if st.phase == "extended":
        return (
            f"EKS {st.version} is in EXTENDED support: the control plane costs ${extra_monthly:.2f}/month more. "
            f"Extended support ends {st.next_deadline} ({days(st.days_left)}); {target}."
        )
    then = (
        "AWS upgrades it automatically (upgrade policy STANDARD)"
        if st.policy == "STANDARD"
        else f"it costs ${extra_monthly:.2f}/month more"
    )
    if st.in_warning_window(warn_days):
        return (
            f"EKS {st.version} leaves standard support on {st.next_deadline}, in {days(st.days_left)}; "
            f"from then {then}. {target[0].upper()}{target[1:]}."
        )
    standard = f"EKS {st.version} is in standard support until {st.next_deadline} ({days(st.days_left)})"
    return f"{standard}; then {then}." if st.policy == "STANDARD" else f"{standard}."


def estimate_note(st: Status) -> str:
    """Said in every message that rests on estimated dates, so a guess never reads as AWS's date."""
    if not st.estimated:
        return ""
    which = " and ".join(st.estimated)
    return (
        f" Note: the calendar's dates for {which} are ESTIMATED (14 + 12 months from the EKS release), not "
        "AWS's; run `fleet eks calendar --refresh` for AWS's dates."
    )


def parse_day(value: str | None, flag: str = "--date") -> date:
    """fleet.dates.parse_day, exiting with BAD_INPUT and its message."""
    try:
        return dates.parse_day(value, flag)
    except ValueError as exc:
        die(str(exc), EXIT_BAD_INPUT)


def _version(value: str, flag: str) -> str:
    try:
        return normalise(value)
    except BadVersion as exc:
        die(f"{flag}: {exc}", EXIT_BAD_INPUT)


@app.command("status")
def status_command(
    version: Annotated[str | None, typer.Option(help="Kubernetes minor version, e.g. 1.32.")] = None,
    on: Annotated[str | None, typer.Option("--date", help="Date to judge (YYYY-MM-DD); default today, UTC.")] = None,
    warn_days: Annotated[int, typer.Option(min=0, help="Warn this many days before a deadline.")] = 60,
    calendar_file: Annotated[Path | None, typer.Option("--calendar", help=CALENDAR_HELP)] = None,
    from_terraform: Annotated[
        Path | None, typer.Option(help="Read the version from this Terraform directory (*.tf, *.tfvars).")
    ] = None,
    pricing_file: Annotated[Path | None, typer.Option("--pricing", help="Pricing file for the cost.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Support phase, days to the next deadline, extended-support cost and the upgrade target."""
    day = parse_day(on)
    if version is not None:
        version = _version(version, "--version")
    try:
        loaded: LoadedCalendar = load_effective(calendar_file)
        pricing = load_pricing(pricing_file)
    except DataFileError as exc:
        die(str(exc), EXIT_BAD_INPUT)
    tf: EksConfig | None = None
    if from_terraform is not None:
        try:
            tf = read_eks_config(from_terraform)
        except TerraformError as exc:
            die(str(exc), EXIT_BAD_INPUT)
        pinned = _version(tf.version, f"{tf.where}: version")
        if version is not None and pinned != version:
            die(f"--version {version} disagrees with {tf.where} ({tf.version}); pass one of them", EXIT_BAD_INPUT)
        version = pinned
    if version is None:
        die("give --version or --from-terraform", EXIT_BAD_INPUT)
    # Without Terraform the policy is unknown; AWS's default for API- and Terraform-made clusters is EXTENDED.
    policy: Policy = "STANDARD" if tf is not None and tf.upgrade_policy == "STANDARD" else "EXTENDED"
    st = status(loaded.calendar, version, day, policy)
    # Under STANDARD the cluster is upgraded instead of billed, so extended support adds nothing to its cost.
    rate_gap = pricing.eks.extended_per_hour - pricing.eks.standard_per_hour
    extra_monthly = 0.0 if policy == "STANDARD" else rate_gap * pricing.hours_per_month
    code = exit_code(st, warn_days)
    data: dict[str, Any] = {
        "version": st.version,
        "date": st.on.isoformat(),
        "support": st.phase,
        "upgrade_policy": policy,
        "next_deadline": st.next_deadline.isoformat() if st.next_deadline else None,
        "deadline": st.deadline_name or None,
        "days_left": st.days_left,
        "auto_upgrade_date": st.auto_upgrade_on.isoformat() if st.auto_upgrade_on else None,
        "extended_support_extra_usd_per_month": round(extra_monthly, 2),
        "paying_extended_now": st.phase == "extended",
        "recommended_version": st.recommended,
        "upgrade_path": st.upgrade_path,
        "calendar_newest_version": st.newest_known,
        "calendar_file": loaded.describe(),
        "dates_source": st.dates_source,
        "estimated_dates": list(st.estimated),
        "warn_days": warn_days,
        "exit_code": code,
        "message": message(st, warn_days, extra_monthly) + estimate_note(st),
    }
    if tf is not None:
        data["terraform"] = {"where": tf.where, "upgrade_policy": tf.upgrade_policy}
        if tf.upgrade_policy == "EXTENDED":
            data["message"] += (
                " The upgrade policy is EXTENDED (AWS's default): set upgrade_policy.support_type = "
                '"STANDARD" to be upgraded instead of billed at 6x.'
            )

    def render(console: Console) -> None:
        colour = {EXIT_OK: "green", EXIT_EXTENDED: "red", EXIT_WARN: "yellow"}.get(code, "red")
        console.print(f"[bold {colour}]{st.phase.upper()}[/] {data['message']}")
        if tf is not None:
            console.print(f"[dim]read from {tf.where}; upgrade policy {tf.upgrade_policy}[/]")

    emit(data, render, as_json)
    if code:
        raise typer.Exit(code)
