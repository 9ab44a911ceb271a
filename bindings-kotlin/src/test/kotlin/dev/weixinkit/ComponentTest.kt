package dev.weixinkit

import com.sun.net.httpserver.HttpServer
import dev.weixinkit.internal.callableJson
import kotlinx.coroutines.runBlocking
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.buildJsonObject
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonPrimitive
import kotlinx.serialization.json.put
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Assumptions.assumeTrue
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import java.lang.reflect.Modifier
import java.net.InetSocketAddress
import java.net.URI
import java.net.URLDecoder
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.nio.charset.StandardCharsets
import java.nio.file.Files
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors
import kotlin.coroutines.Continuation

// The README's push endpoint ("Third-party platforms" in the Kotlin section), verbatim: a test
// below checks the README shows exactly these lines, and the tests run it as the sandbox's push URL.
// readme:start
/** The authorization event URL (授权事件接收URL): every push verified, decrypted, acted on. */
fun componentPushEndpoint(component: ComponentClient, port: Int = 8080): HttpServer =
    HttpServer.create(InetSocketAddress(port), 0).apply {
        executor = Executors.newCachedThreadPool()
        createContext("/wechat/component/push") { exchange ->
            val (status, answer) = try {
                runBlocking {
                    val query = exchange.requestURI.rawQuery ?: ""
                    val event = component.parsePush(query, exchange.requestBody.readAllBytes())
                    when (event["info_type"]?.jsonPrimitive?.content) {
                        // a merchant authorized the platform (or changed its grant): keep its tokens
                        "authorized", "updateauthorized" ->
                            component.authorize(event.getValue("authorization_code").jsonPrimitive.content)
                        // component_verify_ticket: stored by parsePush; unauthorized: forgotten by it
                        else -> Unit
                    }
                }
                200 to "success"
            } catch (e: SignatureError) {
                400 to "invalid push" // not from WeChat, or another Token / EncodingAESKey
            } catch (e: WeixinKitError) {
                500 to e.javaClass.simpleName // anything but `success`: the push failed
            }
            val bytes = answer.toByteArray()
            exchange.sendResponseHeaders(status, bytes.size.toLong())
            exchange.responseBody.use { it.write(bytes) }
        }
        start()
    }
// readme:end

/**
 * The third-party platform (第三方平台) through `ComponentClient` against the sandbox, which
 * plays WeChat's side with its own WXBizMsgCrypt: the README's push endpoint really serving the
 * sandbox's pushes, the token chain, setUserNotifyExt as the authorizer, revocation, a tampered
 * push, and what the client shows of itself. Expected values come from the sandbox's records
 * (its push deliveries, counters, notify_ext), never from our own output.
 */
class ComponentTest : SandboxTest() {
    private lateinit var component: ComponentClient
    private lateinit var endpoint: HttpServer
    private val http: HttpClient = HttpClient.newHttpClient()

    private val pushUrl get() = "http://127.0.0.1:${endpoint.address.port}/wechat/component/push"

    @BeforeEach
    fun platform() = runBlocking<Unit> {
        component = sb.componentClient()
        endpoint = componentPushEndpoint(component, port = 0)
        sb.component("config", mapOf("push_url" to pushUrl))
    }

    @AfterEach
    fun stopPlatform() {
        endpoint.stop(0)
        (endpoint.executor as ExecutorService).shutdownNow()
        component.close()
    }

    private val secrets get() = listOf(sb.componentConfig.componentAppsecret, sb.componentConfig.token!!, sb.componentConfig.encodingAesKey!!)

    private suspend fun counters(): JsonObject = sb.component("counters", null).obj

    private suspend fun refreshes(appid: String): Long = counters().o("refreshes").long(appid) ?: 0

