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
}
