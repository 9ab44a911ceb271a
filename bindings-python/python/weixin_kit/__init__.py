"""weixin-kit: WeChat Pay APIv3 and mini-program server APIs, on one Rust core.

- :class:`PayClient` / :class:`AsyncPayClient`: WeChat Pay (商家券 …), signed and verified.
- :class:`MiniProgramClient` / :class:`AsyncMiniProgramClient`: mini-program APIs (服务卡片,
  卡券 …), access tokens handled.
- :class:`ComponentClient` / :class:`AsyncComponentClient`: a third-party platform (第三方平台):
  authorization pushes, component and authorizer tokens, mini-program calls as an authorizer.
- :mod:`weixin_kit.errors`: one exception class per kind of error.
- :mod:`weixin_kit.crypto`: the signing and decryption functions, for your own HTTP.
- :mod:`weixin_kit.testing`: an in-process WeChat sandbox for your tests.
- logging: every call's answers, retries and verification verdicts as records of the
  ``weixin_kit`` logger (:func:`refresh_log_level` after changing its level).

Arguments and results use the APIs' wire names (``stock_id``, ``out_request_no``).
"""

from . import _logging, crypto, errors
from ._clients import (
    AsyncComponentClient,
    AsyncMiniProgramClient,
    AsyncPayClient,
    ComponentClient,
    MiniProgramClient,
    PayClient,
)
from ._logging import refresh_log_level
from ._native import __version__
from .errors import (
    ApiError,
    CallbackError,
    ConfigError,
    MiniProgramError,
    NotAuthorizedError,
    ReplayError,
    SignatureError,
    TimeoutError,
    TransportError,
    UnexpectedResponseError,
    ValidationError,
    WeixinKitError,
)

__all__ = [
    "__version__",
    "PayClient",
    "AsyncPayClient",
    "MiniProgramClient",
    "AsyncMiniProgramClient",
    "ComponentClient",
    "AsyncComponentClient",
    "WeixinKitError",
    "ApiError",
    "MiniProgramError",
    "SignatureError",
    "ValidationError",
    "TransportError",
    "TimeoutError",
    "ConfigError",
    "UnexpectedResponseError",
    "CallbackError",
    "ReplayError",
    "NotAuthorizedError",
    "crypto",
    "errors",
    "refresh_log_level",
]

# Records of the ``weixin_kit`` logger (see ``weixin_kit._logging``).
_logging.install()
