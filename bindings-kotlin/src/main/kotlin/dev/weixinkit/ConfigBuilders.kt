package dev.weixinkit

/**
 * [PayConfig] for Java, where the data class's default arguments are not visible:
 *
 * ```java
 * PayConfig config = new PayConfigBuilder(mchid, serialNo)
 *     .privateKey(pem).wechatpayPublicKeyId(id).wechatpayPublicKey(pubPem).apiv3Key(key)
 *     .build();
 * ```
 *
 * Every setter takes the same value as the [PayConfig] property of that name (null = absent);
 * [PayConfigBuilder.from] starts from an existing configuration.
 */
class PayConfigBuilder(private var config: PayConfig) {
    constructor(mchid: String, serialNo: String) : this(PayConfig(mchid = mchid, serialNo = serialNo))

    private fun set(change: (PayConfig) -> PayConfig) = apply { config = change(config) }

    fun mchid(value: String) = set { it.copy(mchid = value) }
    fun serialNo(value: String) = set { it.copy(serialNo = value) }
    fun privateKey(value: String?) = set { it.copy(privateKey = value) }
    fun wechatpayPublicKeyId(value: String?) = set { it.copy(wechatpayPublicKeyId = value) }
    fun wechatpayPublicKey(value: String?) = set { it.copy(wechatpayPublicKey = value) }
    fun platformCertificates(value: List<String>?) = set { it.copy(platformCertificates = value) }
    fun apiv3Key(value: String?) = set { it.copy(apiv3Key = value) }
    fun baseUrl(value: String?) = set { it.copy(baseUrl = value) }
    fun backupBaseUrl(value: String?) = set { it.copy(backupBaseUrl = value) }
    fun downloadCertificates(value: Boolean?) = set { it.copy(downloadCertificates = value) }
    fun timeout(seconds: Double?) = set { it.copy(timeout = seconds) }
    fun connectTimeout(seconds: Double?) = set { it.copy(connectTimeout = seconds) }
    fun maxAttempts(value: Int?) = set { it.copy(maxAttempts = value) }
    fun callbackTimeout(seconds: Double?) = set { it.copy(callbackTimeout = seconds) }

    fun build(): PayConfig = config

    companion object {
        /** A builder starting from [config] (`PayConfigBuilder.from(sandbox.getPayConfig()).maxAttempts(1)`). */
        @JvmStatic
        fun from(config: PayConfig): PayConfigBuilder = PayConfigBuilder(config)
    }
}

/** [MiniProgramConfig] for Java: `new MiniProgramConfigBuilder(appid).secret(s).build()`. */
class MiniProgramConfigBuilder(private var config: MiniProgramConfig) {
    constructor(appid: String) : this(MiniProgramConfig(appid = appid))

    private fun set(change: (MiniProgramConfig) -> MiniProgramConfig) = apply { config = change(config) }

    fun appid(value: String) = set { it.copy(appid = value) }
    fun secret(value: String?) = set { it.copy(secret = value) }
    fun cardAppid(value: String?) = set { it.copy(cardAppid = value) }
    fun cardSecret(value: String?) = set { it.copy(cardSecret = value) }
    fun tokenStore(value: String?) = set { it.copy(tokenStore = value) }
    fun baseUrl(value: String?) = set { it.copy(baseUrl = value) }
    fun tokenEndpoint(value: String?) = set { it.copy(tokenEndpoint = value) }
    fun timeout(seconds: Double?) = set { it.copy(timeout = seconds) }
    fun connectTimeout(seconds: Double?) = set { it.copy(connectTimeout = seconds) }
    fun maxAttempts(value: Int?) = set { it.copy(maxAttempts = value) }
    fun callbackTimeout(seconds: Double?) = set { it.copy(callbackTimeout = seconds) }

    fun build(): MiniProgramConfig = config

    companion object {
        @JvmStatic
        fun from(config: MiniProgramConfig): MiniProgramConfigBuilder = MiniProgramConfigBuilder(config)
    }
}
