package dev.weixinkit

import kotlinx.serialization.json.Json
import kotlinx.serialization.json.jsonObject

/** Marks what weixin-kit's own artifacts (weixin-kit-testing) use of each other: not API. */
@RequiresOptIn(level = RequiresOptIn.Level.ERROR, message = "weixin-kit's internal API, for weixin-kit-testing only")
@Retention(AnnotationRetention.BINARY)
@Target(AnnotationTarget.FUNCTION)
annotation class InternalWeixinKitApi

/** The exception for a native error description (the JSON of the core's `ErrorDescription`). */
@InternalWeixinKitApi
fun errorFromNativeDescription(description: String): WeixinKitError =
    errorFromDescription(Json.parseToJsonElement(description).jsonObject)
