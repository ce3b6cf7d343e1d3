"""The push package's rules, split by concept; other packages import from here."""

from push.service.areas import (
    forget_locations,
    learn_pending_areas,
    list_activity_areas,
    purge_expired_locations,
    record_ping,
)
from push.service.birthdays import get_rule as get_birthday_rule
from push.service.birthdays import list_greetings as list_birthday_greetings
from push.service.birthdays import put_rule as put_birthday_rule
from push.service.devices import DeviceNotFound, register_device, remove_device
from push.service.offers import (
    AudienceNotAvailable,
    CampaignNotFlash,
    FlashOfferNotFound,
    create_flash_offer,
    describe_offer,
    mark_opened,
    offer_merchant,
    received_offers,
    register_tier_audience,
)
from push.service.personal_data import erase_personal_data, export_personal_data
from push.service.subscriptions import (
    follow_merchant,
    get_subscription,
    put_subscription,
    unfollow_merchant,
)

__all__ = [
    "get_birthday_rule",
    "list_birthday_greetings",
    "put_birthday_rule",
    "erase_personal_data",
    "export_personal_data",
    "AudienceNotAvailable",
    "CampaignNotFlash",
    "DeviceNotFound",
    "FlashOfferNotFound",
    "create_flash_offer",
    "describe_offer",
    "follow_merchant",
    "forget_locations",
    "get_subscription",
    "learn_pending_areas",
    "list_activity_areas",
    "mark_opened",
    "offer_merchant",
    "received_offers",
    "purge_expired_locations",
    "put_subscription",
    "record_ping",
    "register_tier_audience",
    "register_device",
    "remove_device",
    "unfollow_merchant",
]
