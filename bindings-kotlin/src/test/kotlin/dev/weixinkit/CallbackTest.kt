package dev.weixinkit

import kotlinx.coroutines.delay
import kotlinx.coroutines.runBlocking
import kotlinx.serialization.json.buildJsonObject
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import java.security.KeyFactory
import java.security.KeyPairGenerator
import java.security.PrivateKey
import java.security.Signature
import java.security.spec.PKCS8EncodedKeySpec
import java.util.Base64
import java.util.Collections
import java.util.concurrent.CompletableFuture
import java.util.concurrent.atomic.AtomicInteger

/** Kotlin callbacks (and their Java adapters): a signer holding the key in the JVM, token providers. */
class CallbackTest : SandboxTest() {
    private fun privateKey(pem: String): PrivateKey {
        val der = Base64.getMimeDecoder().decode(pem.lines().filter { !it.startsWith("-----") }.joinToString(""))
        return KeyFactory.getInstance("RSA").generatePrivate(PKCS8EncodedKeySpec(der))
    }

    private fun rsaSign(key: PrivateKey, message: String): String {
        val s = Signature.getInstance("SHA256withRSA")
        s.initSign(key)
        s.update(message.toByteArray())
        return Base64.getEncoder().encodeToString(s.sign())
    }

    private fun tokenOf(entry: kotlinx.serialization.json.JsonObject) = queryParam(entry.s("path"), "access_token")

    @Test
    fun `a Kotlin signer - the sandbox verifies its signature, the signing string is what the sandbox received`() = runBlocking<Unit> {
        val key = privateKey(sb.credentials.merchantPrivateKey)
        val messages = Collections.synchronizedList(mutableListOf<String>())
        val stockId = sb.newStock()
        val no = uid()
        sb.payClient(signer = { m -> messages += m; delay(1); rsaSign(key, m) }).use { pay ->
            pay.busifavor.modifyStockInfo(stockId, ModifyStockInfoRequest(outRequestNo = no, comment = "signed"))
        }
        val entry = sb.requests().single().obj
        assertEquals("ok", entry.s("signature"))
        assertEquals(204, entry.int("status"))
        assertEquals(1, messages.size)
        val lines = messages[0].split("\n")
        assertEquals(listOf("PATCH", entry.s("path"), entry.s("body"), ""), listOf(lines[0], lines[1], lines[4], lines[5]))
        assertEquals(listOf(no), sb.stock(stockId)!!.arr("applied_out_request_nos").map { it.toString().trim('"') })
    }

    @Test
    fun `the Java adapters - Signer blocking and Signer async - sign what the sandbox verifies`() = runBlocking<Unit> {
        val key = privateKey(sb.credentials.merchantPrivateKey)
        val calls = AtomicInteger()
        for (signer in listOf(
            Signer.blocking { m -> calls.incrementAndGet(); rsaSign(key, m) },
            Signer.async { m -> CompletableFuture.supplyAsync { calls.incrementAndGet(); rsaSign(key, m) } },
        )) {
            sb.payClient(signer = signer).use { pay ->
                pay.busifavor.setCouponNotify(SetCouponNotifyRequest(notifyUrl = "https://example.com/${uid()}"))
            }
        }
        assertEquals(2, calls.get())
        assertEquals(listOf("ok", "ok"), sb.requests().map { it.obj.s("signature") })
        // a failed future is a CallbackError naming the signer
        sb.payClient(signer = Signer.async { CompletableFuture.failedFuture(IllegalStateException("HSM says no")) }).use { pay ->
            val e = failsWith<CallbackError> { pay.busifavor.setCouponNotify(SetCouponNotifyRequest(notifyUrl = "https://example.com/x")) }
            assertEquals("signer", e.callback)
            assertTrue(e.message!!.contains("HSM says no"), e.message)
        }
    }

    @Test
    fun `a signer with the wrong key - ApiError 401 SIGN_ERROR from the sandbox`() = runBlocking<Unit> {
        val wrong = KeyPairGenerator.getInstance("RSA").apply { initialize(2048) }.generateKeyPair().private
        val stockId = sb.newStock()
        sb.payClient(signer = { m -> rsaSign(wrong, m) }).use { pay ->
            val e = failsWith<ApiError>(secretsOf(sb.credentials)) {
                pay.busifavor.modifyStockInfo(stockId, ModifyStockInfoRequest(outRequestNo = uid(), comment = "c"))
            }
            assertEquals(401 to "SIGN_ERROR", e.status to e.code)
        }
        val entry = sb.requests().single().obj
        assertNotEquals("ok", entry.s("signature"))
        assertEquals(401, entry.int("status"))
    }

