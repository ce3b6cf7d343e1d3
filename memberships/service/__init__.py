"""The rules of membership cards, split by concept; other packages import from here."""

from memberships.repository.ledger import LedgerDayLine, ledger_lines
from memberships.service.cards import (
    access_card,
    get_card,
    issue_qr_token,
    join_program,
    my_cards,
    set_pin,
    tier_members,
    tier_members_select,
)
from memberships.service.counter import (
    counter_transaction,
    look_up_card,
    sell_count_pass,
    sell_topup,
)
from memberships.service.counts import (
    COUNT_PASS_PREFIX,
    apply_count_pass_event,
    buy_count_pass,
    card_count_passes,
    create_count_product,
    list_count_products,
    set_count_product_active,
)
from memberships.service.designs import card_png, get_design, preview_png, set_design
from memberships.service.errors import ProgramRequired
from memberships.service.expiry import expire_card_points
from memberships.service.ledger import (
    adjust_points,
    is_own_card_transaction,
    ledger_page,
    reverse_transaction,
)
from memberships.service.member_book import (
    MemberImportTally,
    check_book_columns,
    import_members,
)
from memberships.service.members import (
    grant_card,
    link_new_user,
    load_program,
    lookup_members,
)
from memberships.service.orders import (
    OrderCard,
    OrderEarning,
    card_for_order,
    credit_order_purchase,
    return_order_points,
    spend_points_for_order,
)
from memberships.service.page import programs_for_shop_page
from memberships.service.personal_data import (
    export_personal_data,
    forfeit_stored_value,
    stored_value,
)
from memberships.service.physical import (
    ImportTally,
    bind_physical_card,
    import_batch,
    import_physical_cards,
)
from memberships.service.pin_reset import reset_pin_with_code, send_pin_code
from memberships.service.programs import (
    create_program,
    get_program,
    list_programs,
    list_rule_versions,
    program_merchant,
    update_program,
)
from memberships.service.tiers import review_card_tier, tier_history
from memberships.service.topups import (
    apply_topup_event,
    refund_stored_value,
    start_topup,
)

__all__ = [
    "review_card_tier",
    "tier_history",
    "LedgerDayLine",
    "ledger_lines",
    "export_personal_data",
    "forfeit_stored_value",
    "stored_value",
    "MemberImportTally",
    "ProgramRequired",
    "check_book_columns",
    "grant_card",
    "import_members",
    "link_new_user",
    "load_program",
    "lookup_members",
    "programs_for_shop_page",
    "COUNT_PASS_PREFIX",
    "ImportTally",
    "apply_count_pass_event",
    "bind_physical_card",
    "buy_count_pass",
    "card_count_passes",
    "create_count_product",
    "import_batch",
    "import_physical_cards",
    "list_count_products",
    "set_count_product_active",
    "OrderCard",
    "OrderEarning",
    "card_for_order",
    "credit_order_purchase",
    "return_order_points",
    "spend_points_for_order",
    "access_card",
    "adjust_points",
    "apply_topup_event",
    "card_png",
    "counter_transaction",
    "sell_count_pass",
    "sell_topup",
    "look_up_card",
    "send_pin_code",
    "reset_pin_with_code",
    "create_program",
    "expire_card_points",
    "get_card",
    "get_design",
    "get_program",
    "is_own_card_transaction",
    "issue_qr_token",
    "join_program",
    "ledger_page",
    "list_programs",
    "list_rule_versions",
    "update_program",
    "my_cards",
    "preview_png",
    "tier_members",
    "tier_members_select",
    "program_merchant",
    "refund_stored_value",
    "reverse_transaction",
    "set_design",
    "set_pin",
    "start_topup",
]
