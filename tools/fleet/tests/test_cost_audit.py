"""Finding 7: `fleet cost audit` flags the slips in the original's cost documents (one test per slip), and lets the
figures it got right pass. The claims ship as data/original-cost-claims.yaml."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from fleet import exits
from fleet.cost import app
from fleet.cost.audit import RELATIVE_TOLERANCE
from fleet.cost.claims import ORIGINAL_CLAIMS
from fleet.datafiles import packaged
from test_cost import flat, runner

CLAIMS = packaged(ORIGINAL_CLAIMS)


def audit(*args: str, expect: int = exits.FINDINGS) -> dict:
    result = runner.invoke(app, ["audit", *args, "--json"])
    assert result.exit_code == expect, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def report() -> dict[str, dict]:
    """The shipped claims, audited once: claim name -> its result."""
    return {claim["name"]: claim for claim in audit()["claims"]}


def check(claim: dict, kind: str) -> dict:
    return next(c for c in claim["checks"] if c["check"] == kind)


def test_scenario_4_target_states_38_92_while_its_items_sum_to_48_92(report: dict[str, dict]) -> None:
    claim = report["target-scenario-4"]
    assert claim["status"] == "slip"
    items = check(claim, "items")
    assert (claim["stated"], items["computed"], items["off_by"]) == (38.92, 48.92, -10.0)
    assert items["agrees"] is False


def test_worst_case_95_with_alb_computes_to_101_52(report: dict[str, dict]) -> None:
    claim = report["worst-case-450h-with-alb"]
    recomputed = check(claim, "recomputed")
    assert recomputed["computed"] == pytest.approx(101.52, abs=0.005)
    assert recomputed["pricing_file"] == "packaged:pricing-original-docs.yaml"
    assert claim["status"] == "slip"


def test_t4g_saves_0_44_actually_costs_0_44_more(report: dict[str, dict]) -> None:
    claim = report["t4g-saving"]
    recomputed = check(claim, "recomputed")
    assert claim["stated"] == 0.44
    assert recomputed["computed"] == pytest.approx(-0.44, abs=1e-6)  # 220 h x ($0.031 - $0.033)
    assert recomputed["finding"].startswith("opposite sign")
    assert claim["status"] == "slip"


def test_the_hourly_column_sums_to_0_231_not_0_219(report: dict[str, dict]) -> None:
    claim = report["weekday-220h-rate"]
    assert claim["stated"] == 0.219
    assert check(claim, "items")["computed"] == 0.231
    assert check(claim, "items")["agrees"] is False
    # Recomputed, the month is $49.72 / 220 h: $0.226/h, not $0.219 either.
    assert check(claim, "recomputed")["computed"] == pytest.approx(49.724 / 220, abs=1e-4)
    assert check(claim, "recomputed")["agrees"] is False


def test_the_audit_script_prices_nat_and_alb_at_us_east_1_rates(report: dict[str, dict]) -> None:
    nat, alb = report["audit-script-nat-rate"], report["audit-script-alb-rate"]
    assert (nat["stated"], check(nat, "price")["computed"]) == (0.045, 0.048)
    assert (alb["stated"], check(alb, "price")["computed"]) == (0.0225, 0.0252)
    assert check(nat, "price")["pricing_file"] == "packaged:pricing-eu-west-2.yaml"
    assert nat["status"] == alb["status"] == "slip"


def test_the_220h_total_drops_1_50_from_its_own_items(report: dict[str, dict]) -> None:
    claim = report["weekday-220h"]
    assert check(claim, "items")["computed"] == pytest.approx(49.72)
    assert check(claim, "recomputed")["computed"] == pytest.approx(49.72, abs=0.005)
    assert check(claim, "items")["off_by"] == pytest.approx(-1.50)


@pytest.mark.parametrize(
    ("name", "items_sum", "recomputed"),
    [
        ("measured-month-276h", 52.10, 50.41),
        ("always-on-24-7", 105.40, 131.87),
    ],
)
def test_the_other_facts_scenarios_that_do_not_add_up(
    report: dict[str, dict], name: str, items_sum: float, recomputed: float
) -> None:
    claim = report[name]
    assert check(claim, "items")["computed"] == pytest.approx(items_sum)
    assert check(claim, "recomputed")["computed"] == pytest.approx(recomputed, abs=0.005)
    assert claim["status"] == "slip"


def test_the_stated_break_even_does_not_follow_from_a_25_minute_rebuild(report: dict[str, dict]) -> None:
    claim = report["break-even-idle-hours"]
    assert check(claim, "recomputed")["computed"] == pytest.approx(25 / 60, abs=1e-4)
    assert claim["status"] == "slip"


@pytest.mark.parametrize(
    "name", ["best-case-220h", "best-case-220h-rate", "worst-case-450h", "extended-support-saving"]
)
def test_a_correct_claim_passes(report: dict[str, dict], name: str) -> None:
    claim = report[name]
    assert claim["status"] == "agrees"
    assert all(c["agrees"] and c["finding"] is None for c in claim["checks"])
    assert claim["checks"], "a claim with no checks would pass vacuously"


def write_claims(tmp_path: Path, claims: list[dict], pricing: str | None = "pricing-original-docs.yaml") -> Path:
    path = tmp_path / "claims.yaml"
    path.write_text(yaml.safe_dump({"pricing": pricing, "claims": claims} if pricing else {"claims": claims}))
    return path


BEST_CASE = {
    "name": "best",
    "source": "test",
    "stated": 37.84,
    "unit": "usd_per_month",
    "shape": {"hours_per_day": 10, "days": 22, "instance_type": "t3.small", "load_balancer": "none"},
}


def test_a_file_of_correct_claims_exits_0_and_one_slip_exits_1(tmp_path: Path) -> None:
    assert audit(str(write_claims(tmp_path, [BEST_CASE])), expect=exits.OK)["slips"] == 0
    slipped = {**BEST_CASE, "name": "slipped", "stated": 36.84}
    data = audit(str(write_claims(tmp_path, [BEST_CASE, slipped])), expect=exits.FINDINGS)
    assert [c["status"] for c in data["claims"]] == ["agrees", "slip"]


def test_the_tolerance_is_relative_to_the_stated_figure(tmp_path: Path) -> None:
    inside = 100 * (1 + RELATIVE_TOLERANCE * 0.9)
    outside = 100 * (1 + RELATIVE_TOLERANCE * 1.1)
    claims = [
        {"name": n, "source": "test", "stated": stated, "unit": "usd_per_month", "items": [{"name": "x", "usd": 100}]}
        for n, stated in (("inside", inside), ("outside", outside))
    ]
    data = audit(str(write_claims(tmp_path, claims, pricing=None)))
    assert [c["status"] for c in data["claims"]] == ["agrees", "slip"]


def test_pricing_flag_recomputes_claims_that_name_no_pricing_file(tmp_path: Path) -> None:
    path = write_claims(tmp_path, [BEST_CASE], pricing=None)
    # At today's eu-west-2 prices (NAT $0.048/h, VAT on everything, IPv4, EBS) the best case costs more.
    data = audit(str(path), "--pricing", str(packaged("pricing-eu-west-2.yaml")))
    assert check(data["claims"][0], "recomputed")["computed"] > 40
    assert audit(str(path), "--pricing", str(packaged("pricing-original-docs.yaml")), expect=exits.OK)


@pytest.mark.parametrize(
    ("claim", "expected"),
    [
        ({"name": "x", "source": "s", "stated": 1, "unit": "usd_per_month"}, "a claim needs at least one of"),
        ({**BEST_CASE, "unit": "hours"}, "unit hours and breakeven go together"),
        (
            {"name": "x", "source": "s", "stated": 1, "unit": "usd_per_hour", "price": "nat_gateway.per_hours"},
            "per_hours",
        ),
        ({**BEST_CASE, "shape": {"instance_type": "x9.huge"}}, "no price for instance type 'x9.huge'"),
        ({**BEST_CASE, "shape": {"hours": 5000}}, "claim best: hours=5000: running hours per month must be 0 to 744"),
        ({**BEST_CASE, "unit": "usd_per_week"}, "claims[0].unit"),
        ({**BEST_CASE, "source": ""}, "claims[0].source"),
    ],
)
def test_a_claims_file_that_cannot_be_checked_is_bad_input(tmp_path: Path, claim: dict, expected: str) -> None:
    result = runner.invoke(app, ["audit", str(write_claims(tmp_path, [claim]))])
    assert result.exit_code == exits.BAD_INPUT, result.output
    assert expected in flat(result.stderr)
    assert result.stdout == ""


def test_claim_names_are_unique_and_a_missing_file_is_bad_input(tmp_path: Path) -> None:
    result = runner.invoke(app, ["audit", str(write_claims(tmp_path, [BEST_CASE, BEST_CASE]))])
    assert result.exit_code == exits.BAD_INPUT
    assert "repeated: best" in flat(result.stderr)
    result = runner.invoke(app, ["audit", str(tmp_path / "missing.yaml")])
    assert result.exit_code == exits.BAD_INPUT
    assert "cannot read" in flat(result.stderr)


def test_every_shipped_claim_has_a_comment_saying_where_it_comes_from() -> None:
    lines = CLAIMS.read_text().splitlines()
    for number, line in enumerate(lines):
        if line.startswith("  - name:"):
            assert lines[number - 1].lstrip().startswith("#"), f"no comment above {line.strip()}"


def test_the_table_names_each_slip() -> None:
    result = runner.invoke(app, ["audit"], env={"COLUMNS": "220"})
    assert result.exit_code == exits.FINDINGS
    assert "target-scenario-4" in result.stdout
    assert "slip: opposite sign" in result.stdout
    data = audit()
    assert f"{data['claims_checked']} claims, {data['slips']} with a slip" in flat(result.stdout)
