package dev.weixinkit

import dev.weixinkit.internal.CallbackFailure
import dev.weixinkit.internal.HostFunction
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.future.await
import kotlinx.coroutines.withContext
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonPrimitive
import java.util.concurrent.CompletableFuture

/**
 * Signs requests for a [PayClient] instead of `privateKey` (a key kept in a KMS or HSM):
 * answers the base64 RSA-SHA256 (PKCS#1 v1.5) signature of [signingString] with the merchant
 * private key. Called for every attempt. An exception it throws fails the call with a
 * [CallbackError] naming `signer` (its class and message are shown: keep secrets out of them).
 */
fun interface Signer {
    suspend fun sign(signingString: String): String

    /** Java callers implement [BlockingSigner] or [AsyncSigner] (lambdas) and adapt them here. */
    companion object {
        /** A [Signer] over a blocking Java function (run on [Dispatchers.IO]). */
        @JvmStatic
        fun blocking(signer: BlockingSigner): Signer = Signer { s -> withContext(Dispatchers.IO) { signer.sign(s) } }

        /** A [Signer] over a Java function answering a [CompletableFuture]. */
        @JvmStatic
        fun async(signer: AsyncSigner): Signer = Signer { s -> signer.sign(s).await() }
    }
}

/** A [Signer] for Java: `Signer.blocking(s -> kms.sign(s))`. */
fun interface BlockingSigner {
    fun sign(signingString: String): String
}

/** A [Signer] for Java answering later: `Signer.async(s -> kmsClient.signAsync(s))`. */
fun interface AsyncSigner {
    fun sign(signingString: String): CompletableFuture<String>
}

/**
 * Supplies access tokens to a [MiniProgramClient] instead of `secret` (a central token service,
 * a third-party platform's `authorizer_access_token`). Called for every request: cache in it.
 * When WeChat rejects a token it is called once more, and the request retried once if the token
 * changed. An exception it throws fails the call with a [CallbackError].
 */
fun interface TokenProvider {
    suspend fun token(): String

    /** Java callers implement [BlockingTokenProvider] or [AsyncTokenProvider] (lambdas) and adapt them here. */
    companion object {
        /** A [TokenProvider] over a blocking Java function (run on [Dispatchers.IO]). */
        @JvmStatic
        fun blocking(provider: BlockingTokenProvider): TokenProvider =
            TokenProvider { withContext(Dispatchers.IO) { provider.token() } }

        /** A [TokenProvider] over a Java function answering a [CompletableFuture]. */
        @JvmStatic
        fun async(provider: AsyncTokenProvider): TokenProvider = TokenProvider { provider.token().await() }
    }
}

/** A [TokenProvider] for Java: `TokenProvider.blocking(() -> tokenService.current())`. */
fun interface BlockingTokenProvider {
    fun token(): String
}

/** A [TokenProvider] for Java answering later. */
fun interface AsyncTokenProvider {
    fun token(): CompletableFuture<String>
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
