package dev.weixinkit.testing

import dev.weixinkit.ComponentClient
import dev.weixinkit.ComponentConfig
import dev.weixinkit.MiniProgramClient
import dev.weixinkit.MiniProgramConfig
import dev.weixinkit.PayClient
import dev.weixinkit.PayConfig
import dev.weixinkit.Signer
import dev.weixinkit.TokenProvider
import dev.weixinkit.InternalWeixinKitApi
import dev.weixinkit.errorFromNativeDescription
import dev.weixinkit.testing.internal.NativeException
import dev.weixinkit.testing.internal.SandboxCore
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.future.future
import kotlinx.coroutines.runBlocking
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonNull
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.buildJsonObject
import kotlinx.serialization.json.contentOrNull
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import kotlinx.serialization.json.long
import java.net.URLEncoder
import java.nio.charset.StandardCharsets
import java.util.concurrent.CompletableFuture

/**
 * An in-process WeChat sandbox for tests — the same server the Rust, Python and Node suites use.
 * It speaks the real protocol on two loopback ports (main and backup, same state): it verifies
 * request signatures as WeChat Pay does (a bad one answers 401 SIGN_ERROR), signs every response,
 * keeps merchant-coupon stocks, sends signed and encrypted notifications, issues mini-program
 * tokens and card tickets, and injects faults.
 *
 * Every method is one call of the sandbox's control API (sandbox/README.md); the semantics are
 * Python's `weixin_kit.testing.Sandbox` and Node's `weixin-kit/testing`. Results the control API
 * answers as objects are [JsonObject]/[JsonArray] (wire names).
 *
 * ```kotlin
 * Sandbox.start().use { sb ->
 *     sb.createStock("1001")
 *     sb.payClient().use { pay -> pay.busifavor.modifyStockInfo("1001", ModifyStockInfoRequest(outRequestNo = "n1")) }
 * }
 * ```
 */
