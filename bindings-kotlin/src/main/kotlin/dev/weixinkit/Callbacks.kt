package dev.weixinkit

import dev.weixinkit.internal.CallbackFailure
import dev.weixinkit.internal.HostFunction
import kotlinx.coroutines.CancellationException
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonPrimitive

/**
 * Signs requests for a [PayClient] instead of `privateKey` (a key kept in a KMS or HSM):
 * answers the base64 RSA-SHA256 (PKCS#1 v1.5) signature of [signingString] with the merchant
 * private key. Called for every attempt. An exception it throws fails the call with a
 * [CallbackError] naming `signer` (its class and message are shown: keep secrets out of them).
 */
fun interface Signer {
    suspend fun sign(signingString: String): String
}

/**
 * Supplies access tokens to a [MiniProgramClient] instead of `secret` (a central token service,
 * a third-party platform's `authorizer_access_token`). Called for every request: cache in it.
 * When WeChat rejects a token it is called once more, and the request retried once if the token
 * changed. An exception it throws fails the call with a [CallbackError].
 */
fun interface TokenProvider {
    suspend fun token(): String
}

/** A user callback as the native `HostFunction`: a JSON array of arguments in, JSON out. */
private class Callback(private val body: suspend (List<String>) -> String) : HostFunction {
    override suspend fun call(argsJson: String): String {
        val args = Json.parseToJsonElement(argsJson).jsonArray.map { it.jsonPrimitive.content }
        val answer = try {
            body(args)
        } catch (e: CancellationException) {
            throw e
        } catch (e: Throwable) {
            // Shown to the caller in a CallbackError: the exception's class and message only.
            throw CallbackFailure.Raised("${e::class.java.simpleName}: ${e.message ?: ""}".trimEnd(' ', ':'))
        }
        return JsonPrimitive(answer).toString()
    }
}

internal fun Signer.toHostFunction(): HostFunction = Callback { args -> sign(args.first()) }

internal fun TokenProvider.toHostFunction(): HostFunction = Callback { token() }
