package dev.weixinkit

import dev.weixinkit.internal.ClientCore
import dev.weixinkit.internal.HostFunction
import dev.weixinkit.internal.NativeException
import dev.weixinkit.internal.uniffiRustFutureContinuationCallbackImpl
import com.sun.jna.CallbackThreadInitializer
import com.sun.jna.Native
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.jsonObject

/** The [Caller] over the native `ClientCore` (JSON text across the FFI). */
internal class NativeCaller private constructor(private val core: ClientCore) : Caller, AutoCloseable {
    override val json: Json get() = WeixinKitJson
    private val liveScope: CoroutineScope = CoroutineScope(SupervisorJob() + Dispatchers.Default)

    /**
     * The client's scope; once closed, a scope that still runs new `…Async` calls so that they
     * fail with the closed client's [WeixinKitError] rather than a bare cancellation.
     */
    override val scope: CoroutineScope get() = if (closed) closedScope else liveScope

    /** The client's [ClientCore.infoJson] (nothing secret). */
    val info: JsonObject by lazy { Json.parseToJsonElement(core.infoJson()).jsonObject }

    @Volatile
    private var closed = false

    override suspend fun call(name: String, args: JsonObject, bytes: Map<String, ByteArray>): JsonElement {
        if (closed) throw closedError(name)
        val answer = try {
            native { core.call(name, args.toString(), bytes) }
        } catch (e: IllegalStateException) {
            // uniffi's "object has already been destroyed": closed between the check and the call
            if (closed) throw closedError(name) else throw e
        }
        return Json.parseToJsonElement(answer)
    }

    /**
     * The mini-program caller acting for [authorizerAppid] (a `component` client's
     * `ClientCore.authorizer`): a native client of its own, sharing this one's connection pool
     * and token store, closed separately.
     */
    fun authorizer(authorizerAppid: String): NativeCaller {
        if (closed) throw closedError("authorizer")
        return NativeCaller(native { core.authorizer(authorizerAppid) })
    }

    /** A call on a closed client: a failure of the binding's use, never a JVM exception. */
    private fun closedError(name: String) = WeixinKitError("the client is closed (close() was called): cannot call $name")

    override fun close() {
        closed = true
        liveScope.cancel()
        core.close()
    }

    companion object {
        /** A client of [family] (`pay`, `mp`, `component`) from its configuration object (wire keys). */
        fun open(
            family: String,
            config: JsonObject,
            tokenProvider: HostFunction? = null,
            signer: HostFunction? = null,
            cardTokenProvider: HostFunction? = null,
        ): NativeCaller = NativeCaller(
            native { ClientCore(family, config.toString(), tokenProvider, signer, cardTokenProvider) },
        )
    }
}

/** Where calls on a closed client run (to fail at once with a [WeixinKitError]). */
private val closedScope = CoroutineScope(SupervisorJob() + Dispatchers.Default)

/**
 * Every `suspend` native call completes by a JNA callback (uniffi's future continuation) from a
 * thread of the native tokio runtime. By default JNA attaches such a thread to the JVM for the
 * callback and detaches it afterwards, which creates and tears down a `java.lang.Thread` every
 * time; the runtime's threads are long-lived, so they stay attached instead (as daemon threads;
 * JNA detaches them when they exit).
 */
internal object NativeThreads {
    init {
        Native.setCallbackThreadInitializer(
            uniffiRustFutureContinuationCallbackImpl,
            CallbackThreadInitializer(true, false, "weixin-kit-native"),
        )
    }

    fun ensure() {}
}

/** Runs a native call, turning its failure into the [WeixinKitError] its kind names. */
internal inline fun <T> native(call: () -> T): T =
    try {
        NativeThreads.ensure()
        call()
    } catch (e: NativeException.Failure) {
        throw errorFromDescription(Json.parseToJsonElement(e.description).jsonObject)
    }
