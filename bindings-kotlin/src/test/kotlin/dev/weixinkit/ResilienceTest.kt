package dev.weixinkit

import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.delay
import kotlinx.coroutines.withTimeout
import kotlinx.serialization.json.JsonNull
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

/** Retries, failover, timeouts and resets as the sandbox's request log saw them. */
class ResilienceTest : SandboxTest() {
    private val modifyPath = "/v3/marketing/busifavor/stocks/{stock_id}"

    private suspend fun modify(pay: PayClient, stockId: String, no: String = uid()) =
        pay.busifavor.modifyStockInfo(stockId, ModifyStockInfoRequest(outRequestNo = no, comment = "r"))

    private fun faults(entry: kotlinx.serialization.json.JsonObject) = entry.arr("faults").map { it.jsonPrimitive.content }

    @Test
    fun `a system_error once, then success - 2 requests, the same body, applied once`() = runBlocking<Unit> {
        val stockId = sb.newStock()
        sb.injectFault("ModifyStockInfo", "system_error", count = 1)
        val no = uid()
        sb.payClient().use { pay -> assertEquals(Unit, modify(pay, stockId, no)) }
        val log = sb.logFor("ModifyStockInfo")
        assertEquals(listOf(500, 204), log.map { it.int("status") })
        assertEquals(listOf(listOf("system_error"), listOf()), log.map(::faults))
        assertEquals(1, log.map { it.s("body") }.toSet().size)
        assertTrue(log.all { it.s("signature") == "ok" })
        assertEquals(listOf(no), sb.stock(stockId)!!.arr("applied_out_request_nos").map { it.jsonPrimitive.content })
    }

    @Test
    fun `a persistent system_error is an ApiError after maxAttempts - 1 and 3`() = runBlocking<Unit> {
        val stockId = sb.newStock()
        sb.injectFault("ModifyStockInfo", "system_error")
        val row = documentedPay(modifyPath, "patch", 500, "SYSTEM_ERROR", "系统异常,请稍后重试")
        for (attempts in listOf(1, 3)) {
            sb.resetLog()
            sb.payClient { it.copy(maxAttempts = attempts) }.use { pay ->
                val e = failsWith<ApiError>(secretsOf(sb.credentials)) { modify(pay, stockId) }
                assertEquals(listOf<Any?>(500, "SYSTEM_ERROR", true, row.s("solution")), listOf(e.status, e.code, e.retryable, e.solution))
            }
            assertEquals(attempts, sb.requests().size)
        }
    }

    @Test
    fun `a 429 once is retried`() = runBlocking<Unit> {
        val stockId = sb.newStock()
        sb.injectFault("ModifyStockInfo", "frequency_limited", count = 1)
        sb.payClient().use { pay -> modify(pay, stockId) }
        assertEquals(listOf(429, 204), sb.requests().map { it.jsonObject.int("status") })
    }

    @Test
    fun `main listener down - served by the backup, up again - served by main`() = runBlocking<Unit> {
        val stockId = sb.newStock()
        sb.setMainDown()
        sb.payClient().use { pay -> assertEquals(Unit, modify(pay, stockId)) }
        val log = sb.requests().map { it.jsonObject }
        assertEquals("backup", log.last().s("listener"))
        assertEquals(204, log.last().int("status"))
        assertEquals(listOf("main_down"), faults(log.first()))
        sb.setMainDown(false)
        sb.resetLog()
        sb.payClient().use { pay -> modify(pay, stockId) }
        assertEquals(listOf("main"), sb.requests().map { it.jsonObject.s("listener") })
    }

    @Test
    fun `connection_reset once is retried on the backup`() = runBlocking<Unit> {
        val stockId = sb.newStock()
        sb.injectFault("ModifyStockInfo", "connection_reset", count = 1)
        sb.payClient().use { pay -> modify(pay, stockId) }
        assertEquals(
            listOf("main" to null, "backup" to 204),
            sb.requests().map { it.jsonObject.let { e -> e.s("listener") to e.int("status") } },
        )
    }

