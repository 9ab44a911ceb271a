package dev.weixinkit

import kotlinx.coroutines.runBlocking
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

/**
 * COUPON.SEND notifications sent by the sandbox to a JDK HttpServer in this process and parsed
 * with `pay.parseNotification(headers, body)`, in public-key and in certificate mode; tampered
 * and stale ones are SignatureErrors.
 */
class NotificationTest : SandboxTest() {
    private val receiver = Receiver()

    @AfterAll
    fun closeReceiver() = receiver.close()

    private val secrets get() = secretsOf(sb.credentials)

    /** The parsed event is what the sandbox sent (its delivery report), decrypted. */
    private fun checkEvent(event: Notification, report: JsonObject) {
        val envelope = report.o("envelope")
        assertEquals(report.s("id"), event.id)
        assertEquals(envelope.s("id"), event.id)
        assertEquals(envelope.s("create_time"), event.createTime)
        assertEquals(envelope.s("event_type"), event.eventType)
        assertEquals(envelope.s("resource_type"), event.resourceType)
        assertEquals(envelope.str("summary") ?: "", event.summary)
        assertEquals("COUPON.SEND", event.eventType)
        // decrypted = what the sandbox encrypted
        assertEquals(report.o("payload"), testJson.encodeToJsonElement(BusifavorCouponEvent.serializer(), event.resource))
    }

    @Test
    fun `public-key mode - the raw body and the JDK's headers, as received`() = runBlocking<Unit> {
        sb.payClient().use { pay ->
            val code = uid("c")
            val d = sb.deliver(receiver, pay, mapOf("coupon_code" to code, "openid" to "oX1-$code"))
            assertEquals(sb.credentials.wechatpayPublicKeyId, d.headers.lowerCaseNames()["wechatpay-serial"])
            val event = pay.parseNotification(d.headers, d.body)
            checkEvent(event, d.report)
            assertEquals(code, event.resource.couponCode)
            assertEquals("oX1-$code", event.resource.openid)
            assertEquals(d.stockId, event.resource.stockId)
            // lower-case names too, and the Java form
            checkEvent(pay.parseNotification(d.headers.lowerCaseNames(), d.body), d.report)
            checkEvent(pay.parseNotificationAsync(d.headers, d.body).get(), d.report)
            val last = sb.notifications().last().jsonObject
            assertEquals(d.report.s("id"), last.s("id"))
            assertEquals(true, last.getValue("delivered").jsonPrimitive.content.toBoolean())
        }
    }

    @Test
    fun `replayGuard - the same notification parsed again is a ReplayError naming its id only`() = runBlocking<Unit> {
        sb.payClient { it.copy(replayGuard = "memory") }.use { pay ->
            val code = uid("replay")
            val d = sb.deliver(receiver, pay, mapOf("coupon_code" to code, "openid" to "oR-$code"))
            checkEvent(pay.parseNotification(d.headers, d.body), d.report)
            val e = failsWith<ReplayError>(secrets + listOf(code, "oR-$code")) { pay.parseNotification(d.headers, d.body) }
            assertEquals(d.report.s("id"), e.notificationId)
        }
    }

    @Test
    fun `the minimal variant - no summary, empty associated_data - parses too`() = runBlocking<Unit> {
        sb.payClient().use { pay ->
            val d = sb.deliver(receiver, pay, mapOf("variant" to "minimal"))
            val event = pay.parseNotification(d.headers, d.body)
            assertEquals(d.report.o("payload"), testJson.encodeToJsonElement(BusifavorCouponEvent.serializer(), event.resource))
            assertEquals("", parse(String(d.body)).jsonObject.o("resource").s("associated_data"))
        }
    }

