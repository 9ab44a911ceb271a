package dev.weixinkit

import com.wechat.pay.java.core.RSAPublicKeyConfig
import com.wechat.pay.java.core.exception.ServiceException
import com.wechat.pay.java.core.exception.ValidationException
import com.wechat.pay.java.core.http.Constant
import com.wechat.pay.java.core.http.DefaultHttpClientBuilder
import com.wechat.pay.java.core.http.HttpClient
import com.wechat.pay.java.core.http.HttpHeaders
import com.wechat.pay.java.core.http.HttpRequest
import com.wechat.pay.java.core.http.HttpResponse
import com.wechat.pay.java.core.http.JsonRequestBody
import com.wechat.pay.java.core.http.MediaType
import com.wechat.pay.java.service.merchantexclusivecoupon.MerchantExclusiveCouponService
import com.wechat.pay.java.service.merchantexclusivecoupon.model.SetCouponNotifyRequest as WxSetCouponNotifyRequest
import com.wechat.pay.java.service.merchantexclusivecoupon.model.ModifyStockInfoRequest as WxModifyStockInfoRequest
import dev.weixinkit.testing.Sandbox
import kotlinx.coroutines.runBlocking
import kotlinx.serialization.json.JsonObject
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
import okhttp3.Headers
import okhttp3.OkHttpClient
import java.io.InputStream
import java.security.KeyPairGenerator
import java.util.Base64

