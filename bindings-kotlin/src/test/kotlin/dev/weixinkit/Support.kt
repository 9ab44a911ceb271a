package dev.weixinkit

// The one helper module of the JUnit suite (the Kotlin side of bindings-node/test/helpers.js):
// the sandbox's lifecycle per test class, the spec and the vectors (expected values come from
// them or from the sandbox's own observation, never from our output), a local HTTP receiver for
// notifications, a Redis launcher and the common identities. Test classes use what they need
// from here and redefine nothing.

import com.sun.net.httpserver.HttpServer
import dev.weixinkit.testing.Credentials
import dev.weixinkit.testing.Sandbox
import kotlinx.coroutines.runBlocking
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonNull
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.buildJsonObject
import kotlinx.serialization.json.contentOrNull
import kotlinx.serialization.json.intOrNull
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import kotlinx.serialization.json.longOrNull
import kotlinx.serialization.json.put
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Assertions.fail
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.TestInstance
import java.io.File
import java.net.InetSocketAddress
import java.net.ServerSocket
import java.net.Socket
import java.net.URI
import java.net.URLEncoder
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.nio.charset.StandardCharsets
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.Paths
import java.security.MessageDigest
import java.security.SecureRandom
import java.util.Collections
import java.util.HexFormat
import java.util.concurrent.TimeUnit

// -- the repository, the spec and the vectors ------------------------------------------------------

/** The repository root (spec/vectors/, the consumer project), from Surefire's `weixinkit.repo`. */
val repo: Path = Paths.get(System.getProperty("weixinkit.repo") ?: "../..").toAbsolutePath().normalize()

fun readJson(path: Path): JsonElement = Json.parseToJsonElement(Files.readString(path))

/** `spec/<name>` as JSON. */
fun spec(name: String): JsonObject = readJson(repo.resolve("spec/$name")).jsonObject

/** `spec/vectors/<name>` as JSON. */
fun vectors(name: String): JsonObject = readJson(repo.resolve("spec/vectors/$name")).jsonObject

/** One operation of a spec file. */
data class SpecOperation(val operationId: String, val method: String, val path: String, val tag: String)

/** Every operation of a spec file. */
fun specOperations(name: String): List<SpecOperation> {
    // Only the document's own operations: a tag with x-weixin-client (the third-party platform's
    // `component`) gives its operations to another client (spec/README.md).
    val doc = spec(name)
    val otherClient = doc["tags"]?.jsonArray.orEmpty()
        .map { it.jsonObject }
        .filter { "x-weixin-client" in it }
        .map { it.getValue("name").jsonPrimitive.content }
        .toSet()
    return doc.getValue("paths").jsonObject.flatMap { (path, item) ->
        item.jsonObject.mapNotNull { (method, op) ->
            val o = op as? JsonObject ?: return@mapNotNull null
            val id = o["operationId"]?.jsonPrimitive?.contentOrNull ?: return@mapNotNull null
            val tag = o["tags"]?.jsonArray?.firstOrNull()?.jsonPrimitive?.content ?: ""
            if (tag in otherClient) return@mapNotNull null
            SpecOperation(id, method.uppercase(), path, tag)
        }
    }
}

/** A spec tag as a client property (`service_card` → `serviceCard`). */
fun camel(s: String): String = Regex("_([a-z])").replace(s) { it.groupValues[1].uppercase() }

/** An operationId as a method name (`ModifyStockInfo` → `modifyStockInfo`). */
fun methodName(operationId: String): String = operationId.replaceFirstChar { it.lowercase() }

/** The wechatpay.json error-table row of an operation (exactly one). */
fun documentedPay(path: String, method: String, status: Int, code: String, description: String): JsonObject {
    val table = spec("wechatpay.json")["paths"]!!.jsonObject[path]!!.jsonObject[method]!!.jsonObject["x-weixin-errors"]!!.jsonArray
    val rows = table.map { it.jsonObject }.filter {
        it.int("status") == status && it.str("code") == code && it.str("description") == description
    }
    assertTrue(rows.size == 1, "one documented row for $status $code $description")
    return rows.single()
}

/** The miniprogram.json errcode row of a path (exactly one). */
fun documentedMp(path: String, errcode: Long): JsonObject {
    val item = spec("miniprogram.json")["paths"]!!.jsonObject[path]!!.jsonObject
    val op = item.values.first { it is JsonObject && "operationId" in it.jsonObject }.jsonObject
    val rows = op["x-weixin-errors"]!!.jsonArray.map { it.jsonObject }.filter { it.long("errcode") == errcode }
    assertTrue(rows.size == 1, "one documented row for $path $errcode")
    return rows.single()
}

// -- JSON access ----------------------------------------------------------------------------------

