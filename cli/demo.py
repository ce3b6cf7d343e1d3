"""Idempotent demo data: a few merchants around Jing'an, Shanghai, and their people.

Every row is found by a natural key first, so running it twice changes nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from accounts import schemas as account_schemas
from accounts import service as accounts
from accounts.service import UserExists
from core.database import create_engine, create_sessionmaker
from core.money import Money
from core.settings import Settings
from core.timezones import utcnow
from geo.schemas import LatLng
from merchants import schemas as shop_schemas
from merchants import service as shops

DEMO_PASSWORD = "corner-demo-2026"

DEMO_PEOPLE = [
    ("13800000001", "王老板 (owner)"),
    ("13800000002", "李店员 (clerk)"),
    ("13800000003", "张小姐 (customer)"),
]

DEMO_MERCHANTS = [
    ("老王面馆 Lao Wang Noodles", "13800000001"),
    ("洁净洗衣 Clean Laundry", "13800000001"),
    ("阿强理发 A-Qiang Barber", "13800000001"),
]

_EVERY_DAY = [(d, "09:00", "21:30") for d in range(7)]
# merchant -> shops around Jing'an (WGS-84): name, category, lat, lng, address, hours, offerings
DEMO_SHOPS: dict[str, list[dict[str, Any]]] = {
    "老王面馆 Lao Wang Noodles": [
        {"name": "老王面馆 静安寺店", "category": "noodles", "lat": 31.2236, "lng": 121.4455,
         "address": "上海市静安区愚园路68号", "hours": [(d, "10:00", "02:00") for d in range(7)],
         "offerings": [("红烧牛肉面 Braised beef noodles", 2800),
                       ("葱油拌面 Scallion oil noodles", 1500)]},
        {"name": "老王面馆 南京西路店", "category": "noodles", "lat": 31.2290, "lng": 121.4560,
         "address": "上海市静安区南京西路1266号", "hours": _EVERY_DAY,
         "offerings": [("大排面 Pork chop noodles", 3200)]},
    ],
    "洁净洗衣 Clean Laundry": [
        {"name": "洁净洗衣 常德路店", "category": "dry_cleaning", "lat": 31.2318, "lng": 121.4470,
         "address": "上海市静安区常德路500号", "hours": _EVERY_DAY,
         "offerings": [("衬衫洗烫 Shirt wash & iron", 1200), ("西装干洗 Suit dry cleaning", 4500)]},
    ],
    "阿强理发 A-Qiang Barber": [
        {"name": "阿强理发 江宁路店", "category": "barber", "lat": 31.2355, "lng": 121.4520,
         "address": "上海市静安区江宁路300号", "hours": [(d, "10:00", "22:00") for d in range(6)],
         "offerings": [("男士剪发 Men's haircut", 3800), ("洗剪吹 Wash, cut & blow-dry", 6800)]},
    ],
}  # fmt: skip


async def _user(session: AsyncSession, settings: Settings, phone: str, name: str) -> Any:
    data = account_schemas.UserCreate(phone=phone, password=DEMO_PASSWORD, display_name=name)
    try:
        return await accounts.register_user(session, settings=settings, data=data)
    except UserExists:
        return await accounts.find_user_by_login(session, username=phone)


async def _shops(session: AsyncSession, merchant_id: Any, specs: list[dict[str, Any]]) -> int:
    existing = await shops.shop_names_of_merchant(session, merchant_id=merchant_id)
    created = 0
    for spec in specs:
        if spec["name"] in existing:
            continue
        shop = await shops.create_shop(
            session,
            merchant_id=merchant_id,
            data=shop_schemas.ShopCreate(
                name=spec["name"],
                category=spec["category"],
                location=LatLng(lat=spec["lat"], lng=spec["lng"]),
                address=spec["address"],
                opening_hours=[
                    shop_schemas.OpeningPeriod(day=d, open=o, close=c) for d, o, c in spec["hours"]
                ],
            ),
        )
        for name, price in spec["offerings"]:
            await shops.create_offering(
                session,
                merchant_id=merchant_id,
                shop_id=shop.id,
                data=shop_schemas.OfferingCreate(name=name, price=Money.of(price)),
            )
        created += 1
    return created


async def _offers_and_card(
    session: AsyncSession, *, merchant_id: Any, owner_id: Any, customer_id: Any
) -> None:
    """A new demo merchant's published coupon campaign and member card, with the demo
    customer holding a coupon and a card, so the console's counter has something to redeem."""
    from coupons import schemas as coupon_schemas
    from coupons import service as coupons
    from memberships import schemas as card_schemas
    from memberships import service as memberships

    now = utcnow()
    campaign = await coupons.create_campaign(
        session,
        merchant_id=merchant_id,
        created_by=owner_id,
        data=coupon_schemas.CampaignCreate.model_validate(
            {
                "name": "满50减10 Save 10 on 50",
                "discount": {"kind": "amount_off", "value": {"amount": 1000, "currency": "CNY"}},
                "min_spend": {"amount": 5000, "currency": "CNY"},
                "valid_from": now.isoformat(),
                "valid_until": (now + timedelta(days=90)).isoformat(),
                "total_quantity": 500,
            }
        ),
        now=now,
    )
    await coupons.change_status(session, campaign_id=campaign.id, to="published", now=now)
    await coupons.claim(session, campaign_id=campaign.id, user_id=customer_id, now=now)
    program = await memberships.create_program(
        session,
        merchant_id=merchant_id,
        data=card_schemas.ProgramCreate.model_validate(
            {
                "name": "会员卡 Member card",
                "tiers": [
                    {"code": "regular", "name": "普通卡", "rank": 0, "discount_percent": 0,
                     "earn": {"points_per_currency_unit": 1}},
                    {"code": "vip", "name": "贵宾卡", "rank": 1, "discount_percent": 5,
                     "earn": {"points_per_currency_unit": 2},
                     "upgrade": {"min_spend_12m": {"amount": 100000, "currency": "CNY"}}},
                ],
                "redeem": {"points_per_currency_unit": 100},
            }
        ),
    )  # fmt: skip
    await memberships.join_program(session, program_id=program.id, user_id=customer_id, now=now)


