"""The merchants package's domain errors: stable snake_case codes, zh-CN/en titles."""

from __future__ import annotations

from core.errors import Conflict, DomainError, InvalidInput, NotFound


class ReviewExists(Conflict):
    code = "review_exists"
    title = "You already reviewed this (one review per consumption, one general review per shop)"
    title_zh = "您已评价过（每次消费一条评价，每家门店一条普通评价）"


class ReviewNotFound(NotFound):
    code, title = "review_not_found", "Review not found"
    title_zh = "评价不存在"


class InvalidImage(DomainError):
    status, code, title = 422, "invalid_image", "The upload is not an acceptable image"
    title_zh = "上传的文件不是可接受的图片"


class PhotoNotFound(NotFound):
    code, title = "photo_not_found", "Photo not found"
    title_zh = "图片不存在"


class OfferingNotFound(NotFound):
    code, title = "offering_not_found", "Offering not found"
    title_zh = "服务或商品不存在"


class ShopNotFound(NotFound):
    code, title = "shop_not_found", "Shop not found"
    title_zh = "门店不存在"


class DiscoveryOnlyShop(NotFound):
    """Public-service places are found by search but never sell (no coupons, cards, orders)."""

    status = 409
    code, title = "shop_discovery_only", "This place is listed for discovery only"
    title_zh = "该地点仅供查找，不提供交易"


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