    /** A push the sandbox made, delivered to the endpoint and answered `success`. */
    private fun assertDelivered(delivery: JsonObject) {
        assertEquals(true, (delivery["delivered"] as JsonPrimitive).content.toBoolean(), delivery.toString())
        assertEquals(200, delivery.int("status"))
        assertEquals("success", delivery.s("response"))
        assertTrue(delivery.s("url").startsWith(pushUrl), delivery.s("url"))
    }

    /** The ticket inside a ticket push (the sandbox's diagnostic copy of the event XML). */
    private fun ticketOf(delivery: JsonObject): String =
        Regex("<ComponentVerifyTicket><!\\[CDATA\\[(.*?)]]>").find(delivery.s("plaintext"))!!.groupValues[1]

    /** A delivery's query string as the sandbox sent it. */
    private fun rawQuery(delivery: JsonObject): String = URI.create(delivery.s("url")).rawQuery

    private fun queryMap(raw: String): Map<String, String> = raw.split("&").associate {
        val (k, v) = it.split("=", limit = 2)
        URLDecoder.decode(k, StandardCharsets.UTF_8) to URLDecoder.decode(v, StandardCharsets.UTF_8)
    }

    /** A ticket pushed and received; a merchant authorized through its push: its appid. */
    private suspend fun authorizedMerchant(fields: Map<String, Any?> = emptyMap()): String {
        assertDelivered(sb.component("push_ticket").obj)
        val granted = sb.component("authorize", fields).obj
        assertDelivered(granted.o("push"))
        return granted.s("authorizer_appid")
    }

    private fun notifyExt(openid: String, code: String) =
        SetUserNotifyExtRequest(openid, 1003, code, extJson = buildJsonObject { put("n", 1) })

    @Test
    fun `the README endpoint receives the pushes - ticket, token, authorize, setUserNotifyExt as the authorizer, revoke`() = runBlocking<Unit> {
        // (the sandbox lives for the class: its counters are compared with their values now)
        val before = counters()
        fun grown(now: JsonObject, key: String): Long = now.long(key)!! - before.long(key)!!

        // No ticket yet (a fresh client, its own memory store): a ConfigError saying so, nothing sent.
        val none = failsWith<ConfigError>(secrets) { component.componentAccessToken() }
        assertTrue(none.message!!.contains("component_verify_ticket"), none.message)
        assertEquals(0L, grown(counters(), "component_token_calls"))

        // The ticket push: answered `success` by the endpoint.
        val ticketPush = sb.component("push_ticket").obj
        assertDelivered(ticketPush)
        val ticket = ticketOf(ticketPush)
        // What parsePush makes of it (the same push again: an equal CreateTime changes nothing),
        // from the raw query string and from its parameters, bytes or text.
        val event = component.parsePush(rawQuery(ticketPush), ticketPush.s("envelope").toByteArray())
        assertEquals("component_verify_ticket", event.s("info_type"))
        assertEquals(sb.componentConfig.componentAppid, event.s("app_id"))
        assertEquals(ticketPush.long("create_time"), event.long("create_time"))
        assertFalse(event.toString().contains(ticket), "the ticket is never returned")
        assertEquals(event, component.parsePush(queryMap(rawQuery(ticketPush)), ticketPush.s("envelope")))
        assertEquals(event, component.parsePush("?" + rawQuery(ticketPush), ticketPush.s("envelope")))
        assertEquals(event, component.parsePushAsync(queryMap(rawQuery(ticketPush)), ticketPush.s("envelope").toByteArray()).get())

        // The component token, fetched once with that ticket.
        val componentToken = component.componentAccessToken()
        assertTrue(componentToken.isNotEmpty())
        assertEquals(componentToken, component.componentAccessToken())
        assertEquals(1L, grown(counters(), "component_token_calls"))

        // A merchant authorizes: the endpoint exchanged the code of the `authorized` push.
        val granted = sb.component("authorize").obj
        assertDelivered(granted.o("push"))
        val appid = granted.s("authorizer_appid")
        assertEquals(1L, grown(counters(), "query_auth_succeeded"))
        assertEquals(1L, grown(counters(), "component_token_calls"), "the same component token")
        val authorizedEvent = component.parsePush(rawQuery(granted.o("push")), granted.o("push").s("envelope"))
        assertEquals("authorized", authorizedEvent.s("info_type"))
        assertEquals(appid, authorizedEvent.s("authorizer_appid"))
        assertEquals(granted.s("authorization_code"), authorizedEvent.s("authorization_code"))
        // the code is single use: the endpoint already spent it
        val spent = failsWith<MiniProgramError>(secrets) { component.authorize(granted.s("authorization_code")) }
        assertEquals(61009L, spent.errcode)

        // As the merchant: setUserNotifyExt with the authorizer token queryAuth gave (no refresh).
        component.authorizer(appid).use { merchant ->
            assertEquals(appid, merchant.info.s("appid"))
            assertEquals(sb.componentConfig.componentAppid, merchant.info.s("component_appid"))
            val (openid, code) = sb.newNotifyCode()
            assertEquals(0, merchant.serviceCard.setUserNotifyExt(notifyExt(openid, code)).errcode)
            assertEquals(1, sb.mpNotifyExt(openid, code)!!.int("count"))
            assertEquals(0L, refreshes(appid))
            val token = component.authorizerAccessToken(appid)
            assertEquals(token, merchant.accessToken())
            assertFalse(merchant.toString().contains(token))

            // Revoked: the `unauthorized` push reaches the endpoint, parsePush forgets the
            // merchant, and its calls fail with NotAuthorizedError without a request.
            assertDelivered(sb.component("revoke", mapOf("authorizer_appid" to appid)).obj)
            val calls = sb.logFor("setUserNotifyExt").size
            val e = failsWith<NotAuthorizedError>(secrets + token) { merchant.serviceCard.setUserNotifyExt(notifyExt(openid, code)) }
            assertEquals(appid, e.authorizerAppid)
            assertTrue(e.message!!.contains(appid), e.message)
            val again = failsWith<NotAuthorizedError>(secrets) { component.authorizerAccessToken(appid) }
            assertEquals(appid, again.authorizerAppid)
            assertEquals(calls, sb.logFor("setUserNotifyExt").size, "nothing sent")
            assertEquals(0L, refreshes(appid), "no refresh attempted")
        }
    }

