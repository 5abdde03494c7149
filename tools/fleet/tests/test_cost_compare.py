"""`fleet cost compare`: two shapes side by side (instance types, regions' price lists, named scenarios)."""

from __future__ import annotations

import json

import pytest
from fleet import exits
from fleet.cost import app
from test_cost import flat, run_json, runner

DAY = ("--date", "2026-12-02")


def row(data: dict, component: str) -> dict:
    return next(r for r in data["items"] if r["component"] == component)


def test_two_instance_types_item_by_item() -> None:
    data = run_json("compare", "--a", "instance_type=t3.large", "--b", "instance_type=t4g.large", *DAY)
    nodes = row(data, "EC2 nodes")
    assert (nodes["a"], nodes["b"], nodes["difference"]) == (6.82, 7.26, 0.44)  # 220 h x $0.031 / $0.033
    assert nodes["ratio"] == pytest.approx(0.033 / 0.031, abs=1e-3)
    assert row(data, "EKS control plane")["difference"] == 0.0
    assert row(data, "EKS control plane")["ratio"] == 1.0
    # VAT applies to everything, so the total differs by the node difference plus 20 %.
    assert data["total_usd"]["difference"] == pytest.approx(0.44 * 1.2, abs=0.01)
    assert data["a"]["usage"]["instance_type"] == "t3.large"
    assert data["b"]["usage"]["instance_type"] == "t4g.large"


def test_two_regions_price_lists_with_a_line_only_one_side_has() -> None:
    result = runner.invoke(
        app,
        ["compare", "--a", "pricing=pricing-original-docs.yaml", "--b", "pricing=pricing-eu-west-2.yaml",
         "--lb", "alb", "--json", *DAY],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout, parse_constant=lambda name: pytest.fail(f"not JSON: {name}"))
    assert (row(data, "NAT gateway")["a"], row(data, "NAT gateway")["b"]) == (9.90, 10.56)
    ipv4 = row(data, "Public IPv4 addresses")  # the original's model had no IPv4 line
    assert (ipv4["a"], ipv4["b"], ipv4["a_detail"]) == (0.0, 3.30, None)
    assert ipv4["ratio"] is None  # B / 0: no number, and never Infinity
    assert data["a"]["pricing_file"] == "packaged:pricing-original-docs.yaml"
    assert data["total_usd"]["a"] == 49.72
    # The original's prices are dated December 2025: compare warns like estimate does.
    assert any("2025-12" in w for w in data["price_warnings"])
    assert "warning:" in result.stderr


def test_two_named_scenarios_from_the_claims_file() -> None:
    data = run_json("compare", "--a", "scenario=worst-case-450h", "--b", "scenario=worst-case-450h-with-alb", *DAY)
    assert (data["a"]["label"], data["b"]["label"]) == ("worst-case-450h", "worst-case-450h-with-alb")
    assert data["a"]["hours"] == data["b"]["hours"] == 450
    assert (data["total_usd"]["a"], data["total_usd"]["b"]) == (77.22, 101.52)
    assert (row(data, "ALB")["a"], row(data, "ALB")["b"]) == (0.0, 13.14)
    assert data["b"]["pricing_file"] == "packaged:pricing-original-docs.yaml"  # the scenario's own prices
    components = [r["component"] for r in data["items"]]
    # A line only B has sits where B has it, not after the tax.
    assert components.index("ALB") == components.index("EC2 nodes") + 1
    assert components[-1] == "Tax"


def test_shared_flags_shape_both_sides_and_a_sides_own_pairs_win() -> None:
    data = run_json(
        "compare", "--nodes", "2", "--a", "label=two", "--b", "nodes=3", "--b", "label=three", *DAY
    )  # fmt: skip
    assert (row(data, "EC2 nodes")["a"], row(data, "EC2 nodes")["b"]) == (13.64, 20.46)
    assert (data["a"]["label"], data["b"]["label"]) == ("two", "three")


def test_shared_flags_override_a_scenario() -> None:
    data = run_json(
        "compare", "--a", "scenario=best-case-220h", "--b", "scenario=worst-case-450h", "--tax-scope", "none", *DAY
    )  # fmt: skip
    assert "Tax" not in [r["component"] for r in data["items"]]
    assert data["b"]["usage"]["tax_scope"] == "none"


def test_comma_separated_pairs_and_flag_style_keys() -> None:
    data = run_json("compare", "--a", "nodes=1", "--b", "instance-type=t4g.large,nodes=2,lb=alb", *DAY)
    assert (data["b"]["usage"]["instance_type"], data["b"]["usage"]["nodes"]) == ("t4g.large", 2)
    assert row(data, "ALB")["a"] == 0.0
    assert row(data, "NLB")["b"] == 0.0  # the ALB replaced the default NLB on side B


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--a", "nodez=1"], "--a 'nodez=1': unknown key 'nodez'; known keys:"),
        (["--b", "nodes=abc"], "--b nodes='abc': Input should be a valid integer"),
        (["--a", "hours=5000"], "--a hours=5000: running hours per month must be 0 to 744"),
        (["--a", "scenario=nope"], "--a scenario=nope: no claim named 'nope'"),
        (["--a", "scenario=audit-script-nat-rate"], "that claim checks a price, it describes no shape"),
        (["--a", "pricing=missing.yaml"], "--a pricing=missing.yaml: pricing file 'missing.yaml' not found"),
        (["--a", "instance_type"], "--a 'instance_type': expected KEY=VALUE"),
        (["--a", "instance_type=x9.huge"], "no price for instance type 'x9.huge'"),
        (["--days", "0", "--a", "nodes=1"], "--days 0: running days per month must be 1 to 31"),
        (["--date", "2026-02-30", "--a", "nodes=1"], "--date '2026-02-30': not a calendar date"),
        ([], "give --a and/or --b"),
    ],
)
def test_bad_sides_are_bad_input_naming_the_flag(args: list[str], expected: str) -> None:
    result = runner.invoke(app, ["compare", *args])
    assert result.exit_code == exits.BAD_INPUT, result.output
    assert expected in flat(result.stderr)
    assert result.stdout == ""


def test_the_table_has_both_sides_the_difference_and_the_ratio() -> None:
    result = runner.invoke(
        app, ["compare", "--a", "instance_type=t3.large", "--b", "instance_type=t4g.large", *DAY],
        env={"COLUMNS": "160"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = flat(result.stdout)
    assert "A = instance_type=t3.large" in out
    assert "B / A" in out
    assert "EC2 nodes │ 6.82 │ 7.26 │ 0.44 │ 1.065" in out
