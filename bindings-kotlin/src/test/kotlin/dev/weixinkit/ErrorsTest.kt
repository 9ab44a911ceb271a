package dev.weixinkit

import dev.weixinkit.internal.errorKindsJson
import kotlinx.coroutines.delay
import kotlinx.coroutines.runBlocking
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.buildJsonObject
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

/**
 * Every exception class from a real condition (the sandbox's answers, faults, a closed port, bad
 * configuration, failing callbacks, a closed client): each its class and a WeixinKitError, with
 * its camelCase fields and nothing secret in its message, text or fields.
 */
class ErrorsTest : SandboxTest() {
    private val secrets get() = secretsOf(sb.credentials)
    private val modifyPath = "/v3/marketing/busifavor/stocks/{stock_id}"

    private suspend fun modify(pay: PayClient, stockId: String, body: ModifyStockInfoRequest = ModifyStockInfoRequest(outRequestNo = uid(), comment = "c")) =
        pay.busifavor.modifyStockInfo(stockId, body)

    @Test
    fun `every kind of the core's table has its class with its fields in camelCase`() {
        val kinds = parse(errorKindsJson()).jsonArray.map { it.jsonObject }
        assertTrue(kinds.size >= 10)
        for (kind in kinds) {
            val name = kind.s("class_name")
            val cls = Class.forName("dev.weixinkit.$name")
            assertTrue(WeixinKitError::class.java.isAssignableFrom(cls), name)
            for (field in kind.arr("fields").map { it.jsonPrimitive.content }) {
                // WeChat's `message` field is `msg` (Throwable.message is the text)
                val property = camel(if (field == "message") "msg" else field)
                val getter = if (property == "retryable") "getRetryable" else "get" + property.replaceFirstChar(Char::uppercase)
                assertTrue(runCatching { cls.getMethod(getter) }.isSuccess, "$name.$property ($field)")
            }
        }
    }

    @Test
    fun `ApiError - the documented 404 of an unknown stock and 403 of another creator's stock`() = runBlocking<Unit> {
        sb.payClient().use { pay ->
            val e404 = failsWith<ApiError>(secrets) { modify(pay, "404404404") }
            val row404 = documentedPay(modifyPath, "patch", 404, "RESOURCE_NOT_EXISTS", "批次不存在")
            assertEquals(
                listOf<Any?>(404, "RESOURCE_NOT_EXISTS", row404.s("description"), row404.s("solution"), false),
                listOf(e404.status, e404.code, e404.msg, e404.solution, e404.retryable),
            )
            val entry = sb.requests().single().jsonObject
            assertEquals(entry.s("request_id"), e404.requestId)
            assertTrue(e404.message!!.contains(entry.s("request_id")))

            val stockId = sb.newStock(mapOf("creator_mchid" to OTHER_MCHID))
            val e403 = failsWith<ApiError>(secrets) { modify(pay, stockId) }
            val row403 = documentedPay(modifyPath, "patch", 403, "RULE_LIMIT", "修改流程中仅允许创建方进行操作")
            assertEquals(listOf<Any?>(403, "RULE_LIMIT", row403.s("description"), row403.s("solution")), listOf(e403.status, e403.code, e403.msg, e403.solution))
            assertEquals(sb.lastRequest().s("request_id"), e403.requestId)
            assertTrue("comment" !in sb.stock(stockId)!!)

            val noAuth = failsWith<ApiError>(secrets) {
                pay.busifavor.setCouponNotify(SetCouponNotifyRequest(mchid = OTHER_MCHID, notifyUrl = "https://example.com/x"))
            }
            val rowNoAuth = documentedPay("/v3/marketing/busifavor/callbacks", "post", 403, "NOAUTH", "无权限")
            assertEquals(listOf<Any?>(403, "NOAUTH", rowNoAuth.s("solution")), listOf(noAuth.status, noAuth.code, noAuth.solution))
        }
    }