    @Test
    fun `a revoked refresh token answers 61023 once - NotAuthorizedError, and no more refreshes`() = runBlocking<Unit> {
        val appid = authorizedMerchant()
        component.authorizer(appid).use { merchant ->
            val (openid, code) = sb.newNotifyCode()
            merchant.serviceCard.setUserNotifyExt(notifyExt(openid, code))
            // The unauthorized push does not reach the app this time: the refresh token is what tells.
            sb.component("config", mapOf("push_url" to ""))
            sb.component("revoke", mapOf("authorizer_appid" to appid))
            val e = failsWith<NotAuthorizedError>(secrets) { merchant.serviceCard.setUserNotifyExt(notifyExt(openid, code)) }
            assertEquals(appid, e.authorizerAppid)
            val detail = e.detail!!.jsonPrimitive.content
            assertTrue(detail.contains("61023"), detail)
            assertEquals(1L, refreshes(appid))
            // stops refreshing: later calls fail the same way without a request
            val calls = sb.logFor("setUserNotifyExt").size
            val later = failsWith<NotAuthorizedError>(secrets) { merchant.serviceCard.setUserNotifyExt(notifyExt(openid, code)) }
            assertEquals(appid, later.authorizerAppid)
            assertEquals(1L, refreshes(appid))
            assertEquals(calls, sb.logFor("setUserNotifyExt").size)
        }
    }

