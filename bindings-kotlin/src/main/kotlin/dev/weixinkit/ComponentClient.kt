package dev.weixinkit

import kotlinx.coroutines.future.future
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.jsonObject
import java.util.concurrent.CompletableFuture

/**
 * A third-party platform (第三方平台) client: the component_verify_ticket pushed to the platform's
 * authorization event URL, the component_access_token, and each authorizer's access and refresh
 * tokens live in the native core's token store (`memory://` by default; `redis://…` shared by
 * every instance — refresh tokens are kept there, so use Redis in production). Create one per
 * platform and keep it.
 *
 * - [parsePush] verifies, decrypts and reads what WeChat pushes to the authorization event URL
 *   (answer the plain text `success`); a ticket push is stored by it.
 * - [authorize] exchanges the authorization code of an `authorized` / `updateauthorized` push.
 * - [authorizer] is a [MiniProgramClient] calling as one authorizer (setUserNotifyExt …).
 * - [component] holds the spec's component operations, and [componentAccessToken],
 *   [authorizerAccessToken], [forgetAuthorizer] the tokens themselves.
 *
 * A merchant whose authorization is gone (revoked, or its refresh token answered 61023) is a
 * [NotAuthorizedError] naming the authorizer appid, without a request, until it authorizes again.
 *
 * @param config the platform's settings; a bad one is a [ConfigError] naming the key.
 */
class ComponentClient private constructor(private val caller: NativeCaller) :
    ThirdPartyPlatformOperations(caller), AutoCloseable {
    constructor(config: ComponentConfig) : this(
        NativeCaller.open(
            "component",
            WeixinKitJson.encodeToJsonElement(ComponentConfig.serializer(), config).jsonObject,
        ),
    )

    /**
     * A [MiniProgramClient] calling as [authorizerAppid] (a merchant's mini-program that
     * authorized this platform): its token is the authorizer_access_token, refreshed with the
     * stored refresh token (once for every caller and instance), and a stale one is replaced
     * and the call resent once. It shares this client's connection pool and token store; close
     * it when done (closing this client does not close it).
     */
    fun authorizer(authorizerAppid: String): MiniProgramClient = MiniProgramClient(caller.authorizer(authorizerAppid))

    /**
     * [parsePush] with the query as the raw query string of the push URL (`timestamp=…&nonce=…`,
     * percent-encoded, with or without the leading `?`: `exchange.requestURI.rawQuery`,
     * `request.queryString`) and the body as received.
     */
    suspend fun parsePush(query: String, body: ByteArray): JsonObject =
        caller.json.decodeFromJsonElement(
            JsonObject.serializer(),
            caller.call("parsePush", JsonObject(mapOf("query" to JsonPrimitive(query))), mapOf("body" to body)),
        )

    /** [parsePush] with the raw query string and the body as text (UTF-8, as WeChat sends it). */
    suspend fun parsePush(query: String, body: String): JsonObject = parsePush(query, body.toByteArray(Charsets.UTF_8))

    /** [parsePush] with the query's parameters and the body as text (UTF-8, as WeChat sends it). */
    suspend fun parsePush(query: Map<String, String>, body: String): JsonObject =
        parsePush(query, body.toByteArray(Charsets.UTF_8))

    /** [parsePush] for Java: the raw query string, a `CompletableFuture`. */
    fun parsePushAsync(query: String, body: ByteArray): CompletableFuture<JsonObject> =
        caller.scope.future { parsePush(query, body) }

    /** [parsePush] for Java: the raw query string and the body as text, a `CompletableFuture`. */
    fun parsePushAsync(query: String, body: String): CompletableFuture<JsonObject> =
        caller.scope.future { parsePush(query, body) }

    /** [parsePush] for Java: the query's parameters and the body as text, a `CompletableFuture`. */
    fun parsePushAsync(query: Map<String, String>, body: String): CompletableFuture<JsonObject> =
        caller.scope.future { parsePush(query, body) }

    /** What may be shown of the client: `component_appid`, `base_url`, `token_store` (its scheme). */
    val info: JsonObject get() = caller.info

    /** Releases the native client; calls still running are cancelled. Authorizer clients stay open. */
    override fun close() = caller.close()

    override fun toString(): String = "ComponentClient${JsonObject(info - "family")}"
}
