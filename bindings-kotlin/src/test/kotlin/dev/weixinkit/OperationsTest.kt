package dev.weixinkit

import dev.weixinkit.internal.callableJson
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.runBlocking
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.buildJsonObject
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import kotlinx.serialization.json.put
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import java.lang.reflect.Modifier
import kotlin.coroutines.Continuation

/**
 * Every operation of spec/wechatpay.json and spec/miniprogram.json (and the client-level actions)
 * through the generated Kotlin methods against the sandbox, checked by what the sandbox received
 * and keeps: request log (operation, signature verdict, method, path, body), stocks, media,
 * notify_ext, counters, wx.addCard's own signature check.
 */
class OperationsTest : SandboxTest() {
    // fresh clients per test (a client caches tokens the sandbox expires between tests)
    private lateinit var pay: PayClient
    private lateinit var mp: MiniProgramClient

    @BeforeEach
    fun clients() {
        pay = sb.payClient()
        mp = sb.mpClient()
    }

    @AfterEach
    fun closeClients() {
        pay.close()
        mp.close()
    }

    private fun pathPattern(specPath: String) = Regex("^" + specPath.replace(Regex("\\{[^}]+}"), "[^/]+") + "$")

    // -- the generated surface against the core ---------------------------------------------------

    /** The public suspend methods of a generated class, by name (the `…Async` twins left out). */
    private fun suspendMethods(cls: Class<*>): Set<String> =
        cls.declaredMethods.filter {
            Modifier.isPublic(it.modifiers) && it.parameterTypes.lastOrNull() == Continuation::class.java
        }.map { it.name }.toSet()

    private fun asyncMethods(cls: Class<*>): Set<String> =
        cls.declaredMethods.filter { Modifier.isPublic(it.modifiers) && it.name.endsWith("Async") }.map { it.name.removeSuffix("Async") }.toSet()

    @Test
    fun `the generated methods are exactly the core's callable names, each with its Async twin`() {
        for ((family, root, groups) in listOf(
            Triple("pay", PayOperations::class.java, listOf(BusifavorOperations::class.java, MediaOperations::class.java)),
            Triple(
                "mp", MiniProgramOperations::class.java,
                listOf(AuthOperations::class.java, CardOperations::class.java, ServiceCardOperations::class.java),
            ),
        )) {
            // [name, snake_case_method] of every operation and action the core answers to
            val callable = parse(callableJson(family)).jsonArray.map { it.jsonArray[0].jsonPrimitive.content }
            assertTrue(callable.isNotEmpty())
            val expected = callable.map(::methodName).toSortedSet()
            val generated = (groups + root).flatMap(::suspendMethods).toSortedSet()
            assertEquals(expected, generated, family)
            assertEquals(generated, (groups + root).flatMap(::asyncMethods).toSortedSet(), "$family: Async twins")
            // the groups are the spec's tags
            val specFile = if (family == "pay") "wechatpay.json" else "miniprogram.json"
            val tags = specOperations(specFile).map { camel(it.tag) }.toSortedSet()
            val properties = root.declaredMethods.filter { it.name.startsWith("get") && it.parameterCount == 0 }
                .map { it.name.removePrefix("get").replaceFirstChar(Char::lowercase) }.toSortedSet()
            assertEquals(tags, properties, "$family: groups")
            for (op in specOperations(specFile)) {
                val group = groups.single { it.simpleName.equals(camel(op.tag) + "Operations", ignoreCase = true) }
                assertTrue(methodName(op.operationId) in suspendMethods(group), "${op.operationId} in ${group.simpleName}")
            }
        }
    }

    // -- WeChat Pay ---------------------------------------------------------------------------------

    @Test
    fun `every wechatpay json operation reaches the sandbox as that operation, signed`() = runBlocking<Unit> {
        val ops = specOperations("wechatpay.json")
        assertTrue(ops.size >= 3)
        val stockId = sb.newStock()
        pay.busifavor.modifyStockInfo(stockId, ModifyStockInfoRequest(outRequestNo = uid(), comment = "c"))
        pay.busifavor.setCouponNotify(SetCouponNotifyRequest(notifyUrl = "https://example.com/${uid()}"))
        pay.media.marketingImageUpload(uid("i") + ".png", PNG_1X1)
        val log = sb.requests().map { it.jsonObject }
        assertEquals(ops.map { it.operationId }.sorted(), log.map { it.s("operation") }.sorted())
        for (entry in log) {
            val op = ops.single { it.operationId == entry.s("operation") }
            assertEquals(op.method, entry.s("method"))
            assertTrue(pathPattern(op.path).matches(entry.s("path")), entry.s("path"))
            assertEquals("ok", entry.s("signature"))
        }
    }