    @Test
    fun `two instances on one Redis store share the ticket, the component token and the merchant's tokens`() = runBlocking<Unit> {
        val redis = RedisServer.start()
        assumeTrue(redis != null, "redis-server is not installed (CI installs it): the Redis store is not tested")
        redis!!.use { r ->
            // This instance (the README endpoint's) on Redis receives every push; the other never sees one.
            stopPlatform()
            component = sb.componentClient { it.copy(tokenStore = r.url(0)) }
            endpoint = componentPushEndpoint(component, port = 0)
            sb.component("config", mapOf("push_url" to pushUrl))
            ComponentClient(sb.componentConfig.copy(tokenStore = r.url(0))).use { other ->
                assertTrue(other.info.s("token_store").startsWith("redis"), other.info.toString())
                val before = counters()
                val appid = authorizedMerchant()
                // the component token the endpoint's authorize fetched, read from Redis: no fetch of its own
                assertEquals(component.componentAccessToken(), other.componentAccessToken())
                assertEquals(1L, counters().long("component_token_calls")!! - before.long("component_token_calls")!!)
                // the merchant's tokens stored by the endpoint's authorize: no refresh
                other.authorizer(appid).use { merchant ->
                    val (openid, code) = sb.newNotifyCode()
                    assertEquals(0, merchant.serviceCard.setUserNotifyExt(notifyExt(openid, code)).errcode)
                    assertEquals(component.authorizerAccessToken(appid), merchant.accessToken())
                    assertEquals(0L, refreshes(appid))
                }
                // revoked, pushed to the endpoint's instance: gone for the other one too
                assertDelivered(sb.component("revoke", mapOf("authorizer_appid" to appid)).obj)
                val e = failsWith<NotAuthorizedError>(secrets) { other.authorizerAccessToken(appid) }
                assertEquals(appid, e.authorizerAppid)
                assertEquals(0L, refreshes(appid))
            }
        }
    }

    @Test
    fun `without permission set 18 setUserNotifyExt is WeChat's documented MiniProgramError`() = runBlocking<Unit> {
        val appid = authorizedMerchant(mapOf("func_ids" to listOf(17, 19)))
        component.authorizer(appid).use { merchant ->
            val (openid, code) = sb.newNotifyCode()
            val e = failsWith<MiniProgramError>(secrets) { merchant.serviceCard.setUserNotifyExt(notifyExt(openid, code)) }
            assertEquals(61007L, e.errcode)
        }
    }

    @Test
    fun `a tampered push is a SignatureError, and the endpoint does not answer success`() = runBlocking<Unit> {
        val push = sb.component("push_ticket").obj
        assertDelivered(push)
        val envelope = push.s("envelope")
        val encrypt = Regex("<Encrypt><!\\[CDATA\\[(.*?)]]>").find(envelope)!!.groupValues[1]
        // one base64 character of the ciphertext changed
        val i = encrypt.length / 2
        val flipped = encrypt.substring(0, i) + (if (encrypt[i] == 'A') 'B' else 'A') + encrypt.substring(i + 1)
        val tampered = envelope.replace(encrypt, flipped)
        assertNotEquals(envelope, tampered)
        val e = failsWith<SignatureError>(secrets) { component.parsePush(rawQuery(push), tampered) }
        assertTrue(e.message!!.contains("msg_signature"), e.message)
        // a query whose msg_signature is not the body's
        val forged = queryMap(rawQuery(push)) + ("msg_signature" to sha1("forged".toByteArray()))
        failsWith<SignatureError>(secrets) { component.parsePush(forged, envelope) }

        // Over HTTP to the README endpoint: refused, not `success`.
        val request = HttpRequest.newBuilder(URI.create("$pushUrl?${rawQuery(push)}"))
            .POST(HttpRequest.BodyPublishers.ofString(tampered)).build()
        val answer = http.send(request, HttpResponse.BodyHandlers.ofString())
        assertEquals(400, answer.statusCode())
        assertNotEquals("success", answer.body())
    }