@OptIn(InternalWeixinKitApi::class)
class Sandbox private constructor(
    private val core: SandboxCore,
    /** The sandbox's identity (fresh keys, never real ones). */
    val credentials: Credentials,
    /** A [PayConfig] for this sandbox: public-key mode, APIv3 key, main and backup URLs. */
    val payConfig: PayConfig,
    /** A [MiniProgramConfig] for this sandbox: its appid, secret and card account. */
    val mpConfig: MiniProgramConfig,
    /**
     * A [ComponentConfig] for this sandbox's third-party platform (its appid, AppSecret,
     * message-check Token and EncodingAESKey, main and backup URLs), as it was at [start].
     */
    val componentConfig: ComponentConfig,
) : AutoCloseable {
    companion object {
        private val json = Json {
            ignoreUnknownKeys = true
            explicitNulls = false
        }

        /** Starts a sandbox with a fresh identity on two free loopback ports. */
        suspend fun start(): Sandbox {
            val core = guard { SandboxCore.start() }
            suspend fun get(path: String) = control(core, "GET", path, null)
            return Sandbox(
                core,
                json.decodeFromJsonElement(Credentials.serializer(), get("/sandbox/client/credentials")),
                json.decodeFromJsonElement(PayConfig.serializer(), get("/sandbox/client/pay_config")),
                json.decodeFromJsonElement(MiniProgramConfig.serializer(), get("/sandbox/client/mp_config")),
                json.decodeFromJsonElement(ComponentConfig.serializer(), get("/sandbox/client/component_config")),
            )
        }

        /** [start] for Java and blocking code. */
        @JvmStatic
        fun startBlocking(): Sandbox = runBlocking { start() }

        /** [start] for Java: a `CompletableFuture`. */
        @JvmStatic
        fun startAsync(): CompletableFuture<Sandbox> = starter.future { start() }

        private val starter = CoroutineScope(SupervisorJob() + Dispatchers.Default)

        private suspend fun control(core: SandboxCore, method: String, path: String, body: JsonElement?): JsonElement =
            Json.parseToJsonElement(guard { core.control(method, path, body?.toString()) })

        private inline fun <T> guard(call: () -> T): T =
            try {
                call()
            } catch (e: NativeException.Failure) {
                // A body the route refuses: ValidationError (field `sandbox`); a stopped sandbox: ConfigError.
                throw errorFromNativeDescription(e.description)
            }

        /** `fields` without null values, as JSON. */
        private fun present(fields: Map<String, Any?>): Map<String, JsonElement> =
            fields.filterValues { it != null }.mapValues { (_, v) -> toJson(v) }

        private fun toJson(value: Any?): JsonElement = when (value) {
            null -> JsonNull
            is JsonElement -> value
            is String -> JsonPrimitive(value)
            is Number -> JsonPrimitive(value)
            is Boolean -> JsonPrimitive(value)
            is Map<*, *> -> JsonObject(value.entries.associate { (k, v) -> k.toString() to toJson(v) })
            is Iterable<*> -> JsonArray(value.map(::toJson))
            is Array<*> -> JsonArray(value.map(::toJson))
            else -> JsonPrimitive(value.toString())
        }

        private fun segment(s: String) = URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20")
    }

    /** One call of the control API (`GET /sandbox/counters`, `POST /sandbox/stocks` {…}), in-process. */
    suspend fun control(method: String, path: String, body: JsonElement? = null): JsonElement =
        control(core, method, path, body)

    private suspend fun post(path: String, body: Map<String, JsonElement>? = null) =
        control("POST", path, body?.let(::JsonObject))

    // -- lifecycle -------------------------------------------------------------------------

    /** Stops both listeners. Idempotent. */
    suspend fun stop() = core.stop()

    /** True once stopped. */
    val stopped: Boolean get() = core.stopped()

    /** Stops the sandbox (blocking) and releases it. */
    override fun close() {
        scope.cancel()
        runBlocking { core.stop() }
        core.close()
    }

    // -- Java: CompletableFuture forms (the semantics of the suspend functions they name) ------

    /** Where the `…Async` forms run; cancelled by [close]. */
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)

    /** [stop] for Java. */
    fun stopAsync(): CompletableFuture<Unit> = scope.future { stop() }

    /** [createStock] for Java. */
    @JvmOverloads
    fun createStockAsync(stockId: String? = null, fields: Map<String, Any?> = emptyMap()): CompletableFuture<JsonObject> =
        scope.future { createStock(stockId, fields) }

    /** [stock] for Java. */
    fun stockAsync(stockId: String): CompletableFuture<JsonObject?> = scope.future { stock(stockId) }

    /** [requests] for Java. */
    fun requestsAsync(): CompletableFuture<JsonArray> = scope.future { requests() }

    /** [counters] for Java. */
    fun countersAsync(): CompletableFuture<JsonObject> = scope.future { counters() }

    /** [resetLog] for Java. */
    fun resetLogAsync(): CompletableFuture<Unit> = scope.future { resetLog() }

    /** [injectFault] for Java. */
    @JvmOverloads
    fun injectFaultAsync(
        operation: String? = null,
        kind: String = "system_error",
        pathPrefix: String? = null,
        count: Int? = null,
        fields: Map<String, Any?> = emptyMap(),
    ): CompletableFuture<Long> = scope.future { injectFault(operation, kind, pathPrefix, count, fields) }

    /** [clearFaults] for Java. */
    fun clearFaultsAsync(): CompletableFuture<Unit> = scope.future { clearFaults() }

    /** [setMainDown] for Java. */
    fun setMainDownAsync(down: Boolean): CompletableFuture<Unit> = scope.future { setMainDown(down) }

    /** [setSigningMode] for Java. */
    fun setSigningModeAsync(mode: String): CompletableFuture<Unit> = scope.future { setSigningMode(mode) }

    /** [sendCouponNotification] for Java. */
    @JvmOverloads
    fun sendCouponNotificationAsync(stockId: String, fields: Map<String, Any?> = emptyMap()): CompletableFuture<JsonObject> =
        scope.future { sendCouponNotification(stockId, fields) }

    /** [notifications] for Java. */
    fun notificationsAsync(): CompletableFuture<JsonArray> = scope.future { notifications() }

    /** [mpCounters] for Java. */
    fun mpCountersAsync(): CompletableFuture<JsonObject> = scope.future { mpCounters() }

    /** [component] for Java. */
    @JvmOverloads
    fun componentAsync(route: String, fields: Map<String, Any?>? = emptyMap()): CompletableFuture<JsonElement> =
        scope.future { component(route, fields) }

    // -- where -----------------------------------------------------------------------------

    /** The main listener: stands for api.mch.weixin.qq.com and api.weixin.qq.com. */
    val baseUrl: String get() = core.baseUrl()

    /** The backup listener (api2.mch.weixin.qq.com): same routes, same state. */
    val backupBaseUrl: String get() = core.backupBaseUrl()

    // -- clients configured for it ---------------------------------------------------------

    /** A [PayClient] for this sandbox; [configure] changes its [payConfig] (`{ it.copy(maxAttempts = 1) }`). */
    @JvmOverloads
    fun payClient(signer: Signer? = null, configure: (PayConfig) -> PayConfig = { it }): PayClient {
        val config = configure(if (signer != null) payConfig.copy(privateKey = null) else payConfig)
        return PayClient(config, signer)
    }

    /** A [MiniProgramClient] for this sandbox; [configure] changes its [mpConfig]. */
    @JvmOverloads
    fun mpClient(
        tokenProvider: TokenProvider? = null,
        cardTokenProvider: TokenProvider? = null,
        configure: (MiniProgramConfig) -> MiniProgramConfig = { it },
    ): MiniProgramClient {
        var config = mpConfig
        if (tokenProvider != null) config = config.copy(secret = null)
        if (cardTokenProvider != null) config = config.copy(cardSecret = null)
        return MiniProgramClient(configure(config), tokenProvider, cardTokenProvider)
    }

    /**
     * A [ComponentClient] for this sandbox's third-party platform; [configure] changes its
     * [componentConfig] (`{ it.copy(tokenStore = redisUrl) }`). Set the push URL with
     * `component("config", mapOf("push_url" to url))`.
     */
    @JvmOverloads
    fun componentClient(configure: (ComponentConfig) -> ComponentConfig = { it }): ComponentClient =
        ComponentClient(configure(componentConfig))

    // -- WeChat Pay state ------------------------------------------------------------------

    /** Creates a merchant-coupon stock that ModifyStockInfo can change; returns it. */
    suspend fun createStock(stockId: String? = null, fields: Map<String, Any?> = emptyMap()): JsonObject {
        val stock = mutableMapOf<String, JsonElement>("stock_name" to JsonPrimitive("沙箱测试券"))
        stock.putAll(present(fields))
        if (stockId != null) stock["stock_id"] = JsonPrimitive(stockId)
        return post("/sandbox/stocks", stock).jsonObject
    }

    /** The stock (with `applied_out_request_nos`), or null. */
    suspend fun stock(stockId: String): JsonObject? =
        control("GET", "/sandbox/stocks/${segment(stockId)}") as? JsonObject

    suspend fun stocks(): JsonArray = control("GET", "/sandbox/stocks").jsonArray

    /** Images uploaded through MarketingImageUpload. */
    suspend fun media(): JsonArray = control("GET", "/sandbox/media").jsonArray

    /** The URL registered with SetCouponNotify, or null. */
    suspend fun notifyUrl(): String? =
        control("GET", "/sandbox/notify_url").jsonObject["notify_url"]?.jsonPrimitive?.contentOrNull

    /** Sends a COUPON.SEND notification, signed and encrypted as WeChat Pay does, and waits for its delivery. */
    suspend fun sendCouponNotification(stockId: String, fields: Map<String, Any?> = emptyMap()): JsonObject =
        post("/sandbox/notifications/coupon", present(fields) + ("stock_id" to JsonPrimitive(stockId))).jsonObject

    /** Delivery reports of the notifications sent since [resetLog]. */
    suspend fun notifications(): JsonArray = control("GET", "/sandbox/notifications").jsonArray

    // -- faults ----------------------------------------------------------------------------

    /**
     * Makes matching requests fail ([kind]: `system_error`, `frequency_limited`, `daily_quota`,
     * `connection_reset`, `latency`, `tamper_signature`, `stale_timestamp`, and after the change
     * was applied `reset_after_apply`, `latency_after_apply`; see sandbox/README.md); returns the
     * rule's id. [fields]: the rule's other keys (`ms` for the latencies, `seconds` for
     * `stale_timestamp`, `probability` + `seed` for a random share of requests).
     */
    @JvmOverloads
    suspend fun injectFault(
        operation: String? = null,
        kind: String = "system_error",
        pathPrefix: String? = null,
        count: Int? = null,
        fields: Map<String, Any?> = emptyMap(),
    ): Long {
        val fault = present(fields) +
            present(mapOf("operation" to operation, "path_prefix" to pathPrefix, "count" to count)) +
            ("kind" to JsonPrimitive(kind))
        return post("/sandbox/faults", fault).jsonObject.getValue("id").jsonPrimitive.long
    }

    /** The active fault rules (with `remaining`). */
    suspend fun faults(): JsonArray = control("GET", "/sandbox/faults").jsonArray

    suspend fun clearFaults() {
        control("DELETE", "/sandbox/faults")
    }

    /** While down, the main listener drops every request; the backup keeps serving. */
    suspend fun setMainDown(down: Boolean = true) {
        post(if (down) "/sandbox/main/down" else "/sandbox/main/up")
    }

    /** `"public_key"` (default) or `"certificate"`: which key signs responses. */
    suspend fun setSigningMode(mode: String) {
        post("/sandbox/signing_mode", mapOf("mode" to JsonPrimitive(mode)))
    }

    // -- observation -----------------------------------------------------------------------

    /** `{ requests: {operation: n}, applied_out_request_nos, notifications, mp }`. */
    suspend fun counters(): JsonObject = control("GET", "/sandbox/counters").jsonObject

    /** The request log, oldest first. */
    suspend fun requests(): JsonArray = control("GET", "/sandbox/requests").jsonArray

    /** Clears the request log and the WeChat Pay counters (stocks stay). */
    suspend fun resetLog() {
        control("DELETE", "/sandbox/requests")
    }

    // -- mini-program side -----------------------------------------------------------------

    suspend fun mpAddUser(openid: String) {
        post("/sandbox/mp/users", mapOf("openid" to JsonPrimitive(openid)))
    }

    /** Registers a notify_code for setUserNotifyExt ([fields]: `valid_after_secs`, `banned` …). */
    suspend fun mpAddNotifyCode(openid: String, notifyType: Int, notifyCode: String, fields: Map<String, Any?> = emptyMap()) {
        post(
            "/sandbox/mp/notify_codes",
            present(fields) + present(mapOf("openid" to openid, "notify_type" to notifyType, "notify_code" to notifyCode)),
        )
    }

    /** What setUserNotifyExt delivered for this code, or null. */
    suspend fun mpNotifyExt(openid: String, notifyCode: String): JsonObject? =
        control("GET", "/sandbox/mp/notify_ext?openid=${segment(openid)}&notify_code=${segment(notifyCode)}") as? JsonObject

    /** Registers a card owned by [ownerAppid] (default: the sandbox's Official Account). */
    suspend fun mpCreateCard(cardId: String, ownerAppid: String? = null, fields: Map<String, Any?> = emptyMap()): JsonObject =
        post("/sandbox/mp/cards", present(fields) + present(mapOf("card_id" to cardId, "owner_appid" to ownerAppid))).jsonObject

    /** What the front end's wx.addCard does with [cardList] (items as `card.cardExt` returns them). */
    suspend fun wxAddCard(cardList: List<Any?>, openid: String? = null): JsonElement =
        post("/sandbox/card/add", present(mapOf("cardList" to cardList, "openid" to openid)))

    /** A card code encrypted as wx.addCard returns it (for decryptCardCode). */
    suspend fun mpEncryptCardCode(cardId: String, code: String): String =
        post("/sandbox/mp/card_codes", present(mapOf("card_id" to cardId, "code" to code)))
            .jsonObject.getValue("encrypt_code").jsonPrimitive.content

    /** The route [path] (or `*`) answers [errcode] for the next [count] calls. */
    suspend fun mpAddErrcodeFault(path: String, errcode: Long, count: Int? = null, errmsg: String? = null) {
        post("/sandbox/mp/errcode_faults", present(mapOf("path" to path, "errcode" to errcode, "count" to count, "errmsg" to errmsg)))
    }

    suspend fun mpClearErrcodeFaults() {
        control("DELETE", "/sandbox/mp/errcode_faults")
    }

    /** Every access token expires now (the next call answers 42001). */
    suspend fun mpExpireTokens() {
        post("/sandbox/mp/expire_tokens")
    }

    /** Every card/JS-SDK ticket expires now. */
    suspend fun mpExpireTickets() {
        post("/sandbox/mp/expire_tickets")
    }

    /** Moves the mini-program side's clock forward by [seconds]. */
    suspend fun mpAdvanceClock(seconds: Long) {
        post("/sandbox/mp/advance_clock", mapOf("seconds" to JsonPrimitive(seconds)))
    }

    /** Tokens and tickets issued, calls per operation, faults injected. */
    suspend fun mpCounters(): JsonObject = control("GET", "/sandbox/mp/counters").jsonObject

    // -- third-party platform side ---------------------------------------------------------

    /**
     * One call of the third-party platform's control routes, `/sandbox/component/[route]`
     * (sandbox/README.md, "Third-party platform"): [fields] (null values left out) are POSTed;
     * `null` fields make it a GET. For example `component("config", mapOf("push_url" to url))`,
     * `component("push_ticket")` (→ the delivery: `delivered`, `status`, `response` …),
     * `component("authorize", mapOf("func_ids" to listOf(17, 18)))` (→ `authorizer_appid`,
     * `authorization_code`, `push`), `component("revoke", mapOf("authorizer_appid" to appid))`,
     * `component("rotate_refresh_token", …)`, `component("expire_tokens")`,
     * `component("counters", null)`, `component("pushes", null)`, `component("config", null)`.
     */
    @JvmOverloads
    suspend fun component(route: String, fields: Map<String, Any?>? = emptyMap()): JsonElement {
        val path = "/sandbox/component/${route.trimStart('/')}"
        return if (fields == null) control("GET", path) else post(path, present(fields))
    }

    override fun toString(): String = "Sandbox($baseUrl)"
}
