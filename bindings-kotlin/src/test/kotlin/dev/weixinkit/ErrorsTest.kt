package dev.weixinkit

import dev.weixinkit.testing.Sandbox
import kotlinx.coroutines.runBlocking
import kotlinx.serialization.json.int
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.assertThrows
import java.net.ServerSocket

/** Exception classes from real conditions the sandbox produces (the rest: ClientTest, CallbackTest). */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ErrorsTest {
    private val sb = Sandbox.startBlocking()

    @AfterAll
    fun close() = sb.close()

    private fun modify(pay: PayClient, stockId: String) = runBlocking {
        pay.busifavor.modifyStockInfo(stockId, ModifyStockInfoRequest(outRequestNo = uid(), comment = "c"))
    }

    private fun newStock(): String = runBlocking {
        val id = (2_000_000_000L + (Math.random() * 1e9).toLong()).toString()
        sb.createStock(id)
        id
    }

    @Test
    fun `SignatureError - a response whose signature the sandbox tampered with`() = runBlocking<Unit> {
        val stockId = newStock()
        sb.injectFault("ModifyStockInfo", "tamper_signature", count = 1)
        sb.payClient().use { pay -> assertThrows<SignatureError> { modify(pay, stockId) } }
    }

    @Test
    fun `TransportError - a reset connection with maxAttempts 1, and a port nothing listens on`() = runBlocking<Unit> {
        val stockId = newStock()
        sb.injectFault("ModifyStockInfo", "connection_reset", count = 1)
        sb.payClient { it.copy(maxAttempts = 1) }.use { pay ->
            val e = assertThrows<TransportError> { modify(pay, stockId) }
            assertTrue(e.retryable)
        }
        sb.clearFaults()
        val port = ServerSocket(0).use { it.localPort }
        sb.payClient { it.copy(baseUrl = "http://127.0.0.1:$port", backupBaseUrl = null, maxAttempts = 1) }.use { pay ->
            assertThrows<TransportError> { modify(pay, stockId) }
        }
    }

    @Test
    fun `TimeoutError - latency beyond a small timeout`() = runBlocking<Unit> {
        val stockId = newStock()
        sb.injectFault("ModifyStockInfo", "latency", count = 1, fields = mapOf("ms" to 1000))
        sb.payClient { it.copy(timeout = 0.2, maxAttempts = 1) }.use { pay ->
            assertThrows<TimeoutError> { modify(pay, stockId) }
        }
    }

    @Test
    fun `UnexpectedResponseError - a 405 without a WeChat error body`() = runBlocking<Unit> {
        val stockId = newStock()
        sb.payClient().use { pay ->
            val e = assertThrows<UnexpectedResponseError> {
                runBlocking { pay.request("GET", "/v3/marketing/busifavor/stocks/$stockId") }
            }
            assertEquals(405, e.status)
        }
    }

    @Test
    fun `MiniProgramError - an errcode the sandbox answers`() = runBlocking<Unit> {
        sb.mpAddErrcodeFault("*", 40013, count = 1)
        sb.mpClient().use { mp ->
            val e = assertThrows<MiniProgramError> { runBlocking { mp.accessToken() } }
            assertEquals(40013L, e.errcode)
            assertNotNull(e.errmsg)
        }
        sb.mpClearErrcodeFaults()
    }

    @Test
    fun `the sandbox helper - a bad control body is a ValidationError, counters count`() = runBlocking<Unit> {
        assertThrows<ValidationError> { runBlocking { sb.control("POST", "/sandbox/stocks", kotlinx.serialization.json.JsonPrimitive(1)) } }
        val stockId = newStock()
        sb.resetLog()
        sb.payClient().use { pay -> modify(pay, stockId) }
        assertEquals(1, sb.counters().getValue("requests").jsonObject.getValue("ModifyStockInfo").jsonPrimitive.int)
        assertEquals(1, sb.requests().size)
    }
}