    @Test
    fun `a signer that throws is a CallbackError naming it, and nothing is sent`() = runBlocking<Unit> {
        sb.payClient(signer = { throw IllegalStateException("HSM offline") }).use { pay ->
            val e = failsWith<CallbackError> { pay.busifavor.setCouponNotify(SetCouponNotifyRequest(notifyUrl = "https://example.com/n")) }
            assertEquals("signer", e.callback)
            assertTrue(e.message!!.contains("IllegalStateException: HSM offline"), e.message)
        }
        assertEquals(0, sb.requests().size)
    }

    @Test
    fun `a signer that does not answer within callbackTimeout is a TimeoutError, nothing sent`() = runBlocking<Unit> {
        sb.payClient(signer = { delay(10_000); "never" }) { it.copy(callbackTimeout = 0.2) }.use { pay ->
            val started = System.nanoTime()
            val e = failsWith<TimeoutError> { pay.busifavor.setCouponNotify(SetCouponNotifyRequest(notifyUrl = "https://example.com/n")) }
            val ms = (System.nanoTime() - started) / 1_000_000
            assertTrue(ms in 150..3000, "$ms ms")
            assertTrue(e.message!!.contains("callback_timeout"), e.message)
        }
        assertEquals(0, sb.requests().size)
    }

    @Test
    fun `a token provider - its token is the one the sandbox received, and the client fetched none`() = runBlocking<Unit> {
        val token = sb.rawToken() // issued by the sandbox, fetched outside our client
        val counters = sb.mpDelta()
        val calls = AtomicInteger()
        val (openid, code) = sb.newNotifyCode()
        sb.mpClient(tokenProvider = { calls.incrementAndGet(); delay(5); token }).use { mp ->
            assertEquals(0, mp.serviceCard.setUserNotifyExt(SetUserNotifyExtRequest(openid, 1003, code, jsonOf(mapOf("p" to 1)))).errcode)
            assertEquals(token, tokenOf(sb.logFor("setUserNotifyExt").single()))
            assertEquals(token, mp.accessToken())
        }
        assertTrue(calls.get() >= 1)
        val d = counters()
        assertEquals(0, d.count("calls", "getStableAccessToken"))
        assertEquals(0, d.count("tokens_issued"))
        assertEquals(1, sb.mpNotifyExt(openid, code)!!.int("count"))
    }

    @Test
    fun `the Java token provider adapters, and a token the sandbox refuses is MiniProgramError 40001`() = runBlocking<Unit> {
        val token = sb.rawToken()
        for (provider in listOf(TokenProvider.blocking { token }, TokenProvider.async { CompletableFuture.completedFuture(token) })) {
            sb.mpClient(tokenProvider = provider).use { mp -> assertEquals(token, mp.accessToken()) }
        }
        val (openid, code) = sb.newNotifyCode()
        sb.mpClient(tokenProvider = TokenProvider.blocking { "not-a-token-" + uid() }).use { mp ->
            val e = failsWith<MiniProgramError> { mp.serviceCard.setUserNotifyExt(SetUserNotifyExtRequest(openid, 1003, code, buildJsonObject {})) }
            assertEquals(40001L, e.errcode)
        }
        assertEquals(0, sb.mpNotifyExt(openid, code)!!.int("count"))
    }

    @Test
    fun `a card token provider supplies the card account's token for card operations`() = runBlocking<Unit> {
        val cardToken = sb.rawToken("card")
        val calls = AtomicInteger()
        sb.mpClient(cardTokenProvider = { calls.incrementAndGet(); cardToken }).use { mp ->
            val answer = mp.card.getTicket(GetTicketType.WxCard)
            assertEquals(cardToken, tokenOf(sb.logFor("getTicket").single()))
            assertEquals(sb.rawTicket(cardToken).s("ticket"), answer.ticket)
        }
        assertTrue(calls.get() >= 1)
    }

    @Test
    fun `a token provider that throws is a CallbackError naming token_provider`() = runBlocking<Unit> {
        sb.mpClient(tokenProvider = { throw IllegalStateException("no token today") }).use { mp ->
            val e = failsWith<CallbackError>(secretsOf(sb.credentials)) { mp.accessToken() }
            assertEquals("token_provider", e.callback)
            assertTrue(e.message!!.contains("IllegalStateException: no token today"), e.message)
        }
        assertEquals(0, sb.requests().size)
    }

    @Test
    fun `a token provider that never answers is a TimeoutError after callbackTimeout`() = runBlocking<Unit> {
        sb.mpClient(tokenProvider = { delay(60_000); "never" }) { it.copy(callbackTimeout = 0.2) }.use { mp ->
            val started = System.nanoTime()
            failsWith<TimeoutError> { mp.accessToken() }
            val ms = (System.nanoTime() - started) / 1_000_000
            assertTrue(ms in 150..3000, "$ms ms")
        }
    }
}
