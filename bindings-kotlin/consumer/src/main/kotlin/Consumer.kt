import dev.weixinkit.ApiError
import dev.weixinkit.ModifyStockInfoRequest
import dev.weixinkit.PayClient
import dev.weixinkit.PayConfig
import dev.weixinkit.SetCouponNotifyRequest
import dev.weixinkit.testing.Sandbox
import kotlinx.coroutines.runBlocking

fun main() = runBlocking {
    Sandbox.start().use { sb ->                    // a local WeChat server speaking the real protocol
        val c = sb.credentials                     // in production: your merchant's values
        val config = PayConfig(
            mchid = c.mchid,
            serialNo = c.serialNo,                 // merchant API certificate serial
            privateKey = c.merchantPrivateKey,     // apiclient_key.pem
            wechatpayPublicKeyId = c.wechatpayPublicKeyId,
            wechatpayPublicKey = c.wechatpayPublicKey,
            apiv3Key = c.apiv3Key,
            baseUrl = sb.baseUrl,                  // leave out in production
        )
        PayClient(config).use { pay ->             // one client per merchant, shared by every coroutine
            sb.createStock("1212121212")
            pay.busifavor.modifyStockInfo(         // 204 → Unit
                stockId = "1212121212",
                body = ModifyStockInfoRequest(outRequestNo = "1900000109202411260001", comment = "活动使用"),
            )
            val r = pay.busifavor.setCouponNotify(SetCouponNotifyRequest(notifyUrl = "https://example.com/wx/coupon"))
            println("consumer: ModifyStockInfo ok, notify_url ${r.notifyUrl}")
            try {
                pay.busifavor.modifyStockInfo("404404404", ModifyStockInfoRequest(outRequestNo = "n2", comment = "x"))
            } catch (e: ApiError) {
                println("consumer: ${e.status} ${e.code}: ${e.solution}")
            }
        }
    }
}
