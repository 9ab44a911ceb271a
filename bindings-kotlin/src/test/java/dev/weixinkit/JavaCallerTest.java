package dev.weixinkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weixinkit.testing.Sandbox;
import java.nio.charset.StandardCharsets;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import kotlinx.serialization.json.JsonArray;
import kotlinx.serialization.json.JsonElement;
import kotlinx.serialization.json.JsonObject;
import kotlinx.serialization.json.JsonPrimitive;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * What a Java caller (a Spring service) writes: the sandbox from Java, a PayClient built with
 * PayConfig.Builder and a Java lambda signer, the generated operations' CompletableFuture forms,
 * an ApiError as the ExecutionException's cause, the crypto functions' futures, a third-party
 * platform's ComponentClient and its authorizer's MiniProgramClient.
 */
class JavaCallerTest {
    private static Sandbox sb;

    @BeforeAll
    static void start() throws Exception {
        sb = Sandbox.startAsync().get();
    }

    @AfterAll
    static void stop() {
        sb.close();
    }

    private static String text(JsonObject o, String key) {
        JsonElement e = o.get(key);
        return e == null ? null : ((JsonPrimitive) e).getContent();
    }

    private static PrivateKey merchantKey() throws Exception {
        String pem = sb.getCredentials().getMerchantPrivateKey();
        StringBuilder b64 = new StringBuilder();
        for (String line : pem.split("\n")) if (!line.startsWith("-----")) b64.append(line.trim());
        return KeyFactory.getInstance("RSA").generatePrivate(new PKCS8EncodedKeySpec(Base64.getDecoder().decode(b64.toString())));
    }

    private static String rsaSign(PrivateKey key, String message) {
        try {
            Signature s = Signature.getInstance("SHA256withRSA");
            s.initSign(key);
            s.update(message.getBytes(StandardCharsets.UTF_8));
            return Base64.getEncoder().encodeToString(s.sign());
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static ModifyStockInfoRequest modifyRequest(String outRequestNo, String comment) {
        // The generated data class from Java: its Builder (required properties in the constructor).
        return new ModifyStockInfoRequest.Builder(outRequestNo).comment(comment).build();
    }

    @Test
    void payClientFromJavaWithALambdaSignerAndFutures() throws Exception {
        String stockId = "7" + (System.nanoTime() % 100_000_000_000L);
        JsonObject stock = sb.createStockAsync(stockId).get();
        assertEquals(stockId, text(stock, "stock_id"));
        sb.resetLogAsync().get();

        PrivateKey key = merchantKey();
        AtomicInteger signed = new AtomicInteger();
        var c = sb.getCredentials();
        PayConfig config = new PayConfig.Builder(c.getMchid(), c.getSerialNo())
                .wechatpayPublicKeyId(c.getWechatpayPublicKeyId())
                .wechatpayPublicKey(c.getWechatpayPublicKey())
                .apiv3Key(c.getApiv3Key())
                .baseUrl(sb.getBaseUrl())
                .maxAttempts(2)
                .build();
        try (PayClient pay = new PayClient(config, Signer.blocking(message -> {
            signed.incrementAndGet();
            return rsaSign(key, message);
        }))) {
            CompletableFuture<kotlin.Unit> done = pay.getBusifavor().modifyStockInfoAsync(stockId, modifyRequest("java" + System.nanoTime(), "from Java"));
            assertEquals(kotlin.Unit.INSTANCE, done.get());
            assertEquals(1, signed.get());

            JsonArray log = sb.requestsAsync().get();
            assertEquals(1, log.size());
            JsonObject entry = (JsonObject) log.get(0);
            assertEquals("ModifyStockInfo", text(entry, "operation"));
            assertEquals("ok", text(entry, "signature"));
            assertEquals("from Java", text(sb.stockAsync(stockId).get(), "comment"));

            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> pay.getBusifavor().modifyStockInfoAsync("404404404", modifyRequest("java404", "x")).get());
            ApiError api = assertInstanceOf(ApiError.class, e.getCause());
            assertInstanceOf(WeixinKitError.class, api);
            assertEquals(404, api.getStatus());
            assertEquals("RESOURCE_NOT_EXISTS", api.getCode());
            assertNotNull(api.getRequestId());
            assertTrue(!api.getMessage().contains(c.getMerchantPrivateKey()));

            SetCouponNotifyResponse r = pay.getBusifavor().setCouponNotifyAsync(new SetCouponNotifyRequest.Builder("https://example.com/java").build()).get();
            assertEquals("https://example.com/java", r.getNotifyUrl());
        }
    }

    @Test
    void asyncSignerAndTokenProviderLambdas() throws Exception {
        PrivateKey key = merchantKey();
        PayConfig config = sb.getPayConfig().toBuilder().privateKey(null).build();
        try (PayClient pay = new PayClient(config, Signer.async(m -> CompletableFuture.supplyAsync(() -> rsaSign(key, m))))) {
            pay.getBusifavor().setCouponNotifyAsync(new SetCouponNotifyRequest.Builder("https://example.com/async").build()).get();
        }
        try (PayClient failing = new PayClient(config, Signer.blocking(m -> { throw new IllegalStateException("KMS down"); }))) {
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> failing.getBusifavor().setCouponNotifyAsync(new SetCouponNotifyRequest.Builder("https://example.com/x").build()).get());
            CallbackError cb = assertInstanceOf(CallbackError.class, e.getCause());
            assertEquals("signer", cb.getCallback());
        }

        String token;
        try (MiniProgramClient mp = new MiniProgramClient(sb.getMpConfig())) {
            token = mp.accessTokenAsync().get();
        }
        MiniProgramConfig mpConfig = sb.getMpConfig().toBuilder().secret(null).build();
        final String t = token;
        try (MiniProgramClient mp = new MiniProgramClient(mpConfig, TokenProvider.blocking(() -> t))) {
            assertEquals(token, mp.accessTokenAsync().get());
        }
    }

