package dev.weixinkit

import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.jsonObject

/**
 * A mini-program (and card-owning Official Account) client: token cache (in memory or Redis),
 * tickets and retries live in the native core. Create one per AppID and keep it. A third-party
 * platform gets one per authorizer from [ComponentClient.authorizer].
 *
 * @param config the mini-program's settings; a bad one is a [ConfigError] naming the key.
 * @param tokenProvider supplies access tokens instead of [MiniProgramConfig.secret].
 * @param cardTokenProvider supplies the card-owning account's tokens instead of
 *   [MiniProgramConfig.cardSecret] (`cardAppid` still names the account).
 */
class MiniProgramClient internal constructor(private val caller: NativeCaller) :
    MiniProgramOperations(caller), AutoCloseable {
    @JvmOverloads
    constructor(
        config: MiniProgramConfig,
        tokenProvider: TokenProvider? = null,
        cardTokenProvider: TokenProvider? = null,
    ) : this(
        NativeCaller.open(
            "mp",
            WeixinKitJson.encodeToJsonElement(MiniProgramConfig.serializer(), config).jsonObject,
            tokenProvider = tokenProvider?.toHostFunction(),
            cardTokenProvider = cardTokenProvider?.toHostFunction(),
        ),
    )

    /**
     * What may be shown of the client: `appid`, `card_appid`, `base_url`, `token_store` (its
     * scheme); an authorizer's client shows `component_appid` too.
     */
    val info: JsonObject get() = caller.info

    /** Releases the native client; calls still running are cancelled. */
    override fun close() = caller.close()

    override fun toString(): String = "MiniProgramClient${JsonObject(info - "family")}"
}
