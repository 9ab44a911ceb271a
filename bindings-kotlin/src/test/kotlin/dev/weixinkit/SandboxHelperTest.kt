package dev.weixinkit

import dev.weixinkit.testing.Credentials
import dev.weixinkit.testing.Sandbox
import kotlinx.coroutines.runBlocking
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.buildJsonObject
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse

/**
 * The Sandbox helper itself: lifecycle, credentials, configured clients, stocks, media, faults,
 * signing mode, counters and log, the mini-program controls and the CompletableFuture forms,
 * each with an effect observed over HTTP, through a client, or through another helper method.
 */
class SandboxHelperTest : SandboxTest() {
    private val http = HttpClient.newHttpClient()

    private fun get(url: String): HttpResponse<String> =
        http.send(HttpRequest.newBuilder(URI.create(url)).GET().build(), HttpResponse.BodyHandlers.ofString())

    @Test
    fun `start and stop - both listeners serve until stop, which is idempotent, and two sandboxes are independent`() = runBlocking<Unit> {
        val a = Sandbox.start()
        val b = Sandbox.startAsync().get()
        try {
            assertNotEquals(a.baseUrl, a.backupBaseUrl)
            for (url in listOf(a.baseUrl, a.backupBaseUrl)) assertEquals(200, get("$url/sandbox/counters").statusCode())
            assertNotEquals(a.credentials.apiv3Key, b.credentials.apiv3Key)
            a.createStock("111111111111")
            assertNull(b.stock("111111111111"))
            assertFalse(a.stopped)
        } finally {
            a.stop()
            a.stop()
            b.stopAsync().get()
        }
        assertTrue(a.stopped)
        assertTrue(b.stopped)
        assertTrue(runCatching { get("${a.baseUrl}/sandbox/counters") }.isFailure)
        assertTrue(runCatching { get("${b.backupBaseUrl}/sandbox/counters") }.isFailure)
        a.close()
        b.close()
    }

    @Test
    fun `credentials are the documented keys, as the control API serves them over HTTP, toString hides the secrets`() {
        val overHttp = parse(get("${sb.baseUrl}/sandbox/client/credentials").body()).jsonObject
        assertEquals(testJson.encodeToJsonElement(Credentials.serializer(), sb.credentials), overHttp)
        assertEquals(
            setOf(
                "mchid", "serial_no", "merchant_private_key", "wechatpay_public_key_id", "wechatpay_public_key", "apiv3_key",
                "appid", "secret", "platform_serial_no", "platform_certificate", "card_appid", "card_secret",
            ),
            overHttp.keys,
        )
        assertTrue(sb.credentials.platformCertificate.startsWith("-----BEGIN CERTIFICATE-----"))
        assertTrue(sb.credentials.wechatpayPublicKeyId.startsWith("PUB_KEY_ID_"))
        for (secret in secretsOf(sb.credentials)) {
            assertFalse(sb.credentials.toString().contains(secret))
            assertFalse(sb.payConfig.toString().contains(secret))
            assertFalse(sb.mpConfig.toString().contains(secret))
        }
    }

    @Test
    fun `payClient and mpClient are configured for this sandbox, overrides apply`() {
        sb.payClient().use { pay ->
            assertEquals(sb.credentials.mchid, pay.info.s("mchid"))
            assertEquals(sb.baseUrl, pay.info.s("base_url"))
        }
        sb.mpClient { it.copy(tokenEndpoint = "token") }.use { mp ->
            assertEquals(sb.credentials.appid, mp.info.s("appid"))
            assertEquals(sb.credentials.cardAppid, mp.info.s("card_appid"))
            assertEquals("memory", mp.info.s("token_store"))
            assertFalse(mp.toString().contains(sb.credentials.secret))
        }
        sb.payClient { it.copy(baseUrl = "http://127.0.0.1:9") }.use { assertEquals("http://127.0.0.1:9", it.info.s("base_url")) }
    }

    @Test
    fun `createStock, stock, stocks`() = runBlocking<Unit> {
        val id = newStockId()
        val created = sb.createStock(id, mapOf("comment" to "c0", "goods_name" to "g0", "creator_mchid" to OTHER_MCHID, "ignored" to null))
        assertEquals(id, created.s("stock_id"))
        val stock = sb.stock(id)!!
        assertEquals(listOf("沙箱测试券", "c0", "g0", OTHER_MCHID), listOf(stock.s("stock_name"), stock.s("comment"), stock.s("goods_name"), stock.s("creator_mchid")))
        assertEquals(0, stock.arr("applied_out_request_nos").size)
        val generated = sb.createStock(fields = mapOf("stock_name" to "named"))
        assertEquals("named", sb.stock(generated.s("stock_id"))!!.s("stock_name"))
        val ids = sb.stocks().map { it.jsonObject.s("stock_id") }
        assertTrue(id in ids && generated.s("stock_id") in ids)
        assertNull(sb.stock("no-such-stock"))
        // the CompletableFuture forms (Java)
        val viaFuture = sb.createStockAsync(newStockId()).get()
        assertEquals(viaFuture.s("stock_id"), sb.stockAsync(viaFuture.s("stock_id")).get()!!.s("stock_id"))
    }