/**
 * The sandbox looks like WeChat Pay to the official Java SDK, wechatpay-java 0.2.17 (issue 13):
 * its validator reads `Wechatpay-Timestamp`, `Wechatpay-Nonce`, `Wechatpay-Signature` and
 * `Wechatpay-Serial` from a case-sensitive map (`HttpHeaders` over a `HashMap`, filled with the
 * names exactly as OkHttp received them), so a server answering `wechatpay-timestamp` fails every
 * call with `Validate http response,timestamp[null]`. WeChat writes those names and `Request-ID`
 * capitalised; so does the sandbox.
 *
 * wechatpay-java in public-key mode ([RSAPublicKeyConfig]), its own busifavor service
 * ([MerchantExclusiveCouponService]: 商家券) and its own OkHttp client. The service writes
 * `https://api.mch.weixin.qq.com/…` into every request and its `HostName` is an enum of WeChat's
 * two hosts, so the SDK's public `HttpClient` interface is wrapped ([ToSandbox]) to send the same
 * request, signed by the SDK for the same path, to the sandbox's base URL.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class WechatpayJavaTest {
    private val sb = Sandbox.startBlocking()
    private val c = sb.credentials

    @AfterAll
    fun close() = sb.close()

    /** The SDK's configuration in public-key mode (微信支付公钥) for this sandbox's merchant. */
    private fun config(publicKey: String = c.wechatpayPublicKey, privateKey: String = c.merchantPrivateKey) =
        RSAPublicKeyConfig.Builder()
            .merchantId(c.mchid)
            .privateKey(privateKey)
            .merchantSerialNumber(c.serialNo)
            .publicKey(publicKey)
            .publicKeyId(c.wechatpayPublicKeyId)
            .apiV3Key(c.apiv3Key)
            .build()

    private fun httpClient(config: RSAPublicKeyConfig): HttpClient =
        ToSandbox(DefaultHttpClientBuilder().config(config).build(), sb.baseUrl)

    private fun service(config: RSAPublicKeyConfig = config()): MerchantExclusiveCouponService =
        MerchantExclusiveCouponService.Builder().httpClient(httpClient(config)).build()

    private fun newStock(): String {
        val id = (1_000_000_000L + (Math.random() * 1e9).toLong()).toString()
        runBlocking { sb.createStock(id) }
        return id
    }

    private fun modify(stockId: String, outRequestNo: String) = WxModifyStockInfoRequest().apply {
        this.stockId = stockId
        this.outRequestNo = outRequestNo
        comment = "活动使用"
    }

    private fun lastLogged(operation: String): JsonObject = runBlocking { sb.requests() }
        .map { it.jsonObject }
        .last { it["operation"]?.jsonPrimitive?.content == operation }

    /** A PEM public key that is not WeChat Pay's (a fresh RSA-2048 key). */
    private fun strangerPublicKey(): String {
        val pair = KeyPairGenerator.getInstance("RSA").apply { initialize(2048) }.generateKeyPair()
        val b64 = Base64.getMimeEncoder(64, "\n".toByteArray()).encodeToString(pair.public.encoded)
        return "-----BEGIN PUBLIC KEY-----\n$b64\n-----END PUBLIC KEY-----\n"
    }

    @Test
    fun `wechatpay-java ModifyStockInfo succeeds, request verified by the sandbox and response by the SDK`() {
        val stockId = newStock()
        val no = uid()
        service().modifyStockInfo(modify(stockId, no)) // void: 204, response signature checked
        val entry = lastLogged("ModifyStockInfo")
        assertEquals(204, entry.getValue("status").jsonPrimitive.int)
        assertEquals("ok", entry.getValue("signature").jsonPrimitive.content, "the sandbox verified the SDK's signature")
        assertTrue(runBlocking { sb.stock(stockId) }.toString().contains(no))
    }

    @Test
    fun `wechatpay-java SetCouponNotify succeeds with its typed response`() {
        val url = "https://example.com/wx/${uid()}"
        val r = service().setCouponNotify(WxSetCouponNotifyRequest().apply { mchid = c.mchid; notifyUrl = url })
        assertEquals(url, r.notifyUrl)
        assertEquals(c.mchid, r.mchid)
        assertNotNull(r.updateTime)
        val entry = lastLogged("SetCouponNotify")
        assertEquals(200, entry.getValue("status").jsonPrimitive.int)
        assertEquals("ok", entry.getValue("signature").jsonPrimitive.content)
        assertEquals(url, runBlocking { sb.notifyUrl() })
    }

    @Test
    fun `the response header names are WeChat's, exactly as the SDK looks them up`() {
        val stockId = newStock()
        val headers = HttpHeaders().apply {
            addHeader(Constant.ACCEPT, MediaType.APPLICATION_JSON.value)
            addHeader(Constant.CONTENT_TYPE, MediaType.APPLICATION_JSON.value)
        }
        val body = JsonRequestBody.Builder().body("""{"out_request_no":"${uid()}","comment":"活动使用"}""").build()
        // The SDK's generic call (what a user does for an API its services lack).
        val response: HttpResponse<Any> = httpClient(config())
            .patch(headers, "https://api.mch.weixin.qq.com/v3/marketing/busifavor/stocks/$stockId", body, null)
        val names = response.headers.headers.keys
        for (name in listOf("Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Signature", "Wechatpay-Serial", "Request-ID")) {
            assertTrue(name in names, "$name (exact case) in $names")
        }
        assertEquals(c.wechatpayPublicKeyId, response.headers.getHeader(Constant.WECHAT_PAY_SERIAL))
        assertEquals(lastLogged("ModifyStockInfo").getValue("request_id").jsonPrimitive.content, response.headers.getHeader(Constant.REQUEST_ID))
    }

    @Test
    fun `the same answers with lower-case header names are rejected by the SDK, as the issue says`() {
        // What a server answering `wechatpay-timestamp` gets: OkHttp keeps names as received.
        val lowerCasing = OkHttpClient.Builder().addNetworkInterceptor { chain ->
            val response = chain.proceed(chain.request())
            val lower = Headers.Builder()
            response.headers.forEach { (name, value) -> lower.add(name.lowercase(), value) }
            response.newBuilder().headers(lower.build()).build()
        }.build()
        val client = ToSandbox(DefaultHttpClientBuilder().config(config()).okHttpClient(lowerCasing).build(), sb.baseUrl)
        val service = MerchantExclusiveCouponService.Builder().httpClient(client).build()
        val e = assertThrows<IllegalArgumentException> { service.modifyStockInfo(modify(newStock(), uid())) }
        assertTrue(e.message!!.contains("timestamp[null]"), e.message)
    }

    @Test
    fun `with a wrong WeChat Pay public key the SDK rejects the sandbox's signed answer`() {
        val stockId = newStock()
        val no = uid()
        val e = assertThrows<ValidationException> { service(config(publicKey = strangerPublicKey())).modifyStockInfo(modify(stockId, no)) }
        assertTrue(e.message!!.contains("signature is incorrect"), e.message)
        // The request itself was fine: verified and applied; only the answer failed verification.
        val entry = lastLogged("ModifyStockInfo")
        assertEquals(204, entry.getValue("status").jsonPrimitive.int)
        assertEquals("ok", entry.getValue("signature").jsonPrimitive.content)
        assertThrows<ValidationException> {
            service(config(publicKey = strangerPublicKey()))
                .setCouponNotify(WxSetCouponNotifyRequest().apply { mchid = c.mchid; notifyUrl = "https://example.com/wx/x" })
        }
    }

    @Test
    fun `a request signed with another merchant key is refused by the sandbox (401 SIGN_ERROR)`() {
        val other = KeyPairGenerator.getInstance("RSA").apply { initialize(2048) }.generateKeyPair()
        val pem = "-----BEGIN PRIVATE KEY-----\n" +
            Base64.getMimeEncoder(64, "\n".toByteArray()).encodeToString(other.private.encoded) + "\n-----END PRIVATE KEY-----\n"
        val e = assertThrows<ServiceException> { service(config(privateKey = pem)).modifyStockInfo(modify(newStock(), uid())) }
        assertEquals(401, e.httpStatusCode)
        assertEquals("SIGN_ERROR", e.errorCode)
        assertEquals(401, lastLogged("ModifyStockInfo").getValue("status").jsonPrimitive.int)
    }
}

/**
 * wechatpay-java's [HttpClient] with WeChat's host replaced by [baseUrl] (the sandbox): the SDK's
 * services write `https://api.mch.weixin.qq.com/…`, and its `HostName` can only name WeChat's
 * hosts. The delegate (the SDK's OkHttp client) signs the path and query, which do not change.
 */
class ToSandbox(private val delegate: HttpClient, baseUrl: String) : HttpClient {
    private val base = baseUrl.trimEnd('/')

    private fun rewrite(url: String) = url.replaceFirst("https://api.mch.weixin.qq.com", base)

    override fun <T> execute(request: HttpRequest, responseClass: Class<T>?): HttpResponse<T> =
        delegate.execute(
            HttpRequest.Builder()
                .httpMethod(request.httpMethod)
                .url(rewrite(request.url.toString()))
                .headers(request.headers)
                .body(request.body)
                .build(),
            responseClass,
        )

    override fun download(url: String): InputStream = delegate.download(rewrite(url))
}