    @Test
    fun `toString of the client, its config and an authorizer shows no secret`() = runBlocking<Unit> {
        val config = sb.componentConfig
        val appid = authorizedMerchant()
        component.authorizer(appid).use { merchant ->
            val token = component.authorizerAccessToken(appid)
            val componentToken = component.componentAccessToken()
            val shown = listOf(component.toString(), component.info.toString(), config.toString(), merchant.toString(), merchant.info.toString())
            for (text in shown) {
                for (secret in secrets + token + componentToken) assertFalse(text.contains(secret), text)
            }
            assertTrue(component.toString().contains(config.componentAppid), component.toString())
            assertTrue(merchant.toString().contains(appid), merchant.toString())
        }
        // a bad setting is a typed error naming the key, with no secret in it
        val bad = failsWith<ValidationError>(secrets) { ComponentClient(config.copy(encodingAesKey = "short")) }
        assertEquals("encoding_aes_key", bad.field)
        val missing = failsWith<ConfigError>(secrets) { ComponentClient(config.copy(token = null)) }
        assertTrue(missing.message!!.contains("token"), missing.message)
    }

    @Test
    fun `the component surface is the core's callable names, each with its Async twin, and Java can build it`() {
        val callable = parse(callableJson("component")).jsonArray.map { methodName(it.jsonArray[0].jsonPrimitive.content) }.toSortedSet()
        val classes = listOf(ThirdPartyPlatformOperations::class.java, ComponentOperations::class.java)
        fun public(pick: (java.lang.reflect.Method) -> Boolean) =
            classes.flatMap { it.declaredMethods.filter { m -> Modifier.isPublic(m.modifiers) && pick(m) } }
        val suspend = public { it.parameterTypes.lastOrNull() == Continuation::class.java }.map { it.name }.toSortedSet()
        assertEquals(callable, suspend)
        assertEquals(suspend, public { it.name.endsWith("Async") }.map { it.name.removeSuffix("Async") }.toSortedSet())
        assertTrue(ThirdPartyPlatformOperations::class.java.isAssignableFrom(ComponentClient::class.java))
        assertTrue(AutoCloseable::class.java.isAssignableFrom(ComponentClient::class.java))
        ComponentClient::class.java.getConstructor(ComponentConfig::class.java)
        assertEquals(MiniProgramClient::class.java, ComponentClient::class.java.getMethod("authorizer", String::class.java).returnType)
        val future = java.util.concurrent.CompletableFuture::class.java
        for (types in listOf(
            listOf(String::class.java, ByteArray::class.java), listOf(String::class.java, String::class.java),
            listOf(Map::class.java, String::class.java), listOf(Map::class.java, ByteArray::class.java),
        )) {
            assertEquals(future, ComponentClient::class.java.getMethod("parsePushAsync", *types.toTypedArray()).returnType, "$types")
        }
        assertEquals(future, dev.weixinkit.testing.Sandbox::class.java.getMethod("componentAsync", String::class.java, Map::class.java).returnType)
        // NotAuthorizedError: a WeixinKitError with the core's fields
        assertTrue(WeixinKitError::class.java.isAssignableFrom(NotAuthorizedError::class.java))
        NotAuthorizedError::class.java.getMethod("getAuthorizerAppid")
    }

    @Test
    fun `the README shows the tested push endpoint verbatim`() {
        val source = Files.readString(repo.resolve("bindings-kotlin/src/test/kotlin/dev/weixinkit/ComponentTest.kt"))
        val tested = source.substringAfter("// readme:start\n").substringBefore("// readme:end").trimEnd()
        assertTrue(tested.lines().size > 20)
        val readme = Files.readString(repo.resolve("README.md"))
        val kotlin = readme.substringAfter("## Kotlin and Java").substringBefore("\n## ")
        assertTrue(kotlin.contains("### Third-party platforms (第三方平台)"))
        assertTrue(kotlin.contains(tested), "README.md's Kotlin section shows componentPushEndpoint as tested")
    }
}