    @Test
    fun `modifyStockInfo applies the documented example and answers 204 as Unit`() = runBlocking<Unit> {
        val path = "/v3/marketing/busifavor/stocks/{stock_id}"
        val example = spec("wechatpay.json").o("paths").o(path).o("patch").o("requestBody").o("content")
            .o("application/json").o("examples").o("document").o("value")
        val stockId = sb.newStock(mapOf("stock_name" to example.s("stock_name")))
        val no = uid("doc")
        val args = JsonObjectOf(example + ("out_request_no" to JsonPrimitive(no)))
        val body = testJson.decodeFromJsonElement(ModifyStockInfoRequest.serializer(), args)
        val result: Unit = pay.busifavor.modifyStockInfo(stockId, body)
        assertEquals(Unit, result)
        val entry = sb.requests().single().jsonObject
        assertEquals(listOf("PATCH", "/v3/marketing/busifavor/stocks/$stockId", "ModifyStockInfo", "ok"),
            listOf(entry.s("method"), entry.s("path"), entry.s("operation"), entry.s("signature")))
        assertEquals(204, entry.int("status"))
        assertEquals(args, parse(entry.s("body"))) // stock_id went into the path
        val stock = sb.stock(stockId)!!
        for ((field, value) in args) if (field != "out_request_no") assertEquals(value, stock[field], field)
        assertEquals(listOf(no), stock.arr("applied_out_request_nos").map { it.jsonPrimitive.content })
    }

    @Test
    fun `modifyStockInfo sends only what was given, and the same out_request_no is applied once`() = runBlocking<Unit> {
        val stockId = sb.newStock()
        val no = uid()
        repeat(2) { pay.busifavor.modifyStockInfo(stockId, ModifyStockInfoRequest(outRequestNo = no, comment = "活动使用")) }
        val entries = sb.logFor("ModifyStockInfo")
        assertEquals(2, entries.size)
        assertEquals(jsonOf(mapOf("out_request_no" to no, "comment" to "活动使用")), parse(entries[0].s("body")))
        assertEquals(2, sb.counters().o("requests").int("ModifyStockInfo"))
        val stock = sb.stock(stockId)!!
        assertEquals("活动使用", stock.str("comment"))
        assertTrue("goods_name" !in stock)
        assertEquals(listOf(no), stock.arr("applied_out_request_nos").map { it.jsonPrimitive.content })
    }

    @Test
    fun `setCouponNotify registers the URL`() = runBlocking<Unit> {
        val url = "https://example.com/wx/coupon-${uid()}"
        val answer = pay.busifavor.setCouponNotify(SetCouponNotifyRequest(notifyUrl = url))
        assertEquals(url, answer.notifyUrl)
        assertEquals(sb.credentials.mchid, answer.mchid)
        java.time.OffsetDateTime.parse(answer.updateTime)
        assertEquals(url, sb.notifyUrl())
        val entry = sb.logFor("SetCouponNotify").single()
        assertEquals(listOf("POST", "/v3/marketing/busifavor/callbacks", "ok"), listOf(entry.s("method"), entry.s("path"), entry.s("signature")))
        assertEquals(200, entry.int("status"))
        assertEquals(jsonOf(mapOf("notify_url" to url)), parse(entry.s("body")))
    }

