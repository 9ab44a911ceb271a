// TEMPORARY stand-ins for the output of `cargo xtask codegen` (written by another branch): just
// enough of the generated surface for the hand-written runtime and its tests to compile. This
// file is deleted when the generated code is merged.
@file:Suppress("unused")

package dev.weixinkit

import kotlinx.serialization.KSerializer
import kotlinx.serialization.SerialName
import kotlinx.serialization.Serializable
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonNull
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.booleanOrNull
import kotlinx.serialization.json.buildJsonObject
import kotlinx.serialization.json.contentOrNull
import kotlinx.serialization.json.doubleOrNull
import kotlinx.serialization.json.intOrNull
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import kotlinx.serialization.json.longOrNull

// -- configuration ---------------------------------------------------------------------------

@Serializable
data class PayConfig(
    val mchid: String,
    @SerialName("serial_no") val serialNo: String,
    @SerialName("private_key") val privateKey: String? = null,
    @SerialName("wechatpay_public_key_id") val wechatpayPublicKeyId: String? = null,
    @SerialName("wechatpay_public_key") val wechatpayPublicKey: String? = null,
    @SerialName("platform_certificates") val platformCertificates: List<String>? = null,
    @SerialName("apiv3_key") val apiv3Key: String? = null,
    @SerialName("base_url") val baseUrl: String? = null,
    @SerialName("backup_base_url") val backupBaseUrl: String? = null,
    val timeout: Double? = null,
    @SerialName("connect_timeout") val connectTimeout: Double? = null,
    @SerialName("max_attempts") val maxAttempts: Int? = null,
    @SerialName("download_certificates") val downloadCertificates: Boolean? = null,
    @SerialName("callback_timeout") val callbackTimeout: Double? = null,
)

@Serializable
data class MiniProgramConfig(
    val appid: String,
    val secret: String? = null,
    @SerialName("card_appid") val cardAppid: String? = null,
    @SerialName("card_secret") val cardSecret: String? = null,
    @SerialName("token_store") val tokenStore: String? = null,
    @SerialName("base_url") val baseUrl: String? = null,
    val timeout: Double? = null,
    @SerialName("connect_timeout") val connectTimeout: Double? = null,
    @SerialName("max_attempts") val maxAttempts: Int? = null,
    @SerialName("token_endpoint") val tokenEndpoint: String? = null,
    @SerialName("callback_timeout") val callbackTimeout: Double? = null,
)

// -- schemas -----------------------------------------------------------------------------------

@Serializable
data class ModifyStockInfoRequest(
    @SerialName("out_request_no") val outRequestNo: String,
    @SerialName("stock_name") val stockName: String? = null,
    val comment: String? = null,
    @SerialName("goods_name") val goodsName: String? = null,
)

@Serializable
data class SetCouponNotifyRequest(
    @SerialName("notify_url") val notifyUrl: String,
    val mchid: String? = null,
)

@Serializable
data class SetCouponNotifyResponse(
    @SerialName("update_time") val updateTime: String? = null,
    @SerialName("notify_url") val notifyUrl: String? = null,
    val mchid: String? = null,
)

@Serializable
data class Notification(
    val id: String,
    @SerialName("create_time") val createTime: String,
    @SerialName("event_type") val eventType: String,
    @SerialName("resource_type") val resourceType: String,
    val summary: String,
    val resource: JsonObject,
)

@Serializable
data class AddCardListItem(
    val cardId: String,
    val cardExt: String,
)

// -- operations --------------------------------------------------------------------------------

private fun <T> Caller.args(serializer: KSerializer<T>, body: T, vararg extra: Pair<String, JsonElement>): JsonObject =
    buildJsonObject {
        for ((k, v) in extra) put(k, v)
        for ((k, v) in json.encodeToJsonElement(serializer, body).jsonObject) put(k, v)
    }

class BusifavorOperations internal constructor(private val caller: Caller) {
    suspend fun modifyStockInfo(stockId: String, body: ModifyStockInfoRequest) {
        caller.call("ModifyStockInfo", caller.args(ModifyStockInfoRequest.serializer(), body, "stock_id" to JsonPrimitive(stockId)))
    }

    suspend fun setCouponNotify(body: SetCouponNotifyRequest): SetCouponNotifyResponse =
        caller.json.decodeFromJsonElement(
            SetCouponNotifyResponse.serializer(),
            caller.call("SetCouponNotify", caller.args(SetCouponNotifyRequest.serializer(), body)),
        )
}

