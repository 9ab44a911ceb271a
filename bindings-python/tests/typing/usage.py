"""Checked by mypy (tests/test_typing.py), never run: the generated stubs type what users write.

Lines marked ``# type: ignore[code]`` are mistakes the stubs must catch; mypy runs with
``--warn-unused-ignores``, so if a stub stops catching one, the ignore becomes "unused" and the
check fails.
"""

from typing import Any

from weixin_kit import (
    AsyncComponentClient,
    AsyncMiniProgramClient,
    AsyncPayClient,
    ComponentClient,
    MiniProgramClient,
    PayClient,
)
from weixin_kit._generated.component import QueryAuthResponse
from weixin_kit._generated.mp import AddCardListItem
from weixin_kit._generated.pay import ModifyCustomEntrance, SetCouponNotifyResponse


def pay_usage(pay: PayClient) -> None:
    entrance: ModifyCustomEntrance = {
        "mini_programs_info": {
            "mini_programs_appid": "wx234545656765876",
            "mini_programs_path": "/path/index/index",
            "entrance_words": "欢迎选购",
        },
        "code_display_mode": "BARCODE",
    }
    pay.busifavor.modify_stock_info(
        stock_id="101156451224", out_request_no="1", custom_entrance=entrance
    )
    notify: SetCouponNotifyResponse = pay.busifavor.set_coupon_notify(notify_url="https://x/cb")
    url: str = notify["notify_url"]
    upload = pay.media.marketing_image_upload(filename="a.png", file=b"\x89PNG")
    media_url: str = upload["media_url"]

    # Mistakes the stubs catch:
    pay.busifavor.modify_stock_info(stock_id="1")  # type: ignore[call-arg]
    pay.busifavor.modify_stock_info(stock_id="1", out_request_no="1", coment="x")  # type: ignore[call-arg]
    pay.busifavor.modify_stock_info(stock_id=1, out_request_no="1")  # type: ignore[arg-type]
    pay.busifavor.modify_stock_info(
        stock_id="1",
        out_request_no="1",
        custom_entrance={"code_display_mode": "HOLOGRAM"},  # type: ignore[arg-type]
    )
    wrong: int = notify["update_time"]  # type: ignore[assignment]
    notify["no_such_field"]  # type: ignore[typeddict-item]
    pay.busifavor.no_such_operation()  # type: ignore[attr-defined]
    del url, media_url, wrong


def mp_usage(mp: MiniProgramClient, ext: dict[str, Any]) -> None:
    mp.service_card.set_user_notify_ext(
        openid="o", notify_type=1003, notify_code="c", ext_json=ext
    )
    mp.service_card.set_user_notify_ext(
        openid="o", notify_type=1003, notify_code="c", ext_json='{"a": "b"}'
    )
    item: AddCardListItem = mp.card.card_ext(card_id="pFS7Fjg8kV1IdDz01r4SQwMkuCKc")
    card_ext: str = item["cardExt"]
    ticket = mp.card.get_ticket(type="wx_card")
    del card_ext, ticket

    mp.card.get_ticket(type="wx_cards")  # type: ignore[arg-type]
    mp.card.card_ext(card_id="x", openid=5)  # type: ignore[arg-type]


async def async_usage(pay: AsyncPayClient, mp: AsyncMiniProgramClient) -> None:
    await pay.busifavor.modify_stock_info(stock_id="1", out_request_no="1")
    notify: SetCouponNotifyResponse = await pay.busifavor.set_coupon_notify(notify_url="u")
    item: AddCardListItem = await mp.card.card_ext(card_id="x")
    del notify, item

    # Forgetting `await` leaves a coroutine, not the result:
    not_awaited: SetCouponNotifyResponse = pay.busifavor.set_coupon_notify(notify_url="u")  # type: ignore[assignment]
    del not_awaited


def constructor_usage(pem: bytes) -> None:
    PayClient(mchid="1", serial_no="s", private_key=pem, timeout=3.5, max_attempts=1)
    MiniProgramClient(appid="wx1", token_provider=lambda: "token", token_store="memory://")
    ComponentClient(component_appid="wx1", component_appsecret="s", token="t")

    # Mistakes the generated constructors catch:
    ComponentClient(component_appid="wx1")  # type: ignore[call-arg]
    ComponentClient(component_appid="wx1", component_appsecret="s", appid="x")  # type: ignore[call-arg]
    MiniProgramClient(appid="wx1", max_attempts="3")  # type: ignore[arg-type]
    PayClient("1", "s")  # type: ignore[misc]


def component_usage(platform: ComponentClient, aplatform: AsyncComponentClient) -> None:
    event = platform.parse_push(b"timestamp=1&nonce=2", b"<xml/>")
    code: str = event["authorization_code"]
    merchant: MiniProgramClient = platform.authorizer(platform.authorize(code)["authorizer_appid"])
    merchant.service_card.set_user_notify_ext(
        openid="o", notify_type=1003, notify_code="c", ext_json={}
    )
    auth: QueryAuthResponse = platform.component.query_auth(
        component_appid="wx1", authorization_code=code
    )
    amerchant: AsyncMiniProgramClient = aplatform.authorizer("wx2")
    del auth, amerchant

    platform.component.query_auth(component_appid="wx1")  # type: ignore[call-arg]
    wrong: AsyncMiniProgramClient = platform.authorizer("wx2")  # type: ignore[assignment]
    del wrong