val JsonElement.obj: JsonObject get() = jsonObject
fun JsonObject.str(key: String): String? = (this[key] as? JsonPrimitive)?.contentOrNull
fun JsonObject.int(key: String): Int? = (this[key] as? JsonPrimitive)?.intOrNull
fun JsonObject.long(key: String): Long? = (this[key] as? JsonPrimitive)?.longOrNull
fun JsonObject.s(key: String): String = str(key) ?: fail("no string $key in $this")
fun JsonObject.arr(key: String): JsonArray = (this[key] as? JsonArray) ?: fail("no array $key in $this")
fun JsonObject.o(key: String): JsonObject = (this[key] as? JsonObject) ?: fail("no object $key in $this")
fun parse(text: String): JsonElement = Json.parseToJsonElement(text)

// -- common identities ----------------------------------------------------------------------------

/** A valid 1x1 PNG (the sandbox accepts .png/.jpg/.bmp up to 2 MiB). */
val PNG_1X1: ByteArray = HexFormat.of().parseHex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000" +
        "1f15c4890000000d49444154789c63600000000200015e2b3a0c0000000049454e44ae426082",
)

/** A card id from the card documents' examples. */
const val CARD_ID = "pFS7Fjg8kV1IdDz01r4SQwMkuCKc"

/** Another merchant than the sandbox's. */
const val OTHER_MCHID = "1900000002"

private val random = SecureRandom()

/** A fresh id: prefix + 20 hex characters (a unique out_request_no with the default prefix). */
fun uid(prefix: String = "t"): String = prefix + HexFormat.of().formatHex(ByteArray(10).also(random::nextBytes))

/** A fresh 12-digit stock id (like 101156451224). */
fun newStockId(): String = (100_000_000_000L + (random.nextLong() and Long.MAX_VALUE) % 899_999_999_999L).toString()

fun sha256(data: ByteArray): String = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data))
fun sha1(data: ByteArray): String = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-1").digest(data))

// -- the sandbox, one per test class --------------------------------------------------------------

/**
 * One sandbox per test class ([sb]), stopped after the class; every test starts from a clean
 * slate: no faults, public-key signing, main listener up, empty request log, no valid
 * mini-program token or ticket.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class SandboxTest {
    val sb: Sandbox = Sandbox.startBlocking()

    @BeforeEach
    fun cleanSlate() = runBlocking { resetSandbox(sb) }

    @AfterAll
    fun stopSandbox() = sb.close()
}

suspend fun resetSandbox(sb: Sandbox) {
    sb.clearFaults()
    sb.mpClearErrcodeFaults()
    sb.setMainDown(false)
    sb.setSigningMode("public_key")
    // force_refresh is honoured 30 s apart (as WeChat does): each test starts past that.
    sb.mpAdvanceClock(31)
    sb.mpExpireTokens()
    sb.mpExpireTickets()
    sb.resetLog()
}

/** The request log's entries of one operation, oldest first. */
suspend fun Sandbox.logFor(operation: String): List<JsonObject> =
    requests().map { it.jsonObject }.filter { it.str("operation") == operation }

/** The last request-log entry. */
suspend fun Sandbox.lastRequest(): JsonObject = requests().last().jsonObject

/** A function giving `mpCounters()` minus their values now (zero entries left out). */
suspend fun Sandbox.mpDelta(): suspend () -> JsonObject {
    val before = mpCounters()
    fun delta(now: JsonElement, was: JsonElement?): JsonElement? = when (now) {
        is JsonObject -> {
            val out = now.mapNotNull { (k, v) -> delta(v, (was as? JsonObject)?.get(k))?.let { k to it } }.toMap()
            if (out.isEmpty()) null else JsonObject(out)
        }
        is JsonPrimitive -> {
            val d = (now.longOrNull ?: 0) - ((was as? JsonPrimitive)?.longOrNull ?: 0)
            if (d == 0L) null else JsonPrimitive(d)
        }
        else -> null
    }
    return { (delta(mpCounters(), before) as? JsonObject) ?: JsonObject(emptyMap()) }
}

/** A number in a counters delta by path (`calls`, `setUserNotifyExt`), 0 when absent. */
fun JsonObject.count(vararg path: String): Long {
    var node: JsonElement? = this
    for (key in path) node = (node as? JsonObject)?.get(key)
    return (node as? JsonPrimitive)?.longOrNull ?: 0
}

/** A fresh stock in the sandbox; its id. */
suspend fun Sandbox.newStock(fields: Map<String, Any?> = emptyMap()): String {
    val id = newStockId()
    createStock(id, fields)
    return id
}

/** A fresh user and notify_code registered in the sandbox. */
data class NotifyCode(val openid: String, val code: String)

suspend fun Sandbox.newNotifyCode(notifyType: Int = 1003, fields: Map<String, Any?> = emptyMap()): NotifyCode {
    val n = NotifyCode(uid("o"), uid("42"))
    mpAddNotifyCode(n.openid, notifyType, n.code, fields)
    return n
}

