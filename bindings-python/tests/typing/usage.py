"""Checked by mypy (tests/test_typing.py), never run: the generated stubs type what users write.

Lines marked ``# type: ignore[code]`` are mistakes the stubs must catch; mypy runs with
``--warn-unused-ignores``, so if a stub stops catching one, the ignore becomes "unused" and the
check fails.
"""

from typing import Any

from weixin_kit import AsyncMiniProgramClient, AsyncPayClient, MiniProgramClient, PayClient
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
