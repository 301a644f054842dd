"""What a risk officer may set as an account's limits: each rule refused with a message naming the
field to change (the API's 422 and the page's message under the field are these words)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from dashboard.schemas.limits import AccountLimitsIn, HwmResetIn, field_errors

VALID: dict[str, Any] = {
    "dd_warning_pct": "6",
    "dd_critical_pct": "8",
    "daily_loss_limit_pct": "5",
    "daily_loss_basis": "max_sod_balance_equity",
    "max_loss_limit_pct": "10",
    "max_loss_mode": "static",
    "day_reset_tz": "Europe/Prague",
    "day_reset_hour": 0,
    "silence_timeout_s": 300,
    "prop_profit_target_pct": "10",
    "prop_min_trading_days": 4,
    "prop_max_days": 30,
    "prop_started_at": "2026-11-01T00:00:00Z",
    "reason": "phase 2 of the challenge",
}


def errors(**changes: Any) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        AccountLimitsIn.model_validate({**VALID, **changes})
    return field_errors(caught.value)


def test_a_complete_prop_rule_is_accepted() -> None:
    limits = AccountLimitsIn.model_validate(VALID)
    assert limits.dd_warning_pct == Decimal(6) and limits.is_prop
    assert limits.prop_started_at == datetime(2026, 11, 1, tzinfo=UTC)
    assert "reason" not in limits.limits() and limits.limits()["day_reset_tz"] == "Europe/Prague"


def test_an_account_without_prop_rule_or_daily_and_max_loss_is_accepted() -> None:
    plain = AccountLimitsIn.model_validate(
        {
            **VALID,
            "daily_loss_limit_pct": None,
            "max_loss_limit_pct": None,
            "prop_profit_target_pct": None,
            "prop_min_trading_days": None,
            "prop_max_days": None,
            "prop_started_at": None,
        }
    )
    assert not plain.is_prop and plain.daily_loss_limit_pct is None


def test_warning_must_be_below_critical() -> None:
    assert errors(dd_warning_pct="8", dd_critical_pct="8") == {
        "dd_critical_pct": "must be above the drawdown warning (8 %)"
    }
    assert "dd_critical_pct" in errors(dd_warning_pct="9", dd_critical_pct="8.5")


@pytest.mark.parametrize(
    "field",
    [
        "dd_warning_pct",
        "dd_critical_pct",
        "daily_loss_limit_pct",
        "max_loss_limit_pct",
        "prop_profit_target_pct",
    ],
)
@pytest.mark.parametrize("value", ["0", "-1", "100.0001", "250"])
def test_percentages_lie_in_zero_to_one_hundred(field: str, value: str) -> None:
    found = errors(**{field: value})
    assert found[field] == "must be above 0 and at most 100 (%)"


def test_one_hundred_percent_is_allowed_and_four_decimals_at_most() -> None:
    assert AccountLimitsIn.model_validate({**VALID, "max_loss_limit_pct": "100"}).max_loss_limit_pct == 100
    assert errors(daily_loss_limit_pct="5.00001") == {
        "daily_loss_limit_pct": "must have at most 4 decimal places"
    }
    assert AccountLimitsIn.model_validate({**VALID, "daily_loss_limit_pct": "4.5678"})


@pytest.mark.parametrize("hour", [-1, 24, 100])
def test_reset_hour_is_0_to_23(hour: int) -> None:
    assert errors(day_reset_hour=hour) == {"day_reset_hour": "must be a whole hour from 0 to 23"}


def test_reset_hour_is_a_whole_number() -> None:
    assert "day_reset_hour" in errors(day_reset_hour=1.5)
    assert errors(day_reset_hour=True) == {"day_reset_hour": "must be a whole number"}


@pytest.mark.parametrize("zone", ["Mars/Olympus", "Europe/Prag", "../../etc/passwd", "", "x" * 65])
def test_reset_zone_is_an_iana_zone(zone: str) -> None:
    assert errors(day_reset_tz=zone) == {
        "day_reset_tz": "must be an IANA time zone such as Europe/Prague, America/New_York or UTC"
    }


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Tokyo"])
def test_real_zones_are_accepted(zone: str) -> None:
    assert AccountLimitsIn.model_validate({**VALID, "day_reset_tz": zone}).day_reset_tz == zone


@pytest.mark.parametrize(("seconds", "ok"), [(29, False), (30, True), (604_800, True), (604_801, False)])
def test_silence_timeout_between_30_s_and_7_days(seconds: int, ok: bool) -> None:
    if ok:
        assert (
            AccountLimitsIn.model_validate({**VALID, "silence_timeout_s": seconds}).silence_timeout_s
            == seconds
        )
    else:
        assert errors(silence_timeout_s=seconds) == {
            "silence_timeout_s": "must be between 30 s and 7 days (604800 s)"
        }


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("daily_loss_limit_pct", "a prop rule needs a daily loss limit"),
        ("max_loss_limit_pct", "a prop rule needs a max loss limit"),
        ("prop_profit_target_pct", "a prop rule needs a profit target"),
    ],
)
def test_a_prop_rule_is_complete(missing: str, message: str) -> None:
    assert errors(**{missing: None}) == {missing: message}


def test_any_prop_objective_makes_it_a_prop_rule() -> None:
    # Only a maximum of days: the rest of the rule is missing, each named.
    found = errors(prop_profit_target_pct=None, daily_loss_limit_pct=None, max_loss_limit_pct=None)
    assert found == {
        "prop_profit_target_pct": "a prop rule needs a profit target",
        "daily_loss_limit_pct": "a prop rule needs a daily loss limit",
        "max_loss_limit_pct": "a prop rule needs a max loss limit",
    }


def test_minimum_trading_days_at_most_the_days_allowed() -> None:
    assert errors(prop_min_trading_days=31, prop_max_days=30) == {
        "prop_min_trading_days": "must not exceed the maximum days (30)"
    }
    assert errors(prop_max_days=0) == {"prop_max_days": "must be between 1 and 3650 days"}


def test_a_start_date_needs_a_prop_rule_and_is_not_in_the_future() -> None:
    no_rule = {"prop_profit_target_pct": None, "prop_min_trading_days": None, "prop_max_days": None}
    assert errors(**no_rule) == {"prop_started_at": "only with a prop rule (set a profit target)"}
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert errors(prop_started_at=tomorrow) == {"prop_started_at": "must not be in the future"}
    assert "prop_started_at" in errors(prop_started_at="2026-11-01T00:00:00")  # no offset


@pytest.mark.parametrize(
    ("reason", "message"), [("", "a reason is required"), ("   ", "a reason is required")]
)
def test_a_reason_is_required(reason: str, message: str) -> None:
    assert errors(reason=reason) == {"reason": message}
    with pytest.raises(ValidationError) as caught:
        HwmResetIn(reason=reason)
    assert field_errors(caught.value) == {"reason": message}


def test_a_reason_is_at_most_500_characters_and_kept_trimmed() -> None:
    assert errors(reason="x" * 501) == {"reason": "must be at most 500 characters"}
    assert AccountLimitsIn.model_validate({**VALID, "reason": "  " + "y" * 500 + " "}).reason == "y" * 500
    assert "reason" in errors(reason="bad\x00byte")


def test_every_field_must_be_named_and_nothing_else() -> None:
    body = dict(VALID)
    del body["daily_loss_limit_pct"]
    with pytest.raises(ValidationError) as caught:
        AccountLimitsIn.model_validate(body)
    assert field_errors(caught.value) == {"daily_loss_limit_pct": "Field required"}
    assert "hwm" in errors(hwm="1")


def test_rules_between_fields_are_reported_with_the_fields_own_refusals() -> None:
    """A form shows every problem at once, not the next one after each fix."""
    found = errors(dd_warning_pct="16", day_reset_tz="Mars/Olympus", reason="", daily_loss_limit_pct=None)
    assert found == {
        "dd_critical_pct": "must be above the drawdown warning (16 %)",
        "daily_loss_limit_pct": "a prop rule needs a daily loss limit",
        "day_reset_tz": "must be an IANA time zone such as Europe/Prague, America/New_York or UTC",
        "reason": "a reason is required",
    }
    # A refused value is compared with nothing: 0 days is refused, not also "more than the minimum".
    assert errors(dd_warning_pct="0", prop_max_days=0) == {
        "dd_warning_pct": "must be above 0 and at most 100 (%)",
        "prop_max_days": "must be between 1 and 3650 days",
    }
