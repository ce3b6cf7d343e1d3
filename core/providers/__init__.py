"""Real providers behind core's interfaces, each through the provider's own SDK and a base-URL
setting (tests and `corner dev` point it at core/standins/). Importing this package registers
the payment providers in core.payments.PROVIDER_FACTORIES."""

from core.providers import alipay as alipay
from core.providers import aliyun_sms as aliyun_sms
from core.providers import wechatpay as wechatpay
