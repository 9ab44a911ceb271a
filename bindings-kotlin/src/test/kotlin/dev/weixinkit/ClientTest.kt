package dev.weixinkit

import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.runBlocking
import kotlinx.serialization.json.int
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

/** The stack end to end: typed calls through the native client against the sandbox. */
class ClientTest : SandboxTest() {
    private val pay = sb.payClient()

    @AfterAll
    fun closeClient() = pay.close()

    @Test
    fun `ModifyStockInfo answers 204 as Unit and reaches the sandbox`() = runBlocking<Unit> {
        val stockId = sb.newStock()
        val no = uid()
        val result: Unit = pay.busifavor.modifyStockInfo(stockId, ModifyStockInfoRequest(outRequestNo = no, comment = "活动使用"))
        assertEquals(Unit, result)
        val entry = sb.requests().map { it.jsonObject }.last { it["operation"]?.jsonPrimitive?.content == "ModifyStockInfo" }
        assertEquals(204, entry.getValue("status").jsonPrimitive.int)
        assertTrue(sb.stock(stockId).toString().contains(no))
    }

    @Test
    fun `SetCouponNotify answers its typed response`() = runBlocking<Unit> {
        val url = "https://example.com/wx/${uid()}"
        val r: SetCouponNotifyResponse = pay.busifavor.setCouponNotify(SetCouponNotifyRequest(notifyUrl = url))
        assertEquals(url, r.notifyUrl)
        assertNotNull(r.updateTime)
        assertEquals(url, sb.notifyUrl())
    }

    @Test
    fun `an unknown stock is an ApiError 404 with the documented code and solution`() = runBlocking<Unit> {
        val e = assertThrows<ApiError> {
            runBlocking { pay.busifavor.modifyStockInfo("404404404", ModifyStockInfoRequest(outRequestNo = uid(), comment = "c")) }
        }
        val base: WeixinKitError = e // ApiError is a WeixinKitError
        assertEquals(e, base)
        assertEquals(404, e.status)
        assertEquals("RESOURCE_NOT_EXISTS", e.code)
        assertNotNull(e.solution)
        assertNotNull(e.requestId)
        assertEquals(false, e.retryable)
    }

    @Test
    fun `a field breaking its rule is a ValidationError naming it, and nothing is sent`() = runBlocking<Unit> {
        val stockId = sb.newStock()
        val before = sb.requests().size
        val e = assertThrows<ValidationError> {
            runBlocking { pay.busifavor.modifyStockInfo(stockId, ModifyStockInfoRequest(outRequestNo = uid(), comment = "一".repeat(21))) }
        }
        assertEquals("comment", e.field)
        assertTrue(e.rule!!.contains("20"), e.rule)
        assertEquals(before, sb.requests().size)
    }

    @Test
    fun `a bad setting is a ConfigError naming the key`() {
        val e = assertThrows<ConfigError> { PayClient(sb.payConfig.copy(timeout = -1.0)) }
        assertTrue(e.message!!.contains("timeout"), e.message)
        val m = assertThrows<ConfigError> { MiniProgramClient(sb.mpConfig.copy(tokenEndpoint = "nope")) }
        assertTrue(m.message!!.contains("token_endpoint"), m.message)
    }

    @Test
    fun `http to a host that is not loopback needs dangerAllowInsecureHttp`() {
        val remote = "http://api.weixin.invalid" // .invalid never resolves
        val e = assertThrows<ConfigError> { PayClient(sb.payConfig.copy(baseUrl = remote)) }
        assertTrue(e.message!!.contains("`base_url` ($remote) uses http:// on a host that is not loopback"), e.message)
        assertTrue(e.message!!.contains("danger_allow_insecure_http"), e.message)
        assertThrows<ConfigError> { MiniProgramClient(sb.mpConfig.copy(baseUrl = remote)) }
        PayClient(sb.payConfig.copy(baseUrl = remote, dangerAllowInsecureHttp = true)).use {
            assertEquals(remote, it.info.getValue("base_url").jsonPrimitive.content)
        }
        MiniProgramClient(sb.mpConfig.copy(baseUrl = remote, dangerAllowInsecureHttp = true)).close()
    }

    @Test
    fun `info shows the client without secrets`() {
        assertEquals(sb.credentials.mchid, pay.info.getValue("mchid").jsonPrimitive.content)
        assertTrue(!pay.toString().contains("PRIVATE KEY"))
    }

    @Test
    fun `100 concurrent coroutine calls on one client`() = runBlocking<Unit> {
        val stockId = sb.newStock()
        sb.resetLog()
        coroutineScope {
            (1..100).map { i ->
                async { pay.busifavor.modifyStockInfo(stockId, ModifyStockInfoRequest(outRequestNo = "${uid()}$i", comment = "c$i")) }
            }.awaitAll()
        }
        val counters = sb.counters().getValue("requests").jsonObject
        assertEquals(100, counters.getValue("ModifyStockInfo").jsonPrimitive.int)
    }
}
