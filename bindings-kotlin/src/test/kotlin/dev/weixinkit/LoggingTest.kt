package dev.weixinkit

import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import java.util.concurrent.CopyOnWriteArrayList

/** WeixinKit.setLogger (issue 16 part 4): the records calls against the sandbox produce. */
class LoggingTest : SandboxTest() {
    @AfterEach
    fun noLogger() {
        WeixinKit.setLogger(null)
    }

    private suspend fun modify(pay: PayClient, stockId: String, no: String = uid()) =
        pay.busifavor.modifyStockInfo(stockId, ModifyStockInfoRequest(outRequestNo = no, comment = "logged-comment-body"))

    private fun assertNoSecrets(records: List<LogRecord>, vararg extra: String) {
        val c = sb.credentials
        val text = records.joinToString("\n")
        val keyLine = c.merchantPrivateKey.lines()[5]
        for (secret in listOf(keyLine, c.apiv3Key, c.secret, "access_token=", "/v3/", "logged-comment-body") + extra) {
            assertTrue(secret.isNotEmpty() && secret !in text, secret)
        }
    }

    @Test
    fun `an answer is a record with the call, the attempt and the Request-ID`() = runBlocking<Unit> {
        val records = CopyOnWriteArrayList<LogRecord>()
        assertTrue(WeixinKit.setLogger(LogLevel.DEBUG) { records.add(it) })
        val stockId = sb.newStock()
        val no = uid()
        sb.payClient().use { pay -> modify(pay, stockId, no) }
        val answered = records.filter { it.message == "answered" }
        assertEquals(1, answered.size, records.toString())
        val requestId = sb.logFor("ModifyStockInfo").first().s("request_id")
        assertEquals(
            LogRecord(
                LogLevel.INFO, "weixin_kit", "answered",
                mapOf(
                    "operation" to "ModifyStockInfo", "family" to "pay", "attempt" to 1L, "host" to "main",
                    "status" to 204L, "request_id" to requestId, "latency_ms" to answered[0].fields["latency_ms"]!!,
                ),
            ),
            answered[0],
        )
        assertEquals(listOf(LogLevel.DEBUG to "ok"), records.filter { it.message == "response verified" }.map { it.level to it.fields["verification"] })
        assertNoSecrets(records, stockId, no)
    }

    @Test
    fun `a retry at info, a failed verification at warn, nothing after setLogger(null)`() = runBlocking<Unit> {
        val records = CopyOnWriteArrayList<LogRecord>()
        WeixinKit.setLogger { records.add(it) }
        val stockId = sb.newStock()
        sb.injectFault("ModifyStockInfo", "system_error", count = 1)
        sb.payClient().use { pay -> modify(pay, stockId) }
        assertEquals(
            listOf("server error" to "backup"),
            records.filter { it.message == "retrying" }.map { it.fields["retry_reason"] to it.fields["next_host"] },
        )
        assertTrue(records.none { it.level == LogLevel.DEBUG })

        records.clear()
        WeixinKit.setLogger(LogLevel.WARN) { records.add(it) }
        sb.injectFault("ModifyStockInfo", "tamper_signature", count = 1)
        sb.payClient().use { pay -> failsWith<SignatureError>(secretsOf(sb.credentials)) { modify(pay, stockId) } }
        assertEquals(
            listOf(Triple(LogLevel.WARN, "response verification failed", "SignatureError")),
            records.map { Triple(it.level, it.message, it.fields["error_kind"]) },
        )
        assertNoSecrets(records, stockId)

        records.clear()
        WeixinKit.setLogger(null)
        sb.payClient().use { pay -> modify(pay, stockId) }
        assertFalse(records.isNotEmpty(), records.toString())
    }
}