private val http: HttpClient = HttpClient.newHttpClient()

/** The current stable token of the mini-program (or of the card account), fetched over HTTP, not by us. */
fun Sandbox.rawToken(account: String = "mini_program"): String {
    val c = credentials
    val (appid, secret) = if (account == "card") c.cardAppid to c.cardSecret else c.appid to c.secret
    val body = buildJsonObject {
        put("grant_type", "client_credential")
        put("appid", appid)
        put("secret", secret)
    }
    val request = HttpRequest.newBuilder(URI.create("$baseUrl/cgi-bin/stable_token"))
        .header("content-type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body.toString())).build()
    return parse(http.send(request, HttpResponse.BodyHandlers.ofString()).body()).obj.s("access_token")
}

/** A ticket fetched over HTTP with [token]. */
fun Sandbox.rawTicket(token: String, type: String = "wx_card"): JsonObject {
    val q = "type=${enc(type)}&access_token=${enc(token)}"
    val request = HttpRequest.newBuilder(URI.create("$baseUrl/cgi-bin/ticket/getticket?$q")).GET().build()
    return parse(http.send(request, HttpResponse.BodyHandlers.ofString()).body()).obj
}

fun enc(s: String): String = URLEncoder.encode(s, StandardCharsets.UTF_8)

/** A query parameter of a logged path. */
fun queryParam(path: String, name: String): String? =
    URI.create("http://x$path").rawQuery?.split("&")?.map { it.split("=", limit = 2) }
        ?.firstOrNull { it[0] == name }?.getOrNull(1)?.let { java.net.URLDecoder.decode(it, StandardCharsets.UTF_8) }

// -- errors ---------------------------------------------------------------------------------------

/** The secrets of a sandbox's credentials (private key, APIv3 key, AppSecrets). */
fun secretsOf(c: Credentials): List<String> =
    listOf(c.merchantPrivateKey, c.apiv3Key, c.secret, c.cardSecret).filter { it.isNotEmpty() }

/** Asserts nothing of [secrets] is in the error's message, text, stack or fields. */
fun assertNoSecrets(error: Throwable, secrets: List<String>) {
    val shown = buildString {
        append(error.message).append('\n').append(error.toString()).append('\n').append(error.stackTraceToString())
        if (error is WeixinKitError) append('\n').append(error.detail)
        for (f in error.javaClass.declaredFields) {
            f.isAccessible = true
            append('\n').append(f.get(error))
        }
    }
    for (secret in secrets) {
        assertFalse(shown.contains(secret), "the error shows a secret")
        val body = secret.replace(Regex("-----[^-]+-----"), "").replace(Regex("\\s+"), "")
        // for a PEM: any 40 characters of its base64
        var i = 0
        while (i + 40 <= body.length) {
            assertFalse(shown.contains(body.substring(i, i + 40)), "the error shows part of a private key")
            i += 40
        }
    }
}

/**
 * Runs [block], asserts it fails with [T] (a [WeixinKitError]) and that nothing of [secrets] is
 * in it; returns the error.
 */
inline fun <reified T : Throwable> failsWith(secrets: List<String> = emptyList(), noinline block: suspend () -> Any?): T {
    val error = try {
        runBlocking { block() }
        null
    } catch (e: Throwable) {
        e
    }
    if (error == null) fail<Unit>("expected a ${T::class.simpleName}, nothing was thrown")
    if (error !is T) throw AssertionError("expected a ${T::class.simpleName}, got $error", error)
    assertTrue(error is WeixinKitError, "${error.javaClass} is a WeixinKitError")
    assertNoSecrets(error, secrets)
    return error
}

// -- a local receiver of notifications ------------------------------------------------------------

/** A request the [Receiver] got. */
class Received(val path: String, val method: String, val headers: Map<String, String>, val body: ByteArray)

/** A JDK HttpServer on 127.0.0.1 recording every request (path, headers, raw body). */
class Receiver : AutoCloseable {
    val received: MutableList<Received> = Collections.synchronizedList(mutableListOf())

    /** The status it answers. */
    @Volatile
    var status = 200

    private val server = HttpServer.create(InetSocketAddress("127.0.0.1", 0), 0).apply {
        createContext("/") { exchange ->
            val body = exchange.requestBody.readAllBytes()
            // the names as the JDK gives them (first letter upper-case), one value each
            val headers = exchange.requestHeaders.mapValues { it.value.first() }
            received.add(Received(exchange.requestURI.toString(), exchange.requestMethod, headers, body))
            val answer = """{"code":"SUCCESS","message":"成功"}""".toByteArray()
            exchange.responseHeaders.add("Content-Type", "application/json")
            exchange.sendResponseHeaders(status, answer.size.toLong())
            exchange.responseBody.use { it.write(answer) }
        }
        start()
    }

    fun url(path: String = "/wx/coupon"): String = "http://127.0.0.1:${server.address.port}$path"

    override fun close() = server.stop(0)
}

/** What [deliver] got: the sandbox's delivery report and the request as the receiver got it. */
class Delivery(val report: JsonObject, val headers: Map<String, String>, val body: ByteArray, val stockId: String)

/**
 * Registers [receiver] through `pay.busifavor.setCouponNotify`, makes the sandbox send a
 * COUPON.SEND notification and returns it as the receiver got it.
 */
suspend fun Sandbox.deliver(receiver: Receiver, pay: PayClient, fields: Map<String, Any?> = emptyMap()): Delivery {
    val path = "/wx/coupon/${uid()}"
    pay.busifavor.setCouponNotify(SetCouponNotifyRequest(notifyUrl = receiver.url(path)))
    val stockId = newStock()
    val count = receiver.received.size
    val report = sendCouponNotification(stockId, fields)
    assertTrue(report["delivered"] == JsonPrimitive(true), report.toString())
    assertTrue(receiver.received.size > count)
    val got = receiver.received.last()
    assertTrue(got.path == path, got.path)
    return Delivery(report, got.headers, got.body, stockId)
}

/** Header names as WeChat spells them, lower-cased (what parseNotification must accept too). */
fun Map<String, String>.lowerCaseNames(): Map<String, String> = mapKeys { it.key.lowercase() }

// -- processes, ports, Redis ----------------------------------------------------------------------

/** A free TCP port on 127.0.0.1 (nothing listens on it when this returns). */
fun freePort(): Int = ServerSocket(0).use { it.localPort }

/** Where `redis-server` is on PATH, or null. */
fun redisServerPath(): String? =
    System.getenv("PATH").orEmpty().split(File.pathSeparator)
        .map { File(it, "redis-server") }.firstOrNull { it.canExecute() }?.path

/** One Redis command over RESP; the raw reply text. */
fun redisCommand(port: Int, vararg args: String): String =
    Socket("127.0.0.1", port).use { socket ->
        socket.soTimeout = 5000
        val request = buildString {
            append("*${args.size}\r\n")
            for (a in args) append("$${a.toByteArray().size}\r\n$a\r\n")
        }
        socket.getOutputStream().write(request.toByteArray())
        val input = socket.getInputStream()
        val out = StringBuilder()
        val buffer = ByteArray(4096)
        while (!out.endsWith("\r\n")) {
            val n = input.read(buffer)
            if (n < 0) break
            out.append(String(buffer, 0, n))
        }
        out.toString()
    }

/** A real `redis-server` on a free port in a temp dir, without persistence. */
class RedisServer private constructor(val port: Int, private val process: Process, private val dir: Path) : AutoCloseable {
    fun url(db: Int = 0) = "redis://127.0.0.1:$port/$db"

    override fun close() {
        process.destroy()
        if (!process.waitFor(5, TimeUnit.SECONDS)) process.destroyForcibly().waitFor()
        dir.toFile().deleteRecursively()
    }

    companion object {
        /** Starts one, or null when redis-server is not installed. */
        fun start(): RedisServer? {
            val binary = redisServerPath() ?: return null
            val port = freePort()
            val dir = Files.createTempDirectory("weixin-kit-redis-")
            val process = ProcessBuilder(
                binary, "--port", "$port", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir.toString(),
            ).redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD).start()
            val deadline = System.nanoTime() + 10_000_000_000L
            while (true) {
                val pong = runCatching { redisCommand(port, "PING") }.getOrNull()
                if (pong != null && pong.startsWith("+PONG")) return RedisServer(port, process, dir)
                if (!process.isAlive || System.nanoTime() > deadline) {
                    process.destroyForcibly()
                    dir.toFile().deleteRecursively()
                    error("redis-server did not start")
                }
                Thread.sleep(20)
            }
        }
    }
}

/** A JSON value of a Kotlin value (for expected bodies). */
fun jsonOf(value: Any?): JsonElement = when (value) {
    null -> JsonNull
    is JsonElement -> value
    is String -> JsonPrimitive(value)
    is Number -> JsonPrimitive(value)
    is Boolean -> JsonPrimitive(value)
    is Map<*, *> -> JsonObject(value.entries.associate { (k, v) -> k.toString() to jsonOf(v) })
    is Iterable<*> -> JsonArray(value.map(::jsonOf))
    else -> JsonPrimitive(value.toString())
}

/** A JsonObject of a map. */
@Suppress("FunctionName")
fun JsonObjectOf(map: Map<String, JsonElement>): JsonObject = JsonObject(map)

/** The JSON configuration of the package's wire format (to encode typed values for the sandbox). */
val testJson: Json = Json {
    ignoreUnknownKeys = true
    explicitNulls = false
}
