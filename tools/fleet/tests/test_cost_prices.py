"""Finding 6: the NAT figures, the ingress NLB in the default shape, and every price's `source` and `checked`.

Dates are passed with --date, so that a price's age (and its warning) never depends on the day the suite runs.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from fleet import exits
from fleet.cost import app
from fleet.cost.pricing import DEFAULT_PRICING, ORIGINAL_DOCS_PRICING, load_pricing
from fleet.cost.provenance import STALE_AFTER_DAYS
from fleet.datafiles import packaged
from test_cost import flat, item, run_json, runner

ORIGINAL = packaged(ORIGINAL_DOCS_PRICING)
EU_WEST_2 = packaged(DEFAULT_PRICING)
FACTS_CHECKED = date(2026, 11, 26)  # the reference set's check date, which pricing-eu-west-2.yaml records
SPOT_CHECKED_BY = date(2025, 12, 31)  # "December 2025": the month counts as its last day


def component(data: dict, name: str) -> dict:
    return next(i for i in data["items"] if i["component"] == name)


def test_eu_west_2_nat_charges_one_figure_per_hour_and_per_gb() -> None:
    nat = load_pricing().nat_gateway
    assert nat.per_hour == nat.per_gb == 0.048
    data = run_json("estimate", "--nat-data-gb", "100", "--date", "2026-12-02")
    assert item(data, "NAT data processed") == 4.80  # 100 GB x $0.048, not $0.045 (us-east-1's figure)


def test_original_docs_keep_the_us_east_1_nat_figures_and_say_so() -> None:
    nat = load_pricing(ORIGINAL).nat_gateway
    assert nat.per_hour == nat.per_gb == 0.045
    assert "us-east-1" in nat.source


def test_default_shape_includes_the_ingress_nlb_and_its_addresses() -> None:
    data = run_json("estimate", "--date", "2026-12-02")
    assert data["usage"]["load_balancer"] == "nlb"
    assert item(data, "NLB") == pytest.approx(220 * (0.0252 + 0.006), abs=0.005)  # base + ~1 NLCU per hour
    # One NAT gateway EIP plus the NLB's address in each of two AZs.
    assert component(data, "Public IPv4 addresses")["detail"].startswith("3 x")
    assert "ALB" not in [i["component"] for i in data["items"]]


def test_estimate_json_shows_each_price_source_and_check_date() -> None:
    data = run_json("estimate", "--date", "2026-12-02")
    assert data["date"] == "2026-12-02"
    assert data["stale_after_days"] == STALE_AFTER_DAYS
    eks = component(data, "EKS control plane")
    assert eks["source"].startswith("platform facts")
    assert (eks["checked"], eks["price_age_days"], eks["price_stale"]) == ("2026-11-26", 6, False)
    nodes = component(data, "EC2 nodes")
    assert nodes["checked"] == "2025-12"
    assert nodes["price_age_days"] == (date(2026, 12, 2) - SPOT_CHECKED_BY).days
    assert nodes["price_stale"] is True
    tax = component(data, "Tax")
    assert (tax["source"], tax["checked"]) == (None, None)  # a tax rate is a setting, not a price


def test_spot_prices_are_dated_by_where_they_come_from_the_original_december_2025() -> None:
    current, original = load_pricing(), load_pricing(ORIGINAL)
    assert current.ec2_sources.spot.checked == "2025-12"
    assert "December 2025" in current.ec2_sources.spot.source
    for instance_type in ("t3.large", "t3.medium"):  # the same figures as the original's
        assert current.ec2[instance_type].spot == original.ec2[instance_type].spot


def test_a_stale_price_warns_on_stderr_and_in_the_json() -> None:
    result = runner.invoke(app, ["estimate", "--json", "--date", "2026-12-02"])
    assert result.exit_code == exits.OK  # a warning, not a failure
    data = json.loads(result.stdout)
    spot_warning = next(w for w in data["price_warnings"] if w.startswith("EC2 nodes:"))
    assert "price checked 2025-12, 336 days before 2026-12-02 (more than 90)" in spot_warning
    assert f"warning: {spot_warning}" in flat(result.stderr)
    assert not any(w.startswith("EKS control plane") for w in data["price_warnings"])


def test_the_90_day_limit_is_exclusive() -> None:
    on_the_day = SPOT_CHECKED_BY + timedelta(days=STALE_AFTER_DAYS)
    data = run_json("estimate", "--date", on_the_day.isoformat())
    assert data["price_warnings"] == []
    day_after = run_json("estimate", "--date", (on_the_day + timedelta(days=1)).isoformat())
    assert any(w.startswith("EC2 nodes:") for w in day_after["price_warnings"])


def test_facts_prices_warn_once_they_are_older_than_90_days() -> None:
    late = FACTS_CHECKED + timedelta(days=STALE_AFTER_DAYS + 1)
    data = run_json("estimate", "--date", late.isoformat())
    assert component(data, "EKS control plane")["price_stale"] is True
    # EKS, NAT, ... share no source string, so each source warns once; the spot and misc figures warn too.
    assert any(w.startswith("EKS control plane:") for w in data["price_warnings"])
    assert any(w.startswith("NAT gateway:") for w in data["price_warnings"])


def test_the_table_shows_checked_dates_and_numbered_sources() -> None:
    result = runner.invoke(app, ["estimate", "--date", "2026-12-02"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Price checked" in result.stdout
    assert "2025-12 [3] (old)" in result.stdout  # EC2 nodes, the third source used
    assert "[1] platform facts / AWS EKS price page" in result.stdout


def test_extra_items_are_the_users_own_figures_without_a_source() -> None:
    data = run_json("estimate", "--extra", "Route 53 zone=0.50", "--date", "2026-12-02")
    extra = component(data, "Route 53 zone")
    assert (extra["source"], extra["checked"], extra["price_stale"]) == (None, None, False)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("checked: 2026-11-26", 'checked: "2026-02-30"', "eks.checked: Value error, '2026-02-30' is not a real date"),
        ("checked: 2026-11-26", "checked: 2026-02-30", "a date that does not exist"),  # unquoted: YAML's own date
        ("checked: 2026-11-26", "checked: last week", "eks.checked: Value error, 'last week' is not a real date"),
        ("checked: 2026-11-26", "checked: 2026-13", "eks.checked"),
        ("  source: platform facts / AWS EKS price page", '  source: "  "', "eks.source: String should have"),
        ("  checked: 2026-11-26\n", "", "eks.checked: Field required"),
    ],
)
def test_source_and_checked_are_validated_on_load(tmp_path: Path, old: str, new: str, expected: str) -> None:
    text = EU_WEST_2.read_text()
    assert old in text
    bad = tmp_path / "prices.yaml"
    bad.write_text(text.replace(old, new, 1))
    result = runner.invoke(app, ["estimate", "--pricing", str(bad)])
    assert result.exit_code == exits.BAD_INPUT
    assert expected in flat(result.stderr)
    assert "Traceback" not in result.output


def test_every_price_section_carries_a_source_and_a_date() -> None:
    for path in (EU_WEST_2, ORIGINAL):
        pricing = load_pricing(path)
        sections = [
            pricing.eks, pricing.nat_gateway, pricing.load_balancers.alb, pricing.load_balancers.nlb,
            pricing.public_ipv4, pricing.ebs, pricing.ec2_sources.on_demand, pricing.ec2_sources.spot,
            *pricing.fixed_monthly,
        ]  # fmt: skip
        for section in sections:
            assert section.source.strip()
            assert section.checked_by() <= date(2026, 11, 26)  # no check is dated after the reference set's


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("2026-02-30", "not a calendar date (February 2026 has 28 days)"),
        ("tomorrow", "expected YYYY-MM-DD"),
        ("2026-12", "expected YYYY-MM-DD"),
        ("20261202", "expected YYYY-MM-DD"),  # date.fromisoformat would take it
    ],
)
def test_a_bad_date_flag_is_bad_input_naming_it(value: str, why: str) -> None:
    """The same reading as `fleet eks status --date` (fleet.dates): one parser, one set of messages."""
    result = runner.invoke(app, ["estimate", "--date", value])
    assert result.exit_code == exits.BAD_INPUT
    assert f"--date {value!r}: {why}" in flat(result.stderr)


def test_the_pricing_api_allocate_uses_is_unchanged() -> None:
    pricing = load_pricing()
    assert pricing.instance_rate("t3.large", "on-demand") == 0.0944
    assert pricing.instance_rate("t3.large", "spot") == 0.031
    assert pricing.ebs_gb_month == 0.08  # now pricing.ebs.gb_month, with a source; the old name still reads it
    assert pricing.public_ipv4_per_hour == 0.005
    assert pricing.instance_source("on-demand") is pricing.ec2_sources.on_demand
