package dev.weixinkit

import kotlinx.serialization.json.Json

/**
 * The one JSON configuration of the package: absent optionals are left out (the core treats
 * null as absent anyway), unknown response keys are ignored (WeChat adds fields), and enums stay
 * open through their generated serializers.
 */
internal val WeixinKitJson: Json = Json {
    ignoreUnknownKeys = true
    explicitNulls = false
    encodeDefaults = true
    coerceInputValues = false
}
