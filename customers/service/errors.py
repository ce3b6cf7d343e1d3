"""The customers package's domain errors: stable snake_case codes, zh-CN/en titles."""

from __future__ import annotations

from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from core.i18n import Words

# enum values said in words (the codes stay in the API)
FOLLOW_UP_METHOD = Words(
    {
        "phone": ("电话", "phone"),
        "sms": ("短信", "text message"),
        "wechat": ("微信", "WeChat"),
        "visit": ("上门拜访", "visit"),
        "email": ("邮件", "email"),
    }
)


class SegmentNotFound(NotFound):
    code, title = "segment_not_found", "Segment not found"
    title_zh = "客户分群不存在"


class CustomerNotFound(NotFound):
    code, title = "customer_not_found", "Customer not found"
    title_zh = "客户不存在"


class CustomerRefusesCalls(Conflict):
    code, title = "customer_refuses_calls", "This customer accepts follow-ups by SMS or email only"
    title_zh = "该客户拒绝电话/上门回访，只能通过短信或邮件回访"


class FollowUpTaskNotFound(NotFound):
    code, title = "follow_up_task_not_found", "Follow-up task not found"
    title_zh = "回访任务不存在"


class FollowUpTaskNotPending(Conflict):
    code, title = "follow_up_task_not_pending", "This follow-up task is already done or cancelled"
    title_zh = "该回访任务已完成或已取消"


class FollowUpPlanNotFound(NotFound):
    code, title = "follow_up_plan_not_found", "Follow-up plan not found"
    title_zh = "回访计划不存在"


class ComplaintNotFound(NotFound):
    code, title = "complaint_not_found", "Complaint not found"
    title_zh = "投诉不存在"


COMPLAINT_STATUS = Words(
    {
        "open": ("待处理", "open"),
        "responded": ("已回复", "responded"),
        "resolved": ("已解决", "resolved"),
        "closed": ("已关闭", "closed"),
    }
)


class ComplaintTransitionInvalid(Conflict):
    code, title = "complaint_transition_invalid", "The complaint cannot move to that status"
    title_zh = "投诉状态不允许这样变更"


class ComplaintClosed(Conflict):
    code, title = "complaint_closed", "The complaint is closed"
    title_zh = "投诉已关闭"


class PhoneSearchTooPartial(InvalidInput):
    code = "phone_search_too_partial"
    title = "Search a masked phone by the whole number or its last four digits"
    title_zh = "请输入完整手机号或手机尾号后四位"

    def __init__(self) -> None:
        super().__init__(loc=["query", "q"])


class CustomerExists(Conflict):
    code, title = "customer_exists", "A customer with this phone already exists"
    title_zh = "该手机号的客户已存在"


class AssigneeNotStaff(InvalidInput):
    code = "assignee_not_staff"
    title = "The assignee must be a staff member of this merchant"
    title_zh = "指派对象必须是本商户的员工"

    def __init__(self) -> None:
        super().__init__(loc=["body", "assignee"])


class AssignmentManagersOnly(Forbidden):
    code = "assignment_managers_only"
    title = "Clerks may only take unassigned work or give back their own"
    title_zh = "店员只能认领未指派的工作或退回自己的工作，指派他人需店长或以上角色"


class AssigneeFilterInvalid(InvalidInput):
    code = "assignee_filter_invalid"
    title = "Filter by a staff member's user id, me or none"
    title_zh = "负责人筛选应为员工的用户编号、me 或 none"

    def __init__(self) -> None:
        super().__init__(loc=["query", "assignee"])
