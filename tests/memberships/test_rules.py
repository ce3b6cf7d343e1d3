from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from memberships import cardnumbers, rules
from memberships.service.cards import months_ago

TIERS = [
    rules.TierRule("regular", "普通卡", 0, 0, Decimal(1), None),
    rules.TierRule("silver", "银卡", 1, 5, Decimal("1.5"), 50_000),
    rules.TierRule("gold", "金卡", 2, 10, Decimal(2), 200_000),
]


def test_luhn_known_numbers_and_generated_ones() -> None:
    assert cardnumbers.luhn_check_digit("7992739871") == "3"
    assert cardnumbers.is_valid_card_number("4539578763621486")
    for _ in range(200):
        number = cardnumbers.new_card_number()
        assert len(number) == 16 and number.startswith("8")
        assert cardnumbers.is_valid_card_number(number)
        typo = number[:5] + str((int(number[5]) + 1) % 10) + number[6:]
        assert not cardnumbers.is_valid_card_number(typo)
    assert cardnumbers.mask_card_number("8123456789014567") == "8123 **** **** 4567"
    assert cardnumbers.normalise_card_number("8123 4567-8901 4567") == "8123456789014567"


def test_discount_and_points() -> None:
    assert rules.discounted(10_000, 10) == (9_000, 1_000)
    assert rules.discounted(999, 15) == (850, 149)  # the discount rounds down
    assert rules.points_earned(9_999, Decimal(1)) == 99  # whole units only
    assert rules.points_earned(1_000, Decimal("1.5")) == 15
    assert rules.points_earned(300, Decimal("1.5")) == 4  # 4.5 rounds down
    assert rules.points_earned(99, Decimal(10)) == 0
    assert rules.points_value(250, 100) == 250  # 250 points at 100/yuan → 2.50 CNY


@pytest.mark.parametrize(
    ("rule", "expected"),
    [("principal_first", (700, 300)), ("bonus_first", (0, 1000)), ("proportional", (834, 166))],
)
def test_balance_split_rules(rule: str, expected: tuple[int, int]) -> None:
    assert (
        rules.split_balance_spend(1_000, 700 if rule == "principal_first" else 5_000, 1_000, rule)
        == expected
    )


def test_balance_split_never_overdraws_a_purse() -> None:
    for principal in range(0, 50, 7):
        for bonus in range(0, 50, 5):
            for amount in range(0, principal + bonus + 1):
                for rule in rules_list():
                    p, b = rules.split_balance_spend(amount, principal, bonus, rule)
                    assert p + b == amount and 0 <= p <= principal and 0 <= b <= bonus
    with pytest.raises(ValueError):
        rules.split_balance_spend(11, 5, 5, "bonus_first")


def rules_list() -> tuple[str, ...]:
    return ("principal_first", "bonus_first", "proportional")


def test_topup_bonus_takes_the_best_rule_reached() -> None:
    table = [(50_000, 5_000), (100_000, 15_000)]
    assert rules.topup_bonus(49_999, table) == 0
    assert rules.topup_bonus(50_000, table) == 5_000
    assert rules.topup_bonus(150_000, table) == 15_000


def test_tier_upgrade_at_the_threshold() -> None:
    assert rules.tier_after_spend(TIERS, 0, 49_999) is None
    upgraded = rules.tier_after_spend(TIERS, 0, 50_000)
    assert upgraded is not None and upgraded.code == "silver"
    jumped = rules.tier_after_spend(TIERS, 0, 200_000)
    assert jumped is not None and jumped.code == "gold"  # straight to the highest reached
    assert rules.tier_after_spend(TIERS, 2, 0) is None  # never a downgrade
    following = rules.next_tier(TIERS, 1)
    assert following is not None and following.code == "gold"
    assert rules.next_tier(TIERS, 2) is None
    assert rules.entry_tier(TIERS).code == "regular"


def test_tier_review_up_down_and_hand_given_tiers() -> None:
    def review(rank: int, spend: int, downgrade: bool = True) -> str | None:
        target = rules.tier_after_review(TIERS, rank, spend, downgrade=downgrade)
        return target.code if target else None

    assert review(0, 200_000) == "gold" and review(1, 50_000) is None  # up, or stay at edge
    assert review(2, 199_999) == "silver" and review(2, 49_999) == "regular"
    assert review(2, 199_999, downgrade=False) is None
    assert review(1, 0) == "regular" and review(0, 0) is None
    # a hand-given tier without a threshold above the entry tier: nobody falls into or out of it
    staff = [*TIERS, rules.TierRule("staff", "员工", 3, 30, Decimal(1), None)]
    assert rules.tier_after_review(staff, 3, 0, downgrade=True) is None
    target = rules.tier_after_review(staff, 2, 60_000, downgrade=True)
    assert target is not None and target.code == "silver"


def test_fifo_expiry_amount() -> None:
    assert rules.points_to_expire(points=120, earned_before_cutoff=100, consumed=30) == 70
    assert rules.points_to_expire(points=50, earned_before_cutoff=100, consumed=100) == 0
    assert rules.points_to_expire(points=10, earned_before_cutoff=100, consumed=0) == 10


def test_months_ago_clamps_to_month_end() -> None:
    assert months_ago(datetime(2026, 3, 31, 8, tzinfo=UTC), 1) == datetime(
        2026, 2, 28, 8, tzinfo=UTC
    )
    assert months_ago(datetime(2026, 1, 15, tzinfo=UTC), 12) == datetime(2025, 1, 15, tzinfo=UTC)
    assert months_ago(datetime(2028, 2, 29, tzinfo=UTC), 12) == datetime(2027, 2, 28, tzinfo=UTC)
