"""`fleet eks status`: where an EKS version stands in AWS's support calendar, and what it costs.

Exit codes (checked in this order):
  4  bad input: unreadable calendar, pricing or Terraform, bad --date, no version given
  3  the version is past the end of extended support (AWS upgrades it for you) or is not in the calendar
  1  in extended support: the control plane costs 6x
  2  in standard support, but the next deadline is within --warn-days
  0  in standard support with more than --warn-days left
Typer's own usage errors (unknown option) also exit 2.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from fleet.cost.pricing import load_pricing
from fleet.datafiles import DataFileError
from fleet.eks.calendar import Calendar, Status, load_calendar, normalise, status
from fleet.eks.terraform import EksConfig, TerraformError, read_eks_config
from fleet.exits import die
from fleet.output import emit

app = typer.Typer(help="EKS version support status and upgrade deadlines.", no_args_is_help=True)

EXIT_OK, EXIT_EXTENDED, EXIT_WARN, EXIT_UNSUPPORTED, EXIT_BAD_INPUT = 0, 1, 2, 3, 4


@app.callback()
def _group() -> None:
    """EKS version support status and upgrade deadlines."""
    # A callback keeps `status` a subcommand even though it is the only one (more will follow).


def exit_code(st: Status, warn_days: int) -> int:
    if st.phase in ("unknown", "unsupported"):
        return EXIT_UNSUPPORTED
    if st.phase == "extended":
        return EXIT_EXTENDED
    return EXIT_WARN if st.in_warning_window(warn_days) else EXIT_OK


def message(st: Status, warn_days: int, extra_monthly: float, policy: str = "EXTENDED") -> str:
    """One sentence a person can act on. `policy` is the cluster's upgrade policy when known."""
    steps = f" ({' -> '.join(st.upgrade_path)}, one minor version at a time)" if len(st.upgrade_path) > 1 else ""
    target = f"upgrade to {st.recommended}{steps}"
    if st.phase == "unknown":
        return f"EKS {st.version} is not in the calendar: add its dates from the EKS user guide (--calendar)."
    if st.phase == "unsupported":
        return (
            f"EKS {st.version} left extended support on {st.next_deadline}, so AWS upgrades the control plane "
            f"on its own schedule; {target} now."
        )
    if st.phase == "extended":
        return (
            f"EKS {st.version} is in EXTENDED support: the control plane costs ${extra_monthly:.2f}/month more. "
            f"Extended support ends {st.next_deadline} ({st.days_left} days); {target}."
        )
    if st.in_warning_window(warn_days):
        then = (
            "AWS upgrades it automatically (upgrade policy STANDARD)"
            if policy == "STANDARD"
            else f"it costs ${extra_monthly:.2f}/month more"
        )
        return (
            f"EKS {st.version} leaves standard support on {st.next_deadline}, in {st.days_left} days; "
            f"from then {then}. {target[0].upper()}{target[1:]}."
        )
    return f"EKS {st.version} is in standard support until {st.next_deadline} ({st.days_left} days)."


def _parse_date(value: str | None) -> date:
    if value is None:
        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(value)
    except ValueError:
        die(f"--date {value!r}: expected YYYY-MM-DD", EXIT_BAD_INPUT)


@app.command("status")
def status_command(
    version: Annotated[str | None, typer.Option(help="Kubernetes minor version, e.g. 1.32.")] = None,
    on: Annotated[str | None, typer.Option("--date", help="Date to judge (YYYY-MM-DD); default today, UTC.")] = None,
    warn_days: Annotated[int, typer.Option(min=0, help="Warn this many days before a deadline.")] = 60,
    calendar_file: Annotated[Path | None, typer.Option("--calendar", help="Your own version calendar.")] = None,
    from_terraform: Annotated[
        Path | None, typer.Option(help="Read the version from this Terraform directory (*.tf, *.tfvars).")
    ] = None,
    pricing_file: Annotated[Path | None, typer.Option("--pricing", help="Pricing file for the cost.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Support phase, days to the next deadline, extended-support cost and the upgrade target."""
    day = _parse_date(on)
    try:
        calendar: Calendar = load_calendar(calendar_file)
        pricing = load_pricing(pricing_file)
    except DataFileError as exc:
        die(str(exc), EXIT_BAD_INPUT)
    tf: EksConfig | None = None
    if from_terraform is not None:
        try:
            tf = read_eks_config(from_terraform)
        except TerraformError as exc:
            die(str(exc), EXIT_BAD_INPUT)
        if version is not None and normalise(tf.version) != normalise(version):
            die(f"--version {version} disagrees with {tf.where} ({tf.version}); pass one of them", EXIT_BAD_INPUT)
        version = tf.version
    if version is None:
        die("give --version or --from-terraform", EXIT_BAD_INPUT)
    st = status(calendar, version, day)
    extra_monthly = (pricing.eks.extended_per_hour - pricing.eks.standard_per_hour) * pricing.hours_per_month
    code = exit_code(st, warn_days)
    data: dict[str, Any] = {
        "version": st.version,
        "date": st.on.isoformat(),
        "support": st.phase,
        "next_deadline": st.next_deadline.isoformat() if st.next_deadline else None,
        "deadline": st.deadline_name or None,
        "days_left": st.days_left,
        "extended_support_extra_usd_per_month": round(extra_monthly, 2),
        "paying_extended_now": st.phase == "extended",
        "recommended_version": st.recommended,
        "upgrade_path": st.upgrade_path,
        "warn_days": warn_days,
        "exit_code": code,
        "message": message(st, warn_days, extra_monthly, tf.upgrade_policy if tf else "EXTENDED"),
    }
    if tf is not None:
        data["terraform"] = {"where": tf.where, "upgrade_policy": tf.upgrade_policy}
        if tf.upgrade_policy == "EXTENDED":
            data["message"] += (
                " The upgrade policy is EXTENDED (AWS's default): set upgrade_policy.support_type = "
                '"STANDARD" to be upgraded instead of billed at 6x.'
            )

    def render(console: Console) -> None:
        colour = {0: "green", 1: "red", 2: "yellow"}.get(code, "red")
        console.print(f"[bold {colour}]{st.phase.upper()}[/] {data['message']}")
        if tf is not None:
            console.print(f"[dim]read from {tf.where}; upgrade policy {tf.upgrade_policy}[/]")

    emit(data, render, as_json)
    if code:
        raise typer.Exit(code)