    @Test
    fun `connection_reset without a backup - retried up to maxAttempts then TransportError, maxAttempts 1 - no retry`() = runBlocking<Unit> {
        val stockId = sb.newStock()
        sb.injectFault("ModifyStockInfo", "connection_reset")
        sb.payClient { it.copy(backupBaseUrl = null) }.use { pay -> failsWith<TransportError> { modify(pay, stockId) } }
        var log = sb.requests().map { it.jsonObject }
        assertEquals(3, log.size)
        assertEquals(setOf("main"), log.map { it.s("listener") }.toSet())
        sb.resetLog()
        sb.payClient { it.copy(maxAttempts = 1) }.use { pay ->
            val e = failsWith<TransportError>(secretsOf(sb.credentials)) { modify(pay, stockId) }
            assertTrue(e.retryable)
        }
        log = sb.requests().map { it.jsonObject }
        assertEquals(1, log.size)
        assertEquals(JsonNull, log[0]["status"])
        assertEquals(0, sb.stock(stockId)!!.arr("applied_out_request_nos").size)
    }

    @Test
    fun `latency beyond the timeout is a TimeoutError at the timeout, within it, success`() = runBlocking<Unit> {
        val stockId = sb.newStock()
        sb.injectFault("ModifyStockInfo", "latency", count = 2, fields = mapOf("ms" to 3000))
        sb.payClient { it.copy(timeout = 0.1, maxAttempts = 2) }.use { pay -> failsWith<TimeoutError> { modify(pay, stockId) } }
        // Gave up at the timeout, before the server answered either attempt (it logs a request
        // when it answers, 3 s after receiving it) — no clock read, so no flake under load.
        assertEquals(0, sb.logFor("ModifyStockInfo").size, "the client waited for the server's answer")
        assertEquals(0, sb.faults().size) // both attempts were sent
        // Let both late answers land now, not in another test's request log.
        withTimeout(15_000) { while (sb.logFor("ModifyStockInfo").size < 2) delay(50) }
        sb.injectFault("ModifyStockInfo", "latency", count = 1, fields = mapOf("ms" to 50))
        sb.payClient { it.copy(timeout = 2.0) }.use { pay -> assertEquals(Unit, modify(pay, stockId)) }
    }

    @Test
    fun `mini-program - system busy is retried, 45009 daily quota never is`() = runBlocking<Unit> {
        val counters = sb.mpDelta()
        val (openid, code) = sb.newNotifyCode()
        sb.mpClient().use { mp ->
            sb.mpAddErrcodeFault("/wxa/set_user_notifyext", -1, count = 2)
            mp.serviceCard.setUserNotifyExt(SetUserNotifyExtRequest(openid, 1003, code, jsonOf(mapOf("a" to 1))))
            assertEquals(3, counters().count("calls", "setUserNotifyExt"))
            assertEquals(1, sb.mpNotifyExt(openid, code)!!.int("count"))
            sb.injectFault("setUserNotifyExt", "daily_quota")
            val e = failsWith<MiniProgramError> { mp.serviceCard.setUserNotifyExt(SetUserNotifyExtRequest(openid, 1003, code, jsonOf(emptyMap<String, Int>()))) }
            assertEquals(45009L, e.errcode)
        }
        assertEquals(1, sb.logFor("setUserNotifyExt").count { "daily_quota" in faults(it) }) // sent once, not retried
    }

    @Test
    fun `16 concurrent calls on one client all succeed, each applied once`() = runBlocking<Unit> {
        // Correctness only: how fast is `cargo xtask bench`'s job, never a timed assertion here.
        val stockId = sb.newStock()
        sb.injectFault("ModifyStockInfo", "latency", fields = mapOf("ms" to 150))
        val numbers = (1..16).map { uid() }
        sb.payClient().use { pay ->
            coroutineScope { numbers.map { no -> async { modify(pay, stockId, no) } }.awaitAll() }
        }
        assertEquals(numbers.sorted(), sb.stock(stockId)!!.arr("applied_out_request_nos").map { it.jsonPrimitive.content }.sorted())
        // Every call reached the server signed and was answered (a retry under load — the call
        // is idempotent — may add an entry, never a different request).
        val log = sb.logFor("ModifyStockInfo")
        assertTrue(log.size >= 16 && log.all { it.s("signature") == "ok" && it.int("status") == 204 })
    }
}