    @Test
    fun `injectFault, faults, clearFaults - the rule, its remaining count and its effect`() = runBlocking<Unit> {
        val id = sb.injectFault("ModifyStockInfo", "system_error", count = 2)
        val byPrefix = sb.injectFault(kind = "latency", pathPrefix = "/v3/marketing/favor/", fields = mapOf("ms" to 1))
        val faults = sb.faults().map { it.jsonObject }
        assertTrue(faults.any { it.long("id") == id && it.int("remaining") == 2 && it.str("kind") == "system_error" }, faults.toString())
        assertTrue(faults.any { it.long("id") == byPrefix && it.str("path_prefix") == "/v3/marketing/favor/" })
        val stockId = sb.newStock()
        sb.payClient { it.copy(maxAttempts = 1) }.use { pay ->
            failsWith<ApiError> { pay.busifavor.modifyStockInfo(stockId, ModifyStockInfoRequest(outRequestNo = uid(), comment = "c")) }
        }
        assertTrue(sb.faults().any { it.jsonObject.long("id") == id && it.jsonObject.int("remaining") == 1 })
        sb.clearFaults()
        assertEquals(0, sb.faults().size)
        sb.payClient().use { pay -> pay.busifavor.modifyStockInfo(stockId, ModifyStockInfoRequest(outRequestNo = uid(), comment = "c")) }
        assertEquals(204, sb.lastRequest().int("status"))
        // Java forms
        sb.injectFaultAsync("ModifyStockInfo", "system_error").get()
        assertEquals(1, sb.faults().size)
        sb.clearFaultsAsync().get()
        assertEquals(0, sb.faults().size)
    }

    @Test
    fun `setSigningMode - certificate-signed answers fail a public-key-only client, pass again after public_key`() = runBlocking<Unit> {
        val stockId = sb.newStock()
        sb.payClient { it.copy(downloadCertificates = false) }.use { pay ->
            sb.setSigningMode("certificate")
            failsWith<SignatureError> { pay.busifavor.modifyStockInfo(stockId, ModifyStockInfoRequest(outRequestNo = uid(), comment = "c")) }
            sb.setSigningModeAsync("public_key").get()
            pay.busifavor.modifyStockInfo(stockId, ModifyStockInfoRequest(outRequestNo = uid(), comment = "c"))
        }
    }

    @Test
    fun `setMainDown - requests to main are dropped and logged, backup serves`() = runBlocking<Unit> {
        val stockId = sb.newStock()
        sb.setMainDownAsync(true).get()
        sb.payClient { it.copy(backupBaseUrl = null, maxAttempts = 1) }.use { pay ->
            failsWith<TransportError> { pay.busifavor.modifyStockInfo(stockId, ModifyStockInfoRequest(outRequestNo = uid(), comment = "c")) }
        }
        assertEquals(listOf("main_down"), sb.lastRequest().arr("faults").map { it.jsonPrimitive.content })
        sb.payClient().use { pay -> pay.busifavor.modifyStockInfo(stockId, ModifyStockInfoRequest(outRequestNo = uid(), comment = "c")) }
        assertEquals("backup", sb.lastRequest().s("listener"))
    }

    @Test
    fun `requests, counters, resetLog - cleared log and counters, stocks kept`() = runBlocking<Unit> {
        val stockId = sb.newStock()
        sb.payClient().use { pay -> pay.busifavor.modifyStockInfo(stockId, ModifyStockInfoRequest(outRequestNo = uid(), comment = "c")) }
        assertEquals(jsonOf(mapOf("ModifyStockInfo" to 1)), sb.counters().o("requests"))
        assertEquals(1, sb.requests().size)
        assertEquals(1, sb.requestsAsync().get().size)
        assertEquals(jsonOf(mapOf("ModifyStockInfo" to 1)), sb.countersAsync().get().o("requests"))
        sb.resetLog()
        assertEquals(0, sb.requests().size)
        assertEquals(jsonOf(emptyMap<String, Int>()), sb.counters().o("requests"))
        assertTrue(sb.stock(stockId) != null)
        sb.payClient().use { pay -> pay.busifavor.setCouponNotify(SetCouponNotifyRequest(notifyUrl = "https://example.com/${uid()}")) }
        sb.resetLogAsync().get()
        assertEquals(0, sb.requests().size)
        // a bad control body is a ValidationError
        failsWith<ValidationError> { sb.control("POST", "/sandbox/stocks", JsonPrimitive(1)) }
    }

