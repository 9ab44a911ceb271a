package dev.weixinkit

import dev.weixinkit.internal.errorKindsJson
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

/** What Java callers and the error mapping rely on. */
class SurfaceTest {
    @Test
    fun `every error kind of the core has its class, a WeixinKitError`() {
        val kinds = Json.parseToJsonElement(errorKindsJson()).jsonArray
        assertTrue(kinds.size >= 10)
        for (kind in kinds) {
            val name = kind.jsonObject.getValue("class_name").jsonPrimitive.content
            val cls = Class.forName("dev.weixinkit.$name")
            assertTrue(WeixinKitError::class.java.isAssignableFrom(cls), name)
        }
    }

    @Test
    fun `the client constructors are callable from Java`() {
        assertNotNull(PayClient::class.java.getConstructor(PayConfig::class.java))
        assertNotNull(PayClient::class.java.getConstructor(PayConfig::class.java, Signer::class.java))
        assertNotNull(MiniProgramClient::class.java.getConstructor(MiniProgramConfig::class.java))
        assertNotNull(
            MiniProgramClient::class.java.getConstructor(MiniProgramConfig::class.java, TokenProvider::class.java, TokenProvider::class.java),
        )
        assertNotNull(dev.weixinkit.testing.Sandbox::class.java.getMethod("startBlocking"))
    }

    @Test
    fun `every generated data class has a Java Builder with a setter per property, and toBuilder round-trips`() {
        for (cls in listOf(
            PayConfig::class.java, MiniProgramConfig::class.java, ModifyStockInfoRequest::class.java, SetCouponNotifyRequest::class.java,
            SetUserNotifyExtRequest::class.java, GetStableAccessTokenRequest::class.java, AddCardListItem::class.java,
        )) {
            val builder = Class.forName(cls.name + "\$Builder")
            val properties = cls.declaredFields.filter { !java.lang.reflect.Modifier.isStatic(it.modifiers) }.map { it.name }
            assertTrue(properties.isNotEmpty(), cls.simpleName)
            val setters = builder.methods.filter { it.parameterCount == 1 && it.returnType == builder }.map { it.name }.toSet()
            assertEquals(properties.toSet(), setters, "${cls.simpleName}.Builder")
            assertEquals(cls, builder.getMethod("build").returnType)
            assertEquals(builder, cls.getMethod("toBuilder").returnType)
        }
        val config = PayConfig(mchid = "1", serialNo = "2", privateKey = "k", maxAttempts = 2, platformCertificates = listOf("c"))
        assertEquals(config, config.toBuilder().build())
        assertEquals(config.copy(timeout = 1.5), config.toBuilder().timeout(1.5).build())
        assertEquals(
            ModifyStockInfoRequest(outRequestNo = "n", comment = "c"),
            ModifyStockInfoRequest.Builder("n").comment("c").build(),
        )
    }

    @Test
    fun `Java forms - static adapters and CompletableFuture variants`() {
        val future = java.util.concurrent.CompletableFuture::class.java
        assertTrue(java.lang.reflect.Modifier.isStatic(Signer::class.java.getMethod("blocking", BlockingSigner::class.java).modifiers))
        assertTrue(java.lang.reflect.Modifier.isStatic(Signer::class.java.getMethod("async", AsyncSigner::class.java).modifiers))
        assertTrue(java.lang.reflect.Modifier.isStatic(TokenProvider::class.java.getMethod("blocking", BlockingTokenProvider::class.java).modifiers))
        assertTrue(java.lang.reflect.Modifier.isStatic(TokenProvider::class.java.getMethod("async", AsyncTokenProvider::class.java).modifiers))
        for (name in listOf("buildAuthorizationAsync", "verifySignatureAsync")) {
            val m = WeixinKitCrypto::class.java.methods.single { it.name == name }
            assertTrue(java.lang.reflect.Modifier.isStatic(m.modifiers) && m.returnType == future, name)
        }
        val sandbox = dev.weixinkit.testing.Sandbox::class.java
        assertTrue(java.lang.reflect.Modifier.isStatic(sandbox.getMethod("startAsync").modifiers))
        for (name in listOf("createStockAsync", "stockAsync", "requestsAsync", "countersAsync", "resetLogAsync", "injectFaultAsync",
            "clearFaultsAsync", "setMainDownAsync", "setSigningModeAsync", "sendCouponNotificationAsync", "notificationsAsync",
            "mpCountersAsync", "stopAsync")) {
            assertTrue(sandbox.methods.any { it.name == name && it.returnType == future }, name)
        }
        assertTrue(AutoCloseable::class.java.isAssignableFrom(sandbox))
    }
}