async def load_demo(settings: Settings) -> dict[str, Any]:
    now = utcnow()
    engine = create_engine(settings, pool_size=2, max_overflow=0)
    try:
        async with create_sessionmaker(engine).begin() as session:
            users = {p: await _user(session, settings, p, n) for p, n in DEMO_PEOPLE}
            owner = users["13800000001"]
            existing = {m.name for m, _ in await accounts.merchants_of(session, user_id=owner.id)}
            created = 0
            for name, owner_phone in DEMO_MERCHANTS:
                if name in existing:
                    continue
                merchant = await accounts.create_merchant(
                    session,
                    owner_id=users[owner_phone].id,
                    data=account_schemas.MerchantCreate(name=name),
                )
                # staff membership is an invitation the clerk accepts
                invitation = await accounts.invite_staff(
                    session,
                    merchant_id=merchant.id,
                    granter_role="owner",
                    invited_by=users[owner_phone].id,
                    data=account_schemas.StaffCreate(phone="13800000002", role="clerk"),
                    now=now,
                )
                await accounts.accept_invitation(
                    session, user_id=users["13800000002"].id, invitation_id=invitation.id, now=now
                )
                await _offers_and_card(
                    session,
                    merchant_id=merchant.id,
                    owner_id=users[owner_phone].id,
                    customer_id=users["13800000003"].id,
                )
                created += 1
            shops_created = 0
            for merchant, _ in await accounts.merchants_of(session, user_id=owner.id):
                shops_created += await _shops(
                    session, merchant.id, DEMO_SHOPS.get(merchant.name, [])
                )
        return {
            "users": len(users),
            "merchants_created": created,
            "shops_created": shops_created,
            "password": DEMO_PASSWORD,
        }
    finally:
        await engine.dispose()
