package dev.weixinkit

import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.jsonObject

/**
 * A WeChat Pay APIv3 client: its connection pool, keys, platform certificates and retries live
 * in the native core. Create one per merchant and keep it; it serves any number of concurrent
 * calls. Operations are grouped by tag (`busifavor`, `media` …) and are `suspend` functions
 * (the generated code adds `CompletableFuture` variants for Java).
 *
 * @param config the merchant's settings; a bad one is a [ConfigError] naming the key.
 * @param signer signs requests instead of [PayConfig.privateKey].
 */
class PayClient private constructor(private val caller: NativeCaller) : PayOperations(caller), AutoCloseable {
    @JvmOverloads
    constructor(config: PayConfig, signer: Signer? = null) : this(
        NativeCaller.open(
            "pay",
            WeixinKitJson.encodeToJsonElement(PayConfig.serializer(), config).jsonObject,
            signer = signer?.toHostFunction(),
        ),
    )

    /** What may be shown of the client: `mchid`, `serial_no`, `wechatpay_public_key_id`, `base_url`. */
    val info: JsonObject get() = caller.info

    /** Releases the native client; calls still running are cancelled. */
    override fun close() = caller.close()

    override fun toString(): String = "PayClient${JsonObject(info - "family")}"
}