abstract class PayOperations internal constructor(private val caller: Caller) {
    val busifavor: BusifavorOperations = BusifavorOperations(caller)

    suspend fun parseNotification(headers: Map<String, String>, body: ByteArray): Notification =
        caller.json.decodeFromJsonElement(
            Notification.serializer(),
            caller.call(
                "parseNotification",
                buildJsonObject { put("headers", JsonObject(headers.mapValues { JsonPrimitive(it.value) })) },
                mapOf("body" to body),
            ),
        )

    suspend fun request(method: String, path: String, body: JsonElement? = null): JsonElement =
        caller.call(
            "request",
            buildJsonObject {
                put("method", JsonPrimitive(method))
                put("path", JsonPrimitive(path))
                put("body", body ?: JsonNull)
            },
        )
}

class CardOperations internal constructor(private val caller: Caller) {
    suspend fun cardExt(cardId: String, openid: String? = null, code: String? = null): AddCardListItem =
        caller.json.decodeFromJsonElement(
            AddCardListItem.serializer(),
            caller.call(
                "cardExt",
                buildJsonObject {
                    put("card_id", JsonPrimitive(cardId))
                    put("openid", JsonPrimitive(openid))
                    put("code", JsonPrimitive(code))
                },
            ),
        )
}

abstract class MiniProgramOperations internal constructor(private val caller: Caller) {
    val card: CardOperations = CardOperations(caller)

    suspend fun accessToken(): String = caller.call("accessToken", JsonObject(emptyMap())).jsonPrimitive.content
}

// -- errors ------------------------------------------------------------------------------------

open class WeixinKitError(message: String, val detail: JsonElement? = null, val retryable: Boolean = false) : Exception(message)

class ApiError(
    message: String,
    val status: Int?,
    val code: String?,
    val msg: String?,
    detail: JsonElement?,
    val requestId: String?,
    val solution: String?,
    val advice: String?,
    retryable: Boolean,
    val retryAfter: Double?,
) : WeixinKitError(message, detail, retryable)

class MiniProgramError(
    message: String,
    val errcode: Long?,
    val errmsg: String?,
    val solution: String?,
    val advice: String?,
    retryable: Boolean,
    val retryAfter: Double?,
) : WeixinKitError(message, null, retryable)

class SignatureError(message: String, detail: JsonElement?) : WeixinKitError(message, detail)
class ValidationError(message: String, val field: String?, val rule: String?) : WeixinKitError(message)
class TransportError(message: String, detail: JsonElement?, retryable: Boolean) : WeixinKitError(message, detail, retryable)
class TimeoutError(message: String, detail: JsonElement?, retryable: Boolean) : WeixinKitError(message, detail, retryable)
class ConfigError(message: String, detail: JsonElement?) : WeixinKitError(message, detail)
class UnexpectedResponseError(message: String, val status: Int?, detail: JsonElement?) : WeixinKitError(message, detail)
class CallbackError(message: String, val callback: String?, detail: JsonElement?) : WeixinKitError(message, detail)

internal fun errorFromDescription(description: JsonObject): WeixinKitError {
    fun s(k: String) = (description[k] as? JsonPrimitive)?.contentOrNull
    fun d(k: String) = (description[k] as? JsonPrimitive)?.doubleOrNull
    val text = s("text") ?: "weixin-kit error"
    val detail = description["detail"]
    val retryable = (description["retryable"] as? JsonPrimitive)?.booleanOrNull ?: false
    return when (s("kind")) {
        "ApiError" -> ApiError(text, (description["status"] as? JsonPrimitive)?.intOrNull, s("code"), s("msg"), detail, s("request_id"), s("solution"), s("advice"), retryable, d("retry_after"))
        "MiniProgramError" -> MiniProgramError(text, (description["errcode"] as? JsonPrimitive)?.longOrNull, s("errmsg"), s("solution"), s("advice"), retryable, d("retry_after"))
        "SignatureError" -> SignatureError(text, detail)
        "ValidationError" -> ValidationError(text, s("field"), s("rule"))
        "TransportError" -> TransportError(text, detail, retryable)
        "TimeoutError" -> TimeoutError(text, detail, retryable)
        "ConfigError" -> ConfigError(text, detail)
        "UnexpectedResponseError" -> UnexpectedResponseError(text, (description["status"] as? JsonPrimitive)?.intOrNull, detail)
        "CallbackError" -> CallbackError(text, s("callback"), detail)
        else -> WeixinKitError(text, detail, retryable)
    }
}
