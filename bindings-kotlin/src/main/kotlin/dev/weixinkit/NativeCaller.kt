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
    override val scope: CoroutineScope = CoroutineScope(SupervisorJob() + Dispatchers.Default)

    /** The client's [ClientCore.infoJson] (nothing secret). */
    val info: JsonObject by lazy { Json.parseToJsonElement(core.infoJson()).jsonObject }

    override suspend fun call(name: String, args: JsonObject, bytes: Map<String, ByteArray>): JsonElement {
        val answer = native { core.call(name, args.toString(), bytes) }
        return Json.parseToJsonElement(answer)
    }

    override fun close() {
        scope.cancel()
        core.close()
    }

    companion object {
        /** A client of [family] (`pay`, `mp`) from its configuration object (wire keys). */
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
