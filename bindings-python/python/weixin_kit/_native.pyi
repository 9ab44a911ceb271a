# Stub of the native module weixin_kit._native (bindings-python/src). Hand-written: the native
# API is generic (operations are called by name); the typed per-operation surface is the
# generated weixin_kit._generated package. Errors are the classes of weixin_kit.errors.

from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional, Tuple, Union, final

__all__ = [
    "__version__",
    "ClientCore",
    "SandboxCore",
    "error_kinds",
    "build_authorization",
    "verify_signature",
    "decrypt_resource",
    "sign_card_ext",
    "cli_main",
]

__version__: str

_Body = Union[bytes, bytearray, str]

@final
class ClientCore:
    """A bridge client: family "pay", "mp" or "component", the configuration keys, optional
    callbacks."""

    def __new__(
        cls,
        family: str,
        config: Mapping[str, Any],
        *,
        token_provider: Optional[Callable[[], Any]] = None,
        signer: Optional[Callable[[str], Any]] = None,
        card_token_provider: Optional[Callable[[], Any]] = None,
    ) -> ClientCore: ...
    @property
    def info(self) -> Dict[str, Any]: ...
    def call(self, name: str, args: Optional[Dict[str, Any]] = None) -> Any: ...
    def call_async(self, name: str, args: Optional[Dict[str, Any]] = None) -> Awaitable[Any]: ...
    def authorizer(self, authorizer_appid: str) -> ClientCore: ...

@final
class SandboxCore:
    def __new__(cls) -> SandboxCore: ...
    @property
    def base_url(self) -> str: ...
    @property
    def backup_base_url(self) -> str: ...
    @property
    def closed(self) -> bool: ...
    def control(self, method: str, path: str, body: Any = None) -> Any: ...
    def close(self) -> None: ...

def error_kinds() -> List[Tuple[str, List[str]]]: ...
def build_authorization(
    mchid: str,
    serial_no: str,
    private_key: str,
    method: str,
    url: str,
    body: _Body,
    timestamp: int,
    nonce: str,
) -> str: ...
def verify_signature(
    public_key: str, timestamp: Union[str, int], nonce: str, body: _Body, signature: str
) -> bool: ...
def decrypt_resource(apiv3_key: str, nonce: str, associated_data: str, ciphertext: str) -> str: ...
def sign_card_ext(
    api_ticket: str,
    card_id: str,
    timestamp: int,
    nonce_str: str,
    code: Optional[str] = None,
    openid: Optional[str] = None,
) -> str: ...
def cli_main(argv: List[str]) -> int: ...
def _crypto_floor(private_key: str, public_key: str, seconds: float) -> Tuple[float, float]: ...
def _set_log_sink(
    emit: Optional[Callable[[str, str, str, Dict[str, Any]], None]], level: Optional[str]
) -> bool: ...
def _set_log_level(level: Optional[str]) -> None: ...
