package dev.weixinkit

import kotlinx.coroutines.runBlocking
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.contentOrNull
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import kotlinx.serialization.json.long
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import java.nio.file.Files

/** The crypto functions against spec/vectors/. */
class CryptoTest {
    private fun vectors(name: String): JsonObject =
        Json.parseToJsonElement(Files.readString(repo.resolve("spec/vectors/$name"))).jsonObject

    private fun JsonObject.s(key: String) = getValue(key).jsonPrimitive.content

    @Test
    fun `buildAuthorization and verifySignature match request_signing json`() = runBlocking<Unit> {
        val v = vectors("request_signing.json")
        val keys = vectors("keys.json")
        val case = v.getValue("cases").jsonArray.first().jsonObject
        val privateKey = keys.getValue("merchant").jsonObject.s("private_key_pkcs8_pem")
        val authorization = WeixinKitCrypto.buildAuthorization(
            mchid = v.s("mchid"),
            serialNo = v.s("serial_no"),
            privateKey = privateKey,
            method = case.s("method"),
            url = case.s("url"),
            body = case.s("body").toByteArray(),
            timestamp = case.getValue("timestamp").jsonPrimitive.long,
            nonce = case.s("nonce"),
        )
        assertEquals(case.s("authorization"), authorization)


        // The response signature of response_verification.json's first case, with the platform key.
        val r = vectors("response_verification.json").getValue("cases").jsonArray.first().jsonObject
        val publicKey = keys.getValue("platform").jsonObject.s("public_key_spki_pem")
        val valid = WeixinKitCrypto.verifySignature(
            publicKey = publicKey,
            timestamp = r.getValue("timestamp").jsonPrimitive.content,
            nonce = r.s("nonce"),
            body = r.s("body").toByteArray(),
            signature = r.s("signature"),
        )
        assertEquals(r["valid"]?.jsonPrimitive?.content != "false", valid)
        assertFalse(WeixinKitCrypto.verifySignature(publicKey, "1", "n", ByteArray(0), r.s("signature")))
    }

    @Test
    fun `signCardExt matches card_signature json`() {
        val case = vectors("card_signature.json").getValue("cases").jsonArray.first().jsonObject
        val signature = WeixinKitCrypto.signCardExt(
            apiTicket = case.s("api_ticket"),
            cardId = case.s("card_id"),
            timestamp = case.getValue("timestamp").jsonPrimitive.long,
            nonceStr = case.s("nonce_str"),
            code = case["code"]?.jsonPrimitive?.contentOrNull,
            openid = case["openid"]?.jsonPrimitive?.contentOrNull,
        )
        assertEquals(case.s("signature"), signature)
    }

    @Test
    fun `a key that does not parse is a WeixinKitError, not a crash`() {
        assertThrows<WeixinKitError> {
            runBlocking {
                WeixinKitCrypto.buildAuthorization(
                    mchid = "1", serialNo = "2", privateKey = "not a key", method = "GET", url = "/v3/x",
                    timestamp = 1, nonce = "n",
                )
            }
        }
        assertThrows<WeixinKitError> { WeixinKitCrypto.decryptResource("short", "n", "a", "c") }
    }
}
