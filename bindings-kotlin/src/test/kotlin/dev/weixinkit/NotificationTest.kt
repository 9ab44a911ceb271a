package dev.weixinkit

import com.sun.net.httpserver.HttpServer
import dev.weixinkit.testing.Sandbox
import kotlinx.coroutines.runBlocking
import kotlinx.serialization.json.jsonPrimitive
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import java.net.InetSocketAddress
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit

/** A sandbox notification delivered to a JDK HTTP server, verified and decrypted by parseNotification. */
class NotificationTest {
    private class Delivery(val headers: Map<String, String>, val body: ByteArray)

    @Test
    fun `parseNotification verifies and decrypts a delivered COUPON_SEND`(): Unit = runBlocking {
        val received = LinkedBlockingQueue<Delivery>()
        val server = HttpServer.create(InetSocketAddress("127.0.0.1", 0), 0)
        server.createContext("/wx/coupon") { exchange ->
            val body = exchange.requestBody.readAllBytes()
            val headers = exchange.requestHeaders.mapValues { it.value.first() }
            received.add(Delivery(headers, body))
            val answer = """{"code":"SUCCESS","message":"成功"}""".toByteArray()
            exchange.responseHeaders.add("Content-Type", "application/json")
            exchange.sendResponseHeaders(200, answer.size.toLong())
            exchange.responseBody.use { it.write(answer) }
        }
        server.start()
        try {
            Sandbox.start().use { sb ->
                sb.payClient().use { pay ->
                    val stockId = "8800000001"
                    sb.createStock(stockId)
                    pay.busifavor.setCouponNotify(SetCouponNotifyRequest(notifyUrl = "http://127.0.0.1:${server.address.port}/wx/coupon"))
                    sb.sendCouponNotification(stockId)
                    val delivery = received.poll(10, TimeUnit.SECONDS)!!
                    val event = pay.parseNotification(delivery.headers, delivery.body)
                    assertEquals("COUPON.SEND", event.eventType)
                    assertEquals("encrypt-resource", event.resourceType)
                    // resource: the decrypted coupon (stock_id, coupon_code …).
                    assertEquals(stockId, event.resource.stockId, event.resource.toString())

                    // A tampered body fails verification.
                    val tampered = delivery.body.copyOf().also { it[it.size / 2] = (it[it.size / 2] + 1).toByte() }
                    assertThrows<SignatureError> { runBlocking { pay.parseNotification(delivery.headers, tampered) } }
                }
            }
        } finally {
            server.stop(0)
        }
    }
}