    @Test
    fun `ApiError - a gif upload is the documented 400 PARAM_ERROR with its detail`() = runBlocking<Unit> {
        sb.payClient().use { pay ->
            val e = failsWith<ApiError>(secrets) { pay.media.marketingImageUpload("anim.gif", "GIF89a".toByteArray()) }
            val row = documentedPay("/v3/marketing/favor/media/image-upload", "post", 400, "PARAM_ERROR", "参数错误")
            assertEquals(listOf<Any?>(400, "PARAM_ERROR", "参数错误", row.s("solution")), listOf(e.status, e.code, e.msg, e.solution))
            assertEquals("/meta/filename", e.detail!!.jsonObject.s("field"))
            assertTrue(sb.media().none { it.jsonObject.str("filename") == "anim.gif" })
        }
    }

    @Test
    fun `MiniProgramError - an errcode fault, with errcode, errmsg and the documented solution`() = runBlocking<Unit> {
        val counters = sb.mpDelta()
        val (openid, code) = sb.newNotifyCode()
        sb.mpAddErrcodeFault("/wxa/set_user_notifyext", 85436, count = 1)
        sb.mpClient().use { mp ->
            val e = failsWith<MiniProgramError>(secrets) {
                mp.serviceCard.setUserNotifyExt(SetUserNotifyExtRequest(openid, 1003, code, buildJsonObject {}))
            }
            val row = documentedMp("/wxa/set_user_notifyext", 85436)
            assertEquals(listOf<Any?>(85436L, row.s("errmsg"), row.s("solution"), false), listOf(e.errcode, e.errmsg, e.solution, e.retryable))
            assertTrue(e.message!!.contains("85436"))
        }
        val d = counters()
        assertEquals(1, d.count("calls", "setUserNotifyExt"))
        assertEquals(1, d.count("faults_injected"))
        assertEquals(0, sb.mpNotifyExt(openid, code)!!.int("count"))
    }

    @Test
    fun `SignatureError - a response whose signature the sandbox tampered with`() = runBlocking<Unit> {
        val stockId = sb.newStock()
        sb.injectFault("ModifyStockInfo", "tamper_signature")
        sb.payClient().use { pay -> failsWith<SignatureError>(secrets) { modify(pay, stockId) } }
        val entry = sb.requests().single().jsonObject
        assertEquals(204, entry.int("status")) // the request was fine: only the answer's signature was spoiled
        assertEquals(listOf("tamper_signature"), entry.arr("faults").map { it.jsonPrimitive.content })
    }

    @Test
    fun `ValidationError - a field breaking its rule names the field and the rule, nothing sent`() = runBlocking<Unit> {
        val stockId = sb.newStock()
        sb.payClient().use { pay ->
            for ((body, field, words) in listOf(
                Triple(ModifyStockInfoRequest(outRequestNo = uid(), comment = "一".repeat(21)), "comment", "20"),
                Triple(ModifyStockInfoRequest(outRequestNo = uid(), goodsName = "一".repeat(16)), "goods_name", "15"),
                Triple(
                    ModifyStockInfoRequest(outRequestNo = uid(), customEntrance = ModifyCustomEntrance(codeDisplayMode = CodeDisplayMode.of("STRIPES"))),
                    "custom_entrance.code_display_mode", "one of",
                ),
                Triple(ModifyStockInfoRequest(outRequestNo = ""), "out_request_no", ""),
            )) {
                val e = failsWith<ValidationError>(secrets) { modify(pay, stockId, body) }
                assertEquals(field, e.field)
                assertTrue(e.rule!!.contains(words), e.rule)
                assertTrue(e.message!!.contains(field), e.message)
            }
        }
        sb.mpClient().use { mp ->
            assertEquals("type", failsWith<ValidationError> { mp.card.getTicket(GetTicketType.of("wx_cards")) }.field)
            val (openid, code) = sb.newNotifyCode()
            assertEquals(
                "ext_json",
                failsWith<ValidationError> { mp.serviceCard.setUserNotifyExt(SetUserNotifyExtRequest(openid, 1003, code, jsonOf(listOf(1, 2)))) }.field,
            )
        }
        assertEquals(0, sb.requests().size)
    }