    @Test
    fun `marketingImageUpload of a ByteArray - multipart meta then file, the sandbox keeps it`() = runBlocking<Unit> {
        val name = uid("img") + ".png"
        val answer = pay.media.marketingImageUpload(name, PNG_1X1)
        val media = sb.media().map { it.jsonObject }.filter { it.str("filename") == name }
        assertEquals(1, media.size)
        assertEquals(media[0].s("media_url"), answer.mediaUrl)
        assertEquals(sha256(PNG_1X1), media[0].s("sha256"))
        assertEquals(PNG_1X1.size, media[0].int("size"))
        val entry = sb.logFor("MarketingImageUpload").single()
        assertEquals("ok", entry.s("signature"))
        assertEquals(200, entry.int("status"))
        val text = entry.s("body")
        val boundary = text.substringBefore("\r\n")
        val parts = text.split(boundary).drop(1).dropLast(1).map { chunk ->
            val (head, content) = chunk.removePrefix("\r\n").removeSuffix("\r\n").split("\r\n\r\n", limit = 2)
            Regex("Content-Disposition: (.*)", RegexOption.IGNORE_CASE).find(head)!!.groupValues[1].trim() to content
        }
        assertEquals(listOf("form-data; name=\"meta\"", "form-data; name=\"file\"; filename=\"$name\""), parts.map { it.first })
        assertEquals(jsonOf(mapOf("filename" to name, "sha256" to sha256(PNG_1X1))), parse(parts[0].second))
    }

    @Test
    fun `request escape hatch - GET certificates and a PATCH answering 204 as null`() = runBlocking<Unit> {
        val answer = pay.request("GET", "/v3/certificates")
        val entry = sb.requests().single().jsonObject
        assertEquals(listOf("GET", "/v3/certificates", "ok", ""), listOf(entry.s("method"), entry.s("path"), entry.s("signature"), entry.s("body")))
        assertEquals(
            listOf(sb.credentials.platformSerialNo),
            answer.jsonObject.arr("data").map { it.jsonObject.s("serial_no") },
        )
        val stockId = sb.newStock()
        val body = buildJsonObject {
            put("out_request_no", uid())
            put("goods_name", "xxx商品使用")
        }
        assertEquals(kotlinx.serialization.json.JsonNull, pay.request("PATCH", "/v3/marketing/busifavor/stocks/$stockId", body))
        assertEquals(body, parse(sb.lastRequest().s("body")))
        assertEquals("xxx商品使用", sb.stock(stockId)!!.str("goods_name"))
        // a path that would not be sent as signed never leaves the process
        sb.resetLog()
        for (p in listOf("/v3/marketing/busifavor/stocks/with space", "/v3/x/../certificates", "/notv3/x")) {
            assertEquals("path", failsWith<ValidationError> { pay.request("GET", p) }.field)
        }
        assertEquals(0, sb.requests().size)
    }

    @Test
    fun `stock ids are one percent-encoded path segment`() = runBlocking<Unit> {
        for (stockId in listOf("12/34", "批次", "a b", "x?y=1", "%2F")) {
            sb.resetLog()
            val e = failsWith<ApiError> { pay.busifavor.modifyStockInfo(stockId, ModifyStockInfoRequest(outRequestNo = uid(), comment = "c")) }
            assertEquals(404, e.status)
            val entry = sb.requests().single().jsonObject
            val encoded = java.net.URLEncoder.encode(stockId, Charsets.UTF_8).replace("+", "%20")
            assertEquals("/v3/marketing/busifavor/stocks/$encoded", entry.s("path"))
            assertEquals("ok", entry.s("signature"))
        }
    }

    @Test
    fun `certificate mode - refreshCertificates downloads, platformCertificateSerials lists the sandbox's`() = runBlocking<Unit> {
        sb.setSigningMode("certificate")
        val serial = sb.credentials.platformSerialNo
        sb.payClient { it.copy(wechatpayPublicKeyId = null, wechatpayPublicKey = null) }.use { client ->
            val stockId = sb.newStock()
            client.busifavor.modifyStockInfo(stockId, ModifyStockInfoRequest(outRequestNo = uid(), comment = "cert"))
            val downloads = sb.logFor("Certificates")
            assertTrue(downloads.isNotEmpty())
            assertTrue(downloads.all { it.s("method") == "GET" && it.s("signature") == "ok" })
            assertEquals(listOf(serial), client.platformCertificateSerials())
            assertEquals(listOf(serial), client.refreshCertificates())
            assertEquals(downloads.size + 1, sb.logFor("Certificates").size)
            assertEquals(listOf(serial), client.platformCertificateSerialsAsync().get())
        }
        // configured certificates: nothing downloaded
        sb.resetLog()
        sb.payClient {
            it.copy(wechatpayPublicKeyId = null, wechatpayPublicKey = null, platformCertificates = listOf(sb.credentials.platformCertificate), downloadCertificates = false)
        }.use { client ->
            assertEquals(listOf(serial), client.platformCertificateSerials())
            client.busifavor.setCouponNotify(SetCouponNotifyRequest(notifyUrl = "https://example.com/${uid()}"))
            assertEquals(0, sb.logFor("Certificates").size)
        }
    }

