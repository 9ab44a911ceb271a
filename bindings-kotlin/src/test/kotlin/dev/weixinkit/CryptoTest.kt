package dev.weixinkit

import kotlinx.coroutines.runBlocking
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.boolean
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import kotlinx.serialization.json.long
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.DynamicTest
import org.junit.jupiter.api.DynamicTest.dynamicTest
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestFactory
import java.security.KeyFactory
import java.security.Signature
import java.security.spec.X509EncodedKeySpec
import java.util.Base64
import java.util.concurrent.ExecutionException

/**
 * buildAuthorization, verifySignature, decryptResource and signCardExt against every case of
 * spec/vectors/ (made by openssl and Python cryptography, never by weixin-kit), negative cases
 * included; java.security cross-checks the signatures independently.
 */
class CryptoTest {
    private val keys = vectors("keys.json")
    private val signing = vectors("request_signing.json")
    private val responses = vectors("response_verification.json")
    private val notifications = vectors("notification.json")
    private val cards = vectors("card_signature.json")
    private val digests = vectors("digests.json")
    private val merchant = keys.o("merchant")
    private val platform = keys.o("platform")
    private val platformKey = platform.s("public_key_spki_pem")

    private fun cases(v: JsonObject, key: String = "cases") = v.arr(key).map { it.jsonObject }

    /** What Wechatpay-Serial names: the public key (by id) or the platform certificate (by serial). */
    private fun platformPemFor(serial: String): String? = when (serial) {
        keys.s("public_key_id") -> platformKey
        platform.s("certificate_serial_no") -> platform.s("certificate_pem")
        else -> null
    }

    private fun jcaVerify(spkiPem: String, message: ByteArray, signature: String): Boolean {
        val der = Base64.getMimeDecoder().decode(spkiPem.lines().filter { !it.startsWith("-----") }.joinToString(""))
        val key = KeyFactory.getInstance("RSA").generatePublic(X509EncodedKeySpec(der))
        val s = Signature.getInstance("SHA256withRSA")
        s.initVerify(key)
        s.update(message)
        return runCatching { s.verify(Base64.getDecoder().decode(signature)) }.getOrDefault(false)
    }

    private suspend fun authorization(c: JsonObject, key: String = merchant.s("private_key_pkcs8_pem"), nonce: String = c.s("nonce")) =
        WeixinKitCrypto.buildAuthorization(
            mchid = signing.s("mchid"), serialNo = signing.s("serial_no"), privateKey = key,
            method = c.s("method"), url = c.s("url"), body = c.s("body").toByteArray(),
            timestamp = c.getValue("timestamp").jsonPrimitive.long, nonce = nonce,
        )

    @Test
    fun `the vectors are what java security and MessageDigest compute too`() {
        for (c in cases(signing)) {
            assertEquals("${c.s("method")}\n${c.s("url")}\n${c.s("timestamp")}\n${c.s("nonce")}\n${c.s("body")}\n", c.s("signing_string"))
            assertTrue(jcaVerify(merchant.s("public_key_spki_pem"), c.s("signing_string").toByteArray(), c.s("signature")), c.s("name"))
        }
        for (c in cases(digests)) {
            assertEquals(c.s("sha1"), sha1(c.s("input").toByteArray()))
            assertEquals(c.s("sha256"), sha256(c.s("input").toByteArray()))
        }
    }

    @TestFactory
    fun `buildAuthorization is every request_signing vector's header, PKCS8 and PKCS1 keys`(): List<DynamicTest> =
        cases(signing).flatMap { c ->
            listOf("private_key_pkcs8_pem", "private_key_pkcs1_pem").map { format ->
                dynamicTest("${c.s("name")} ($format)") {
                    assertEquals(c.s("authorization"), runBlocking { authorization(c, merchant.s(format)) })
                }
            }
        } + dynamicTest("the CompletableFuture form (Java)") {
            val c = cases(signing).first()
            val future = WeixinKitCrypto.buildAuthorizationAsync(
                signing.s("mchid"), signing.s("serial_no"), merchant.s("private_key_pkcs8_pem"),
                c.s("method"), c.s("url"), c.s("body").toByteArray(), c.getValue("timestamp").jsonPrimitive.long, c.s("nonce"),
            )
            assertEquals(c.s("authorization"), future.get())
            val failed = WeixinKitCrypto.buildAuthorizationAsync("1", "2", "not a key", "GET", "/v3/x", ByteArray(0), 1, "n")
            val e = runCatching { failed.get() }.exceptionOrNull()
            assertTrue(e is ExecutionException && e.cause is ConfigError, e.toString())
        }