    @Test
    void cryptoFutures() throws Exception {
        var c = sb.getCredentials();
        String authorization = WeixinKitCrypto.buildAuthorizationAsync(
                c.getMchid(), c.getSerialNo(), c.getMerchantPrivateKey(), "GET", "/v3/certificates", new byte[0], 1700000000L, "nonce").get();
        assertTrue(authorization.startsWith("WECHATPAY2-SHA256-RSA2048 mchid=\"" + c.getMchid() + "\""), authorization);
        assertEquals(Boolean.FALSE, WeixinKitCrypto.verifySignatureAsync(c.getWechatpayPublicKey(), "1", "n", new byte[0], "bm90").get());
        assertEquals(40, WeixinKitCrypto.signCardExt("ticket", "card", 1L, "nonce").length());
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> WeixinKitCrypto.buildAuthorizationAsync("1", "2", "not a key", "GET", "/v3/x", new byte[0], 1L, "n").get());
        assertInstanceOf(ConfigError.class, e.getCause());
    }

    @Test
    void componentClientFromJava() throws Exception {
        ComponentConfig c = sb.getComponentConfig();
        ComponentConfig config = new ComponentConfig.Builder(c.getComponentAppid(), c.getComponentAppsecret())
            .token(c.getToken())
            .encodingAesKey(c.getEncodingAesKey())
            .baseUrl(c.getBaseUrl())
            .build();
        try (ComponentClient component = new ComponentClient(config)) {
            // No push URL here: the push as a web app gets it, handed to parsePush by hand.
            JsonObject push = (JsonObject) sb.componentAsync("push_ticket").get();
            Map<String, String> query = Map.of(
                "timestamp", text(push, "timestamp"),
                "nonce", text(push, "nonce"),
                "encrypt_type", "aes",
                "msg_signature", text(push, "msg_signature"));
            JsonObject event = component.parsePushAsync(query, text(push, "envelope")).get();
            assertEquals("component_verify_ticket", text(event, "info_type"));
            assertEquals(c.getComponentAppid(), text(event, "app_id"));
            assertTrue(!component.componentAccessTokenAsync().get().isEmpty());

            JsonObject granted = (JsonObject) sb.componentAsync("authorize").get();
            String appid = text(granted, "authorizer_appid");
            JsonObject auth = component.authorizeAsync(text(granted, "authorization_code")).get();
            assertEquals(appid, text(auth, "authorizer_appid"));
            try (MiniProgramClient merchant = component.authorizer(appid)) {
                assertEquals(component.authorizerAccessTokenAsync(appid).get(), merchant.accessTokenAsync().get());
                component.forgetAuthorizerAsync(appid).get();
                ExecutionException e = assertThrows(ExecutionException.class, () -> merchant.accessTokenAsync().get());
                NotAuthorizedError notAuthorized = assertInstanceOf(NotAuthorizedError.class, e.getCause());
                assertEquals(appid, notAuthorized.getAuthorizerAppid());
            }
        }
    }
}