    @Test
    fun `media, notifyUrl, sendCouponNotification, notifications`() = runBlocking<Unit> {
        Receiver().use { receiver ->
            sb.payClient().use { pay ->
                pay.media.marketingImageUpload("sb.png", PNG_1X1)
                assertTrue(sb.media().any { it.jsonObject.str("filename") == "sb.png" && it.jsonObject.str("sha256") == sha256(PNG_1X1) })
                val url = receiver.url("/n/${uid()}")
                assertNull(sb.notifyUrl()?.takeIf { it == url })
                pay.busifavor.setCouponNotify(SetCouponNotifyRequest(notifyUrl = url))
                assertEquals(url, sb.notifyUrl())
                val report = sb.sendCouponNotification(sb.newStock(), mapOf("coupon_code" to "cc1", "attach_info" to mapOf("act_code" to "a")))
                assertEquals("true", report.getValue("delivered").jsonPrimitive.content)
                assertEquals("cc1", report.o("payload").s("coupon_code"))
                assertEquals(1, receiver.received.size)
                assertEquals(report.s("id"), parse(String(receiver.received[0].body)).jsonObject.s("id"))
                assertTrue(sb.notifications().any { it.jsonObject.str("id") == report.s("id") })
                assertTrue(sb.notificationsAsync().get().any { it.jsonObject.str("id") == report.s("id") })
                assertTrue(sb.counters().o("notifications").int("delivered")!! >= 1)
                val viaFuture = sb.sendCouponNotificationAsync(sb.newStock()).get()
                assertEquals(2, receiver.received.size)
                assertEquals(viaFuture.s("id"), parse(String(receiver.received[1].body)).jsonObject.s("id"))
            }
        }
    }

    @Test
    fun `mini-program controls - users, notify codes, errcode faults, expiry, clock, cards, counters`() = runBlocking<Unit> {
        val counters = sb.mpDelta()
        sb.mpClient().use { mp ->
            sb.mpAddUser("o-user-${uid()}")
            val (openid, code) = sb.newNotifyCode(fields = mapOf("valid_after_secs" to 30))
            failsWith<MiniProgramError> { mp.serviceCard.setUserNotifyExt(SetUserNotifyExtRequest(openid, 1003, code, buildJsonObject {})) }
            sb.mpAdvanceClock(31)
            mp.serviceCard.setUserNotifyExt(SetUserNotifyExtRequest(openid, 1003, code, jsonOf(mapOf("x" to 1))))
            assertEquals(jsonOf(mapOf("x" to 1)), parse(sb.mpNotifyExt(openid, code)!!.s("ext_json")))
            assertNull(sb.mpNotifyExt(openid, "unknown"))

            sb.mpAddErrcodeFault("*", 40003, errmsg = "invalid openid")
            val e = failsWith<MiniProgramError> { mp.serviceCard.setUserNotifyExt(SetUserNotifyExtRequest(openid, 1003, code, buildJsonObject {})) }
            assertEquals(40003L to "invalid openid", e.errcode to e.errmsg)
            sb.mpClearErrcodeFaults()
            mp.serviceCard.setUserNotifyExt(SetUserNotifyExtRequest(openid, 1003, code, buildJsonObject {}))

            val before = mp.accessToken()
            sb.mpExpireTokens()
            assertEquals(42001, sb.rawTicket(before, "jsapi").long("errcode"))

            val cardId = "pCard${uid()}"
            sb.mpCreateCard(cardId, sb.credentials.appid) // owned by the mini-program, not the card account
            val item = mp.card.cardExt(cardId)
            val added = sb.wxAddCard(listOf(testJson.encodeToJsonElement(AddCardListItem.serializer(), item))).jsonObject
            assertEquals(JsonPrimitive(false), added.arr("cardList")[0].jsonObject["isSuccess"]) // signed with the card account's ticket
            val ticket = mp.card.getTicket(GetTicketType.WxCard).ticket
            sb.mpExpireTickets()
            assertNotEquals(ticket, sb.mpClient().use { it.card.getTicket(GetTicketType.WxCard).ticket })
            val encrypted = sb.mpEncryptCardCode(CARD_ID, "998877665544")
            assertEquals("998877665544", mp.card.decryptCardCode(DecryptCardCodeRequest(encrypted)).code)
        }
        val d = counters()
        assertTrue(d.count("faults_injected") >= 1)
        assertEquals(1, d.count("card_codes_issued"))
        assertEquals(1, d.count("card_adds", "rejected"))
        assertEquals(2, d.count("tickets_issued_by_type", "wx_card"))
        assertEquals(sb.mpCounters(), sb.mpCountersAsync().get())
    }
}