    @Test
    fun `buildAuthorization errors - not a key, a public key, a nonce breaking the quoting`() {
        val c = cases(signing).first()
        val secret = merchant.s("private_key_pkcs8_pem")
        failsWith<ConfigError> { authorization(c, "not a key") }
        failsWith<ConfigError> { authorization(c, merchant.s("public_key_spki_pem")) }
        failsWith<ValidationError>(listOf(secret)) { authorization(c, nonce = "abc\",signature=\"x") }
    }

    @TestFactory
    fun `verifySignature is every response_verification vector's verdict`(): List<DynamicTest> = cases(responses).map { c ->
        dynamicTest("${c.s("name")} -> ${c.s("valid")}") {
            val pem = platformPemFor(c.s("serial")) ?: org.junit.jupiter.api.fail("no key for ${c.s("serial")}")
            val valid = c.getValue("valid").jsonPrimitive.boolean
            val verdict = runBlocking {
                WeixinKitCrypto.verifySignature(pem, c.s("timestamp"), c.s("nonce"), c.s("body").toByteArray(), c.s("signature"))
            }
            assertEquals(valid, verdict)
            if (c.s("serial") == keys.s("public_key_id")) {
                // the PKCS#1 form of the same key, and the Java form
                assertEquals(valid, runBlocking {
                    WeixinKitCrypto.verifySignature(platform.s("public_key_pkcs1_pem"), c.s("timestamp"), c.s("nonce"), c.s("body").toByteArray(), c.s("signature"))
                })
                assertEquals(valid, WeixinKitCrypto.verifySignatureAsync(pem, c.s("timestamp"), c.s("nonce"), c.s("body").toByteArray(), c.s("signature")).get())
                // java.security agrees with the vector
                assertEquals(valid, jcaVerify(pem, "${c.s("timestamp")}\n${c.s("nonce")}\n${c.s("body")}\n".toByteArray(), c.s("signature")))
            }
        }
    }

    @Test
    fun `verifySignature with the wrong key or a garbage signature is false, not a key is a ConfigError`() = runBlocking<Unit> {
        val c = cases(responses).first { it.getValue("valid").jsonPrimitive.boolean && it.s("serial") == keys.s("public_key_id") }
        suspend fun verify(key: String = platformKey, signature: String = c.s("signature")) =
            WeixinKitCrypto.verifySignature(key, c.s("timestamp"), c.s("nonce"), c.s("body").toByteArray(), signature)
        assertTrue(verify())
        assertFalse(verify(key = merchant.s("public_key_spki_pem")))
        assertFalse(verify(signature = "bm90IGEgc2lnbmF0dXJl"))
        assertFalse(verify(signature = "not base64 at all!"))
        failsWith<ConfigError> { verify(key = "not a key") }
    }

    @TestFactory
    fun `decryptResource is every notification decrypt vector's plaintext, tampering is a SignatureError`(): List<DynamicTest> =
        cases(notifications, "decrypt").map { c ->
            dynamicTest(c.s("name")) {
                val key = c.s("apiv3_key")
                fun decrypt(k: String = key, ad: String = c.s("associated_data"), ct: String = c.s("ciphertext")) =
                    WeixinKitCrypto.decryptResource(k, c.s("nonce"), ad, ct)
                assertEquals(c.s("plaintext"), decrypt())
                val raw = Base64.getDecoder().decode(c.s("ciphertext"))
                raw[raw.size - 1] = (raw[raw.size - 1].toInt() xor 1).toByte() // inside the GCM tag
                failsWith<SignatureError>(listOf(key)) { decrypt(ct = Base64.getEncoder().encodeToString(raw)) }
                failsWith<SignatureError>(listOf(key)) { decrypt(ad = c.s("associated_data") + "x") }
                failsWith<SignatureError>(listOf(key)) { decrypt(k = key.reversed()) }
                val short = failsWith<ConfigError> { decrypt(k = key.dropLast(1)) }
                assertFalse(short.message!!.contains(key.dropLast(1)))
            }
        }

