package dev.weixinkit

import dev.weixinkit.internal.errorKindsJson
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
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
    fun `the config builders have a setter for every configuration property`() {
        for ((config, builder) in listOf(
            PayConfig::class.java to PayConfigBuilder::class.java,
            MiniProgramConfig::class.java to MiniProgramConfigBuilder::class.java,
        )) {
            // the data class's properties (its component functions' names are the getters')
            val properties = config.declaredFields.filter { !java.lang.reflect.Modifier.isStatic(it.modifiers) }.map { it.name }
            assertTrue(properties.size >= 5, config.simpleName)
            val setters = builder.methods.filter { it.parameterCount == 1 && it.returnType == builder }.map { it.name }.toSet()
            for (p in properties) assertTrue(p in setters, "${builder.simpleName}.$p")
            assertNotNull(builder.getMethod("build"))
            assertNotNull(builder.getMethod("from", config))
        }
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
