"""Exit codes shared by every fleet command, and `die`, which prints an error and exits with one of them.

One table for the whole CLI, so that a script can tell "you typed it wrong" from "fleet found something" from
"a deadline is near" without knowing which command it ran. docs/fleet.md (section "Exit codes") prints the same
table; `test_exit_codes_are_distinct_and_documented` keeps the two in step.

A code is never reused with a second meaning: click's own usage errors exit 2, so no fleet check may exit 2.
"""

from __future__ import annotations

from typing import NoReturn

import typer

from fleet.output import fail

OK = 0
# The command ran and found something to act on: orphans (cleanup dry run), work for pre-destroy (dry run), a
# failed check or nothing checked (validate), a missing catalog annotation, too few free pod slots (capacity
# budget), a stated cost figure that is off (cost audit), a version in extended support that costs 6x (eks status).
FINDINGS = 1
# click could not parse the command line: unknown option, missing required option, a value of the wrong type or
# outside the range the option declares. click picks this number; fleet never uses it for anything else.
USAGE = 2
# The command line parsed but a value or file is unusable: the message names the flag or the file.
BAD_INPUT = 3
# eks status: standard support ends within --warn-days.
DEADLINE = 4
# eks status: past the end of the support the cluster gets (extended support over, or standard support over
# under the STANDARD upgrade policy): AWS upgrades the control plane on its own schedule.
PAST_SUPPORT = 5
# A remote service (AWS, the Pushgateway) failed or refused: nothing can be concluded, never "nothing found".
REMOTE_ERROR = 6
# An --apply finished but left things in place: cleanup's re-scan still finds something tagged for the cluster
# (blocked, or recreated), or pre-destroy's objects and their AWS resources outlived --timeout.
INCOMPLETE = 7
# fleet refused to act because acting would destroy or overwrite something live, or the wrong thing: cleanup while
# the EKS cluster still exists or with another account's credentials, pre-destroy with a kubeconfig for another
# cluster, new-app over an existing directory. Nothing was changed.
REFUSED = 8

# For the docs test and --help texts: every code with a one-line meaning, in order.
TABLE: tuple[tuple[int, str, str], ...] = (
    (OK, "OK", "success, nothing to report"),
    (FINDINGS, "FINDINGS", "the command ran and found something to act on"),
    (USAGE, "USAGE", "usage error from the command-line parser"),
    (BAD_INPUT, "BAD_INPUT", "a value or file given is unusable"),
    (DEADLINE, "DEADLINE", "a support deadline is within --warn-days"),
    (PAST_SUPPORT, "PAST_SUPPORT", "past the end of support: AWS upgrades the control plane itself"),
    (REMOTE_ERROR, "REMOTE_ERROR", "a remote service failed: nothing can be concluded"),
    (INCOMPLETE, "INCOMPLETE", "an --apply finished but left things in place"),
    (REFUSED, "REFUSED", "refused to act on something live; nothing changed"),
)


def die(message: str, code: int) -> NoReturn:
    fail(message, code)
    raise typer.Exit(code)  # not reached: fail() raises; this line is for type checkers
