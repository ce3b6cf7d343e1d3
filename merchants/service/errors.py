"""Errors of the merchants package's newer rules (catalog edits, special hours)."""

from __future__ import annotations

from core.errors import Conflict, InvalidInput


class PriceNotPositive(InvalidInput):
    code, title = "price_not_positive", "The price must be more than zero"
    title_zh = "价格必须大于零"


class SpecialHoursOverlap(InvalidInput):
    code, title = "special_hours_overlap", "Two special-hours entries overlap"
    title_zh = "特殊营业时间有重叠"


class OfferingArchived(Conflict):
    code, title = "offering_archived", "This offering is no longer sold"
    title_zh = "该服务或商品已下架"


class PhotoOrderInvalid(InvalidInput):
    code, title = "photo_order_invalid", "The photo order names photos of another shop"
    title_zh = "图片排序包含不属于该门店的图片"
