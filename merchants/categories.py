"""The category tree: stable codes with zh-CN and en labels (seed 003, phase 1)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Category:
    code: str
    zh: str
    en: str
    children: tuple[Category, ...] = field(default=())


TREE: tuple[Category, ...] = (
    Category("dining", "餐饮美食", "Dining", (
        Category("noodles", "面馆", "Noodles"),
        Category("restaurant", "中餐馆", "Chinese restaurant"),
        Category("fast_food", "快餐小吃", "Fast food & snacks"),
        Category("cafe", "咖啡茶饮", "Cafés & tea"),
        Category("bakery", "面包甜点", "Bakery & desserts"),
    )),
    Category("laundry", "洗衣洗涤", "Laundry", (
        Category("dry_cleaning", "干洗", "Dry cleaning"),
        Category("self_service_laundry", "自助洗衣", "Self-service laundry"),
    )),
    Category("hair_beauty", "美发美容", "Hair & beauty", (
        Category("barber", "理发店", "Barber"),
        Category("beauty_salon", "美容院", "Beauty salon"),
        Category("nails", "美甲", "Nails"),
    )),
    Category("lodging", "住宿", "Lodging", (
        Category("hotel", "酒店", "Hotel"),
        Category("guesthouse", "民宿", "Guesthouse"),
    )),
    Category("public_service", "公共服务", "Public services", (
        Category("bank", "银行", "Bank"),
        Category("post_office", "邮局", "Post office"),
        Category("clinic", "诊所", "Clinic"),
        Category("pharmacy", "药店", "Pharmacy"),
    )),
    Category("fitness", "健身运动", "Fitness", (
        Category("gym", "健身房", "Gym"),
        Category("yoga", "瑜伽", "Yoga"),
    )),
    Category("auto_service", "汽车服务", "Auto services", (
        Category("car_wash", "洗车", "Car wash"),
        Category("auto_repair", "汽车维修", "Auto repair"),
    )),
    Category("real_estate", "房产中介", "Real estate", (
        Category("rental_agency", "租房中介", "Rental agency"),
    )),
    Category("retail", "零售便利", "Retail", (
        Category("convenience_store", "便利店", "Convenience store"),
        Category("grocery", "生鲜果蔬", "Grocery"),
    )),
)  # fmt: skip


def _walk(nodes: tuple[Category, ...], parent: str | None) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for node in nodes:
        found[node.code] = parent
        found.update(_walk(node.children, node.code))
    return found


PARENT_OF: dict[str, str | None] = _walk(TREE, None)


def is_known(code: str) -> bool:
    return code in PARENT_OF


def with_descendants(code: str) -> list[str]:
    """The code and every code below it (filtering by `dining` includes `noodles`)."""
    return [c for c in PARENT_OF if c == code or _has_ancestor(c, code)]


def _has_ancestor(code: str, ancestor: str) -> bool:
    parent = PARENT_OF.get(code)
    while parent is not None:
        if parent == ancestor:
            return True
        parent = PARENT_OF.get(parent)
    return False
