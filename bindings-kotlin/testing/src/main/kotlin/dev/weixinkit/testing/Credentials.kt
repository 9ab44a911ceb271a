package dev.weixinkit.testing

import kotlinx.serialization.SerialName
import kotlinx.serialization.Serializable

/**
 * The sandbox's identity under the SDK's configuration keys (what every binding's
 * `Sandbox.credentials` shows): the merchant (id, certificate serial, private key), WeChat Pay's
 * public key and platform certificate, the APIv3 key, the mini-program and the card-owning
 * Official Account. Generated fresh for every sandbox; never real credentials. `toString()`
 * leaves the secrets out.
 */
@Serializable
data class Credentials(
    val mchid: String,
    @SerialName("serial_no") val serialNo: String,
    @SerialName("merchant_private_key") val merchantPrivateKey: String,
    @SerialName("wechatpay_public_key_id") val wechatpayPublicKeyId: String,
    @SerialName("wechatpay_public_key") val wechatpayPublicKey: String,
    @SerialName("apiv3_key") val apiv3Key: String,
    val appid: String,
    val secret: String,
    @SerialName("platform_serial_no") val platformSerialNo: String,
    @SerialName("platform_certificate") val platformCertificate: String,
    @SerialName("card_appid") val cardAppid: String = "",
    @SerialName("card_secret") val cardSecret: String = "",
) {
    override fun toString(): String =
        "Credentials(mchid=$mchid, serialNo=$serialNo, wechatpayPublicKeyId=$wechatpayPublicKeyId, appid=$appid, " +
            "platformSerialNo=$platformSerialNo, cardAppid=$cardAppid, secrets=…)"
}