    @TestFactory
    fun `notification vectors - signature verdict and resource`(): List<DynamicTest> =
        cases(notifications, "notifications").filter { "Wechatpay-Nonce" in it.o("headers") }.map { c ->
            dynamicTest("${c.s("name")} (${c.s("expect")})") {
                val h = c.o("headers")
                val expect = c.s("expect")
                val pem = platformPemFor(h.s("Wechatpay-Serial"))
                if (expect == "unknown_serial") {
                    assertNull(pem)
                    return@dynamicTest
                }
                val verdict = runBlocking {
                    WeixinKitCrypto.verifySignature(pem!!, h.s("Wechatpay-Timestamp"), h.s("Wechatpay-Nonce"), c.s("body").toByteArray(), h.s("Wechatpay-Signature"))
                }
                assertEquals(expect != "bad_signature", verdict)
                if (expect == "stale") assertTrue(Math.abs(c.getValue("now").jsonPrimitive.long - h.s("Wechatpay-Timestamp").toLong()) > 300)
                val resource = parse(c.s("body")).jsonObject.o("resource")
                fun decrypt() = WeixinKitCrypto.decryptResource(
                    notifications.s("apiv3_key"), resource.s("nonce"), resource.str("associated_data") ?: "", resource.s("ciphertext"),
                )
                when (expect) {
                    "ok" -> {
                        assertEquals("AEAD_AES_256_GCM", resource.s("algorithm"))
                        assertEquals(c.o("payload"), parse(decrypt()))
                    }
                    "aead_tag_mismatch" -> failsWith<SignatureError> { decrypt() }
                    "unsupported_algorithm" -> assertNotEquals("AEAD_AES_256_GCM", resource.s("algorithm"))
                }
            }
        }

    @Test
    fun `parseNotification refuses every public-key vector at today's clock - all signed long ago`() = runBlocking<Unit> {
        val config = PayConfig.Builder(keys.s("mchid"), keys.s("merchant_serial_no"))
            .privateKey(merchant.s("private_key_pkcs8_pem"))
            .wechatpayPublicKeyId(keys.s("public_key_id")).wechatpayPublicKey(platformKey)
            .apiv3Key(notifications.s("apiv3_key")).baseUrl("http://127.0.0.1:9").downloadCertificates(false)
            .build()
        PayClient(config).use { client ->
            val vs = cases(notifications, "notifications").filter { it.o("headers").s("Wechatpay-Serial") == keys.s("public_key_id") }
            assertTrue(vs.size > 3)
            for (c in vs) {
                val headers = c.o("headers").mapValues { it.value.jsonPrimitive.content }
                val e = failsWith<SignatureError>(listOf(notifications.s("apiv3_key"), merchant.s("private_key_pkcs8_pem"))) {
                    client.parseNotification(headers, c.s("body").toByteArray())
                }
                if (c.s("expect") == "ok") assertTrue(e.message!!.contains("Wechatpay-Timestamp"), e.message)
            }
        }
    }

    @TestFactory
    fun `signCardExt is every card_signature vector`(): List<DynamicTest> = cases(cards).map { c ->
        dynamicTest(c.s("name")) {
            val signature = WeixinKitCrypto.signCardExt(
                apiTicket = c.s("api_ticket"), cardId = c.s("card_id"), timestamp = c.getValue("timestamp").jsonPrimitive.long,
                nonceStr = c.str("nonce_str") ?: "", // an absent nonce_str contributes nothing
                code = c.str("code"), openid = c.str("openid"),
            )
            assertEquals(c.s("signature"), signature)
            assertEquals(c.s("signature"), sha1(c.s("sorted_concatenation").toByteArray()))
        }
    }
}
