"""The coupons package's permission aliases: staff of the merchant a campaign or a redemption
belongs to (`accounts.permissions.staff_of`); strangers get the resource's own 404.
"""

from __future__ import annotations

from typing import Annotated

from accounts.permissions import StaffContext, staff_of
from coupons import service
from coupons.service.errors import CampaignNotFound, RedemptionNotFound

campaign_staff = staff_of("campaign_id", service.campaign_merchant, CampaignNotFound)
redemption_staff = staff_of("redemption_id", service.redemption_merchant, RedemptionNotFound)

CampaignStaff = Annotated[StaffContext, campaign_staff("clerk")]
CampaignManager = Annotated[StaffContext, campaign_staff("manager")]
RedemptionManager = Annotated[StaffContext, redemption_staff("manager")]
