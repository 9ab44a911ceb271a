package dev.weixinkit

import dev.weixinkit.internal.buildAuthorization as nativeBuildAuthorization
import dev.weixinkit.internal.decryptResource as nativeDecryptResource
import dev.weixinkit.internal.signCardExt as nativeSignCardExt
import dev.weixinkit.internal.verifySignature as nativeVerifySignature
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.future.future
import java.util.concurrent.CompletableFuture

/**
 * The protocol's crypto as plain functions (what the clients do internally), for code that signs
 * or verifies by itself. The RSA operations are `suspend` and run on the native runtime's
 * blocking pool. Failures are [WeixinKitError]s (a key that does not parse: [ConfigError]).
 */
object WeixinKitCrypto {
    /** Where the `…Async` variants run (they only wait on the native runtime). */
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)

    /**
     * The `Authorization` header value (`WECHATPAY2-SHA256-RSA2048 mchid="…",…`) for a request:
     * [url] is the path and query as sent, [body] the exact bytes sent (empty for none).
     */
    suspend fun buildAuthorization(
        mchid: String,
        serialNo: String,
        privateKey: String,
        method: String,
        url: String,
        body: ByteArray = ByteArray(0),
        timestamp: Long,
        nonce: String,
    ): String = native { nativeBuildAuthorization(mchid, serialNo, privateKey, method, url, body, timestamp, nonce) }

    /** [buildAuthorization] for Java: a `CompletableFuture` (failures: its cause is the [WeixinKitError]). */
    @JvmStatic
    fun buildAuthorizationAsync(
        mchid: String,
        serialNo: String,
        privateKey: String,
        method: String,
        url: String,
        body: ByteArray,
        timestamp: Long,
        nonce: String,
    ): CompletableFuture<String> =
        scope.future { buildAuthorization(mchid, serialNo, privateKey, method, url, body, timestamp, nonce) }

    /**
     * Whether [signature] (base64) is WeChat Pay's signature over `TIMESTAMP\nNONCE\nBODY\n` with
     * [publicKey] (a WeChat Pay public key PEM or a platform certificate PEM). A signature that
     * is not base64 is `false`; no clock check (the clients reject timestamps 5 minutes off).
     */
    suspend fun verifySignature(
        publicKey: String,
        timestamp: String,
        nonce: String,
        body: ByteArray,
        signature: String,
    ): Boolean = native { nativeVerifySignature(publicKey, timestamp, nonce, body, signature) }

    /** [verifySignature] for Java: a `CompletableFuture`. */
    @JvmStatic
    fun verifySignatureAsync(
        publicKey: String,
        timestamp: String,
        nonce: String,
        body: ByteArray,
        signature: String,
    ): CompletableFuture<Boolean> = scope.future { verifySignature(publicKey, timestamp, nonce, body, signature) }

    /** Decrypts a notification `resource` with the APIv3 key (AEAD_AES_256_GCM). */
    @JvmStatic
    fun decryptResource(apiv3Key: String, nonce: String, associatedData: String, ciphertext: String): String =
        native { nativeDecryptResource(apiv3Key, nonce, associatedData, ciphertext) }

    /** 卡券签名: SHA1 hex of the sorted values of the ticket, card id, timestamp, nonce and, when given, code and openid. */
    @JvmStatic
    @JvmOverloads
    fun signCardExt(
        apiTicket: String,
        cardId: String,
        timestamp: Long,
        nonceStr: String,
        code: String? = null,
        openid: String? = null,
    ): String = nativeSignCardExt(apiTicket, cardId, timestamp, nonceStr, code, openid)
}