    // -- mini-program -------------------------------------------------------------------------------

    private val creds get() = sb.credentials

    @Test
    fun `every miniprogram json operation reaches the sandbox as that operation`() = runBlocking<Unit> {
        val ops = specOperations("miniprogram.json")
        assertTrue(ops.size >= 7)
        val (openid, code) = sb.newNotifyCode()
        mp.auth.getAccessToken(ClientCredentialGrantType.ClientCredential, creds.appid, creds.secret)
        mp.auth.getStableAccessToken(GetStableAccessTokenRequest(ClientCredentialGrantType.ClientCredential, creds.appid, creds.secret))
        mp.serviceCard.setUserNotify(SetUserNotifyRequest(openid, 1003, code, contentJson = buildJsonObject { put("cur_status", 1) }))
        mp.serviceCard.setUserNotifyExt(SetUserNotifyExtRequest(openid, 1003, code, extJson = buildJsonObject {}))
        mp.serviceCard.getUserNotify(GetUserNotifyRequest(openid, code, 1003))
        mp.card.getTicket(GetTicketType.WxCard)
        mp.card.decryptCardCode(DecryptCardCodeRequest(sb.mpEncryptCardCode(CARD_ID, "123456789012")))
        val log = sb.requests().map { it.jsonObject }
        val seen = log.map { it.s("operation") }.toSet()
        for (op in ops) assertTrue(op.operationId in seen, op.operationId)
        for (entry in log) {
            val op = ops.firstOrNull { it.operationId == entry.s("operation") } ?: continue
            assertEquals(op.method, entry.s("method"), op.operationId)
            assertEquals(op.path, entry.s("path").substringBefore('?'), op.operationId)
        }
    }

    @Test
    fun `auth getAccessToken - a GET of cgi-bin token the sandbox issued a token for`() = runBlocking<Unit> {
        val counters = sb.mpDelta()
        val answer = mp.auth.getAccessToken(ClientCredentialGrantType.ClientCredential, creds.appid, creds.secret)
        assertEquals(7200, answer.expiresIn)
        assertEquals(1, counters().count("tokens_issued"))
        val entry = sb.logFor("getAccessToken").single()
        assertEquals("GET", entry.s("method"))
        assertEquals("client_credential", queryParam(entry.s("path"), "grant_type"))
        assertEquals(creds.appid, queryParam(entry.s("path"), "appid"))
        assertEquals(0, sb.rawTicket(answer.accessToken!!, "jsapi").long("errcode"))
    }

    @Test
    fun `auth getStableAccessToken and its force_refresh`() = runBlocking<Unit> {
        val counters = sb.mpDelta()
        val request = GetStableAccessTokenRequest(ClientCredentialGrantType.ClientCredential, creds.appid, creds.secret)
        val first = mp.auth.getStableAccessToken(request)
        val body = parse(sb.logFor("getStableAccessToken")[0].s("body")).jsonObject
        assertEquals(jsonOf(mapOf("grant_type" to "client_credential", "appid" to creds.appid, "secret" to creds.secret)), JsonObjectOf(body - "force_refresh"))
        val forced = mp.auth.getStableAccessToken(request.copy(forceRefresh = true))
        assertEquals(JsonPrimitive(true), parse(sb.logFor("getStableAccessToken").last().s("body")).jsonObject["force_refresh"])
        assertNotEquals(first.accessToken, forced.accessToken)
        assertEquals(1, counters().count("stable_tokens_forced"))
        assertEquals(40001, sb.rawTicket(first.accessToken!!, "jsapi").long("errcode"))
        assertEquals(0, sb.rawTicket(forced.accessToken!!, "jsapi").long("errcode"))
    }

    @Test
    fun `accessToken is the token the sandbox issued, cached, refreshAccessToken replaces it`() = runBlocking<Unit> {
        val counters = sb.mpDelta()
        val token = mp.accessToken()
        assertEquals(sb.rawToken(), token)
        assertEquals(token, mp.accessToken())
        assertEquals(2, counters().count("calls", "getStableAccessToken")) // ours once + rawToken once
        val refreshed = mp.refreshAccessToken()
        assertNotEquals(token, refreshed)
        assertEquals(1, counters().count("stable_tokens_forced"))
        assertEquals(refreshed, mp.accessToken())
        assertEquals(refreshed, sb.rawToken())
        assertEquals(refreshed, mp.accessTokenAsync().get())
    }