    private fun certificateMode(configured: Boolean) = runBlocking<Unit> {
        val client = sb.payClient {
            if (configured) {
                it.copy(wechatpayPublicKeyId = null, wechatpayPublicKey = null, platformCertificates = listOf(sb.credentials.platformCertificate), downloadCertificates = false)
            } else {
                it.copy(wechatpayPublicKeyId = null, wechatpayPublicKey = null, downloadCertificates = true)
            }
        }
        client.use {
            sb.setSigningMode("certificate")
            val d = sb.deliver(receiver, client, mapOf("coupon_code" to "cert-${uid()}"))
            assertEquals(sb.credentials.platformSerialNo, d.headers.lowerCaseNames()["wechatpay-serial"])
            checkEvent(client.parseNotification(d.headers, d.body), d.report)
            assertEquals(listOf(sb.credentials.platformSerialNo), client.platformCertificateSerials())
            val downloads = sb.logFor("Certificates")
            if (configured) {
                assertEquals(0, downloads.size)
            } else {
                assertTrue(downloads.isNotEmpty())
                assertTrue(downloads.all { it.s("method") == "GET" && it.s("signature") == "ok" })
            }
            // a public-key-only client cannot verify a certificate-signed notification
            sb.payClient { it.copy(downloadCertificates = false) }.use { pk ->
                failsWith<SignatureError>(secrets) { pk.parseNotification(d.headers, d.body) }
            }
            // tampered and stale in certificate mode
            val tampered = d.body.copyOf().also { it[it.size / 2] = (it[it.size / 2] + 1).toByte() }
            failsWith<SignatureError>(secrets) { client.parseNotification(d.headers, tampered) }
            val stale = sb.deliver(receiver, client, mapOf("stale_timestamp" to true))
            failsWith<SignatureError>(secrets) { client.parseNotification(stale.headers, stale.body) }
        }
    }

    @Test
    fun `certificate mode with downloaded platform certificates`() = certificateMode(configured = false)

    @Test
    fun `certificate mode with configured platform_certificates`() = certificateMode(configured = true)

    @Test
    fun `notifications the sandbox spoiled - tamper_signature and stale_timestamp - are SignatureErrors`() = runBlocking<Unit> {
        sb.payClient().use { pay ->
            for (fault in listOf("tamper_signature", "stale_timestamp")) {
                val d = sb.deliver(receiver, pay, mapOf(fault to true))
                failsWith<SignatureError>(secrets) { pay.parseNotification(d.headers, d.body) }
            }
        }
    }

    @Test
    fun `tampering in the receiver - body, signature, nonce, missing header, unknown serial, another APIv3 key`() = runBlocking<Unit> {
        sb.payClient().use { pay ->
            val d = sb.deliver(receiver, pay)
            val headers = d.headers.lowerCaseNames()
            val envelope = parse(String(d.body)).jsonObject
            val changed = JsonObjectOf(envelope + ("summary" to kotlinx.serialization.json.JsonPrimitive("changed")))
            val sig = headers.getValue("wechatpay-signature")
            val spoiled = listOf(
                headers to changed.toString().toByteArray(),
                headers + ("wechatpay-signature" to (if (sig[0] != 'A') "A" else "B") + sig.drop(1)) to d.body,
                headers + ("wechatpay-nonce" to headers.getValue("wechatpay-nonce").reversed()) to d.body,
                headers - "wechatpay-signature" to d.body,
                headers + ("wechatpay-serial" to "PUB_KEY_ID_0000000000000000000000000000000000") to d.body,
            )
            for ((h, b) in spoiled) failsWith<SignatureError>(secrets) { pay.parseNotification(h, b) }
            sb.payClient { it.copy(apiv3Key = "0".repeat(32)) }.use { other ->
                failsWith<SignatureError>(secrets) { other.parseNotification(headers, d.body) }
            }
            // without an APIv3 key nothing can be decrypted
            sb.payClient { it.copy(apiv3Key = null) }.use { none ->
                failsWith<ConfigError>(secrets) { none.parseNotification(headers, d.body) }
            }
        }
    }

    @Test
    fun `a receiver answering 500 gets the notification again - the sandbox retries`() = runBlocking<Unit> {
        sb.payClient().use { pay ->
            pay.busifavor.setCouponNotify(SetCouponNotifyRequest(notifyUrl = receiver.url("/wx/retry/${uid()}")))
            receiver.status = 500
            val report = try {
                sb.sendCouponNotification(sb.newStock(), mapOf("max_attempts" to 2, "interval_ms" to 10))
            } finally {
                receiver.status = 200
            }
            assertEquals("false", report.getValue("delivered").jsonPrimitive.content)
            assertEquals(listOf(500, 500), report.arr("attempts").map { it.jsonObject.int("status") })
            assertTrue(sb.counters().o("notifications").int("attempts")!! >= 2)
        }
    }
}