    @Test
    fun `TransportError - connection_reset with maxAttempts 1, and a port nothing listens on`() = runBlocking<Unit> {
        val stockId = sb.newStock()
        sb.injectFault("ModifyStockInfo", "connection_reset")
        sb.payClient { it.copy(maxAttempts = 1) }.use { pay ->
            val e = failsWith<TransportError>(secrets) { modify(pay, stockId) }
            assertTrue(e.retryable)
        }
        val entry = sb.requests().single().jsonObject
        assertEquals(listOf("connection_reset"), entry.arr("faults").map { it.jsonPrimitive.content })
        assertEquals(null, entry.int("status"))
        sb.clearFaults()
        val port = freePort()
        sb.payClient { it.copy(baseUrl = "http://127.0.0.1:$port", backupBaseUrl = null, maxAttempts = 1) }.use { pay ->
            failsWith<TransportError>(secrets) { modify(pay, stockId) }
        }
        assertEquals(0, sb.stock(stockId)!!.arr("applied_out_request_nos").size)
    }

    @Test
    fun `TransportError - a POST that may have been applied is not resent, idempotent = true resends it`() = runBlocking<Unit> {
        // A server that reads each request and closes the connection without answering.
        val server = java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())
        val requests = java.util.concurrent.atomic.AtomicInteger()
        val acceptor = Thread {
            while (!server.isClosed) {
                val socket = runCatching { server.accept() }.getOrNull() ?: break
                socket.use {
                    val input = it.getInputStream().bufferedReader(Charsets.ISO_8859_1)
                    var length = 0
                    while (true) {
                        val line = input.readLine() ?: break
                        if (line.isEmpty()) break
                        if (line.lowercase().startsWith("content-length:")) length = line.substringAfter(':').trim().toInt()
                    }
                    repeat(length) { input.read() }
                    requests.incrementAndGet()
                }
            }
        }.apply { isDaemon = true; start() }
        try {
            sb.payClient { it.copy(baseUrl = "http://127.0.0.1:${server.localPort}", backupBaseUrl = null) }.use { pay ->
                val body = buildJsonObject { put("notify_url", JsonPrimitive("https://example.com/n")) }
                val e = failsWith<TransportError>(secrets) { pay.request("POST", "/v3/marketing/busifavor/callbacks", body) }
                assertEquals(1, requests.get())
                assertEquals(true, e.mayHaveBeenApplied)
                assertEquals(false, e.retryable)
                assertTrue(e.message!!.contains("may have been applied"), e.message)
                val again = failsWith<TransportError>(secrets) {
                    pay.request("POST", "/v3/marketing/busifavor/callbacks", body, idempotent = true)
                }
                assertEquals(1 + 3, requests.get())
                assertEquals(false, again.mayHaveBeenApplied)
                assertEquals(true, again.retryable)
            }
        } finally {
            server.close()
            acceptor.join(1000)
        }
    }

    @Test
    fun `TimeoutError - latency beyond a small timeout`() = runBlocking<Unit> {
        val stockId = sb.newStock()
        sb.injectFault("ModifyStockInfo", "latency", count = 1, fields = mapOf("ms" to 3000))
        sb.payClient { it.copy(timeout = 0.15, maxAttempts = 1) }.use { pay ->
            val e = failsWith<TimeoutError>(secrets) { modify(pay, stockId) }
            // Gave up at its timeout, not at the answer: the server logs a request when it
            // answers (3 s later), so the log is still empty (read from the log, not the clock).
            assertEquals(0, sb.logFor("ModifyStockInfo").size, "the client waited for the answer")
            assertTrue(e.retryable)
        }
        // Let the late answer land now, not in another test's request log.
        kotlinx.coroutines.withTimeout(15_000) { while (sb.logFor("ModifyStockInfo").isEmpty()) kotlinx.coroutines.delay(50) }
    }

    @Test
    fun `ConfigError - a bad value, a missing key, a key that is not one, each named and never shown`() {
        val badPem = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n"
        for ((change, named) in listOf<Pair<(PayConfig) -> PayConfig, String>>(
            { c: PayConfig -> c.copy(timeout = -1.0) } to "timeout",
            { c: PayConfig -> c.copy(maxAttempts = 0) } to "max_attempts",
            { c: PayConfig -> c.copy(apiv3Key = "too short") } to "APIv3 key",
            { c: PayConfig -> c.copy(wechatpayPublicKey = null) } to "wechatpay_public_key",
            { c: PayConfig -> c.copy(privateKey = badPem) } to "PKCS#8",
            { c: PayConfig -> c.copy(mchid = "") } to "mchid",
        )) {
            val e = failsWith<ConfigError>(secrets) { sb.payClient(configure = change) }
            assertTrue(e.message!!.contains(named), "${e.message} names $named")
        }
        for ((change, named) in listOf<Pair<(MiniProgramConfig) -> MiniProgramConfig, String>>(
            { c: MiniProgramConfig -> c.copy(secret = null) } to "secret",
            { c: MiniProgramConfig -> c.copy(tokenStore = "mongodb://127.0.0.1/0") } to "token store",
            { c: MiniProgramConfig -> c.copy(tokenEndpoint = "cookie") } to "token_endpoint",
        )) {
            val e = failsWith<ConfigError>(secrets) { sb.mpClient(configure = change) }
            assertTrue(e.message!!.contains(named), "${e.message} names $named")
        }
        // a signer and a private key, a token provider and a secret
        failsWith<ConfigError>(secrets) { PayClient(sb.payConfig, Signer { "x" }) }
        failsWith<ConfigError>(secrets) { MiniProgramClient(sb.mpConfig, TokenProvider { "x" }) }
    }

    @Test
    fun `UnexpectedResponseError - a 405 without a WeChat error body, and a mini-program 500`() = runBlocking<Unit> {
        val stockId = sb.newStock()
        sb.payClient().use { pay ->
            val e = failsWith<UnexpectedResponseError>(secrets) { pay.request("GET", "/v3/marketing/busifavor/stocks/$stockId") }
            assertEquals(405, e.status)
            assertEquals(405, sb.lastRequest().int("status"))
        }
        sb.mpClient { it.copy(maxAttempts = 1) }.use { mp ->
            val (openid, code) = sb.newNotifyCode()
            mp.accessToken()
            sb.injectFault("setUserNotifyExt", "system_error")
            val e = failsWith<UnexpectedResponseError>(secrets) {
                mp.serviceCard.setUserNotifyExt(SetUserNotifyExtRequest(openid, 1003, code, buildJsonObject {}))
            }
            assertEquals(500, e.status)
            assertEquals(500, sb.logFor("setUserNotifyExt").last().int("status"))
        }
    }

    @Test
    fun `CallbackError - a signer that throws or answers nothing usable, a token provider that throws, nothing sent`() = runBlocking<Unit> {
        val stockId = sb.newStock()
        sb.payClient(signer = { throw IllegalArgumentException("the KMS is down") }).use { pay ->
            val e = failsWith<CallbackError>(secrets) { modify(pay, stockId) }
            assertEquals("signer", e.callback)
            assertTrue(e.message!!.contains("IllegalArgumentException: the KMS is down"), e.message)
        }
        sb.payClient(signer = { "" }).use { pay ->
            val e = failsWith<CallbackError>(secrets) { modify(pay, stockId) }
            assertEquals("signer", e.callback)
            assertTrue(e.message!!.contains("empty"), e.message)
        }
        sb.mpClient(tokenProvider = { delay(1); error("no token today") }).use { mp ->
            val e = failsWith<CallbackError>(secrets) { mp.accessToken() }
            assertEquals("token_provider", e.callback)
            assertTrue(e.message!!.contains("no token today"), e.message)
        }
        assertEquals(0, sb.requests().size)
    }

    @Test
    fun `WeixinKitError - a call on a closed client is one, not a JVM exception`() = runBlocking<Unit> {
        val pay = sb.payClient()
        pay.close()
        val e = failsWith<WeixinKitError>(secrets) { pay.busifavor.setCouponNotify(SetCouponNotifyRequest(notifyUrl = "https://example.com/closed")) }
        assertTrue(e.message!!.contains("closed"), e.message)
        // the CompletableFuture form (Java): the future fails with it, not with a cancellation
        val future = pay.busifavor.setCouponNotifyAsync(SetCouponNotifyRequest(notifyUrl = "https://example.com/closed"))
        val cause = runCatching { future.get() }.exceptionOrNull()
        assertTrue(cause is java.util.concurrent.ExecutionException && cause.cause is WeixinKitError, cause.toString())
        val mp = sb.mpClient()
        mp.close()
        failsWith<WeixinKitError>(secrets) { mp.accessToken() }
        assertEquals(0, sb.requests().size)
    }
}