    private val docExt: String =
        spec("miniprogram.json").o("components").o("schemas").o("SetUserNotifyExtRequest").arr("examples")[0].jsonObject.s("ext_json")

    @Test
    fun `serviceCard setUserNotifyExt with an object sends doc 01's nested JSON-string form`() = runBlocking<Unit> {
        val (openid, code) = sb.newNotifyCode()
        val doc = parse(docExt).jsonObject
        val structured = JsonObjectOf(doc.mapValues { parse(it.value.jsonPrimitive.content) })
        val answer = mp.serviceCard.setUserNotifyExt(SetUserNotifyExtRequest(openid, 1003, code, extJson = structured))
        assertEquals(0, answer.errcode)
        val received = sb.mpNotifyExt(openid, code)!!
        assertEquals(1, received.int("count"))
        assertEquals(1003, received.int("notify_type"))
        val sent = parse(received.s("ext_json")).jsonObject
        assertEquals(doc.keys, sent.keys)
        for ((key, value) in sent) {
            assertTrue(value is JsonPrimitive && value.isString, key)
            assertEquals(parse(doc.s(key)), parse(value.jsonPrimitive.content), key)
        }
        val body = parse(sb.logFor("setUserNotifyExt").single().s("body")).jsonObject
        assertTrue((body["ext_json"] as JsonPrimitive).isString)
        assertEquals(listOf(openid, "1003", code), listOf(body.s("openid"), body.s("notify_type"), body.s("notify_code")))
    }

    @Test
    fun `serviceCard setUserNotifyExt with a string sends it verbatim`() = runBlocking<Unit> {
        val (openid, code) = sb.newNotifyCode()
        mp.serviceCard.setUserNotifyExt(SetUserNotifyExtRequest(openid, 1003, code, extJson = JsonPrimitive(docExt)))
        assertEquals(docExt, sb.mpNotifyExt(openid, code)!!.s("ext_json"))
    }

    @Test
    fun `serviceCard setUserNotify and getUserNotify`() = runBlocking<Unit> {
        val (openid, code) = sb.newNotifyCode(fields = mapOf("requires_check_json" to true))
        val content = jsonOf(mapOf("cur_status" to 1, "wording" to "已发货"))
        val check = jsonOf(mapOf("pay_amount" to 2001, "pay_time" to 1683546394))
        assertEquals(0, mp.serviceCard.setUserNotify(SetUserNotifyRequest(openid, 1003, code, content, check)).errcode)
        val stored = sb.mpNotifyExt(openid, code)!!
        assertEquals(content, parse(stored.s("content_json")))
        val body = parse(sb.logFor("setUserNotify").single().s("body")).jsonObject
        assertTrue((body["content_json"] as JsonPrimitive).isString)
        assertEquals(check, parse(body.s("check_json")))

        val info = mp.serviceCard.getUserNotify(GetUserNotifyRequest(openid, code, 1003))
        assertEquals(0, info.errcode)
        assertEquals(1003, info.notifyInfo!!.notifyType)
        assertEquals(stored.s("content_json"), info.notifyInfo!!.contentJson!!.jsonPrimitive.content)
        assertEquals(
            jsonOf(mapOf("openid" to openid, "notify_code" to code, "notify_type" to 1003)),
            parse(sb.logFor("getUserNotify").single().s("body")),
        )
    }

    @Test
    fun `card getTicket - the card owner's wx_card ticket`() = runBlocking<Unit> {
        val counters = sb.mpDelta()
        val answer = mp.card.getTicket(GetTicketType.WxCard)
        assertEquals(0, answer.errcode)
        assertEquals(7200, answer.expiresIn)
        assertEquals(jsonOf(mapOf("wx_card" to 1)), counters().o("tickets_issued_by_type"))
        assertEquals("wx_card", queryParam(sb.logFor("getTicket").single().s("path"), "type"))
        assertEquals(answer.ticket, sb.rawTicket(sb.rawToken("card")).s("ticket"))
    }

