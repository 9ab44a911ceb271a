package dev.weixinkit

import dev.weixinkit.testing.Sandbox
import kotlinx.coroutines.delay
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.assertThrows
import java.security.KeyFactory
import java.security.Signature
import java.security.spec.PKCS8EncodedKeySpec
import java.util.Base64
import java.util.concurrent.atomic.AtomicInteger

/** Kotlin callbacks: a signer (the key held by the JVM) and token providers. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CallbackTest {
    private val sb = Sandbox.startBlocking()

    @AfterAll
    fun close() = sb.close()

    private fun jvmSigner(pem: String, calls: AtomicInteger): Signer {
        val der = Base64.getMimeDecoder().decode(pem.lines().filter { !it.startsWith("-----") }.joinToString(""))
        val key = KeyFactory.getInstance("RSA").generatePrivate(PKCS8EncodedKeySpec(der))
        return Signer { signingString ->
            calls.incrementAndGet()
            delay(1) // a suspending signer (a KMS call)
            val s = Signature.getInstance("SHA256withRSA")
            s.initSign(key)
            s.update(signingString.toByteArray())
            Base64.getEncoder().encodeToString(s.sign())
        }
    }

    @Test
    fun `a Kotlin signer signs every request`() = runBlocking<Unit> {
        val calls = AtomicInteger()
        sb.payClient(signer = jvmSigner(sb.credentials.merchantPrivateKey, calls)).use { pay ->
            sb.createStock("7700000001")
            pay.busifavor.modifyStockInfo("7700000001", ModifyStockInfoRequest(outRequestNo = uid(), comment = "signed"))
        }
        assertEquals(1, calls.get())
    }

    @Test
    fun `a signer that throws is a CallbackError naming it, and nothing is sent`() = runBlocking<Unit> {
        val before = sb.requests().size
        sb.payClient(signer = { throw IllegalStateException("HSM offline") }).use { pay ->
            val e = assertThrows<CallbackError> {
                runBlocking { pay.busifavor.setCouponNotify(SetCouponNotifyRequest(notifyUrl = "https://example.com/n")) }
            }
            assertEquals("signer", e.callback)
            assertTrue(e.message!!.contains("IllegalStateException: HSM offline"), e.message)
        }
        assertEquals(before, sb.requests().size)
    }

    @Test
    fun `a signer that does not answer within callbackTimeout is a TimeoutError`() = runBlocking<Unit> {
        sb.payClient(signer = { delay(10_000); "never" }) { it.copy(callbackTimeout = 0.2) }.use { pay ->
            val started = System.nanoTime()
            assertThrows<TimeoutError> {
                runBlocking { pay.busifavor.setCouponNotify(SetCouponNotifyRequest(notifyUrl = "https://example.com/n")) }
            }
            assertTrue(System.nanoTime() - started < 5_000_000_000L)
        }
    }

    @Test
    fun `a token provider supplies the access token`() = runBlocking<Unit> {
        val real = sb.mpClient().use { it.accessToken() }
        val calls = AtomicInteger()
        sb.mpClient(tokenProvider = { calls.incrementAndGet(); real }).use { mp ->
            assertEquals(real, mp.accessToken())
        }
        assertTrue(calls.get() >= 1)
    }

    @Test
    fun `a card token provider serves the card account`() = runBlocking<Unit> {
        val cardToken = sb.mpClient().use { mp -> mp.accessToken() }.let { _ ->
            // The card-owning account's token, fetched as its own client would.
            MiniProgramClient(MiniProgramConfig(appid = sb.credentials.cardAppid, secret = sb.credentials.cardSecret, baseUrl = sb.baseUrl))
                .use { it.accessToken() }
        }
        val calls = AtomicInteger()
        sb.mpClient(cardTokenProvider = { calls.incrementAndGet(); cardToken }).use { mp ->
            val cardId = "pFS7Fjg8kV1IdDz01r4SQwMkuCKc"
            sb.mpCreateCard(cardId)
            val item = mp.card.cardExt(cardId = cardId)
            assertEquals(cardId, item.cardId)
        }
        assertTrue(calls.get() >= 1)
    }
}
