"""The merchants package's permission aliases: staff of the merchant a shop, a review, an
offering or a photo belongs to (`accounts.permissions.staff_of`). A caller who is not staff
there gets the resource's own 404, the same as for a missing resource: existence does not leak.
"""

from __future__ import annotations

from typing import Annotated

from accounts.permissions import StaffContext, staff_of
from merchants import service

shop_staff = staff_of("shop_id", service.merchant_of_shop, service.ShopNotFound)
review_staff = staff_of("review_id", service.merchant_of_review, service.ReviewNotFound)
offering_staff = staff_of("offering_id", service.merchant_of_offering, service.OfferingNotFound)
photo_staff = staff_of("photo_id", service.merchant_of_photo, service.PhotoNotFound)

ShopManager = Annotated[StaffContext, shop_staff("manager")]
ReviewManager = Annotated[StaffContext, review_staff("manager")]
OfferingManager = Annotated[StaffContext, offering_staff("manager")]
PhotoManager = Annotated[StaffContext, photo_staff("manager")]