    @Test
    fun `card decryptCardCode of mpEncryptCardCode, an altered code is errcode 40056`() = runBlocking<Unit> {
        val plain = System.currentTimeMillis().toString().takeLast(12)
        val encrypted = sb.mpEncryptCardCode(CARD_ID, plain)
        assertEquals(plain, mp.card.decryptCardCode(DecryptCardCodeRequest(encrypted)).code)
        assertEquals(jsonOf(mapOf("encrypt_code" to encrypted)), parse(sb.logFor("decryptCardCode").single().s("body")))
        val altered = (if (encrypted[0] != 'A') "A" else "B") + encrypted.drop(1)
        assertEquals(40056L, failsWith<MiniProgramError> { mp.card.decryptCardCode(DecryptCardCodeRequest(altered)) }.errcode)
    }

    @Test
    fun `card cardExt - the documented SHA1, accepted by wx addCard, for every openid and code combination`() = runBlocking<Unit> {
        sb.mpCreateCard(CARD_ID)
        for ((openid, code) in listOf(null to null, "oFS7Fjl0WsZ9AMZqrI80nbIq8xrA" to null, null to "110201201245", "oFS7Fjl0WsZ9AMZqrI80nbIq8xrA" to "AB12cd34")) {
            resetSandbox(sb)
            val counters = sb.mpDelta()
            val item = sb.mpClient().use { it.card.cardExt(cardId = CARD_ID, openid = openid, code = code) }
            assertEquals(CARD_ID, item.cardId)
            val ext = parse(item.cardExt.jsonPrimitive.content).jsonObject
            assertEquals(openid, ext.str("openid"))
            assertEquals(code, ext.str("code"))
            assertTrue(ext.s("timestamp").all(Char::isDigit))
            assertEquals(jsonOf(mapOf("wx_card" to 1)), counters().o("tickets_issued_by_type"))
            val ticket = sb.rawTicket(sb.rawToken("card")).s("ticket")
            val values = listOfNotNull(ticket, ext.s("timestamp"), CARD_ID, ext.s("nonce_str"), code, openid).sorted()
            assertEquals(sha1(values.joinToString("").toByteArray()), ext.s("signature"))
            // the front end's wx.addCard (the sandbox) checks the signature against the owner's ticket
            val itemJson = testJson.encodeToJsonElement(AddCardListItem.serializer(), item)
            val added = sb.wxAddCard(listOf(itemJson), openid).jsonObject
            assertEquals(JsonPrimitive(true), added.arr("cardList").single().jsonObject["isSuccess"], added.toString())
            assertEquals(1, counters().count("card_adds", "accepted"))
        }
    }

    @Test
    fun `one token fetch for many concurrent callers, token_endpoint token uses cgi-bin token`() = runBlocking<Unit> {
        val counters = sb.mpDelta()
        val tokens = coroutineScope { (1..8).map { async { mp.accessToken() } }.awaitAll() }
        assertEquals(1, tokens.toSet().size)
        assertEquals(1, counters().count("calls", "getStableAccessToken"))

        val c2 = sb.mpDelta()
        val (openid, code) = sb.newNotifyCode()
        sb.mpClient { it.copy(tokenEndpoint = "token") }.use {
            it.serviceCard.setUserNotifyExt(SetUserNotifyExtRequest(openid, 1003, code, buildJsonObject {}))
        }
        assertEquals(1, c2().count("tokens_issued"))
        assertEquals(0, c2().count("stable_tokens_issued"))
    }

    @Test
    fun `an expired token is refreshed once and the call retried`() = runBlocking<Unit> {
        val counters = sb.mpDelta()
        val (openid, code) = sb.newNotifyCode()
        mp.serviceCard.setUserNotifyExt(SetUserNotifyExtRequest(openid, 1003, code, jsonOf(mapOf("n" to 1))))
        sb.mpExpireTokens()
        mp.serviceCard.setUserNotifyExt(SetUserNotifyExtRequest(openid, 1003, code, jsonOf(mapOf("n" to 2))))
        val d = counters()
        assertEquals(2, d.count("stable_tokens_issued"))
        assertEquals(3, d.count("calls", "setUserNotifyExt")) // ok, 42001, ok
        val history = sb.mpNotifyExt(openid, code)!!.arr("ext_history").map { parse(it.jsonObject.s("ext_json")) }
        assertEquals(listOf(jsonOf(mapOf("n" to 1)), jsonOf(mapOf("n" to 2))), history)
        assertNotNull(d)
    }
}
