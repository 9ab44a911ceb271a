// ModifyStockInfo throughput and client CPU per call: weixin-kit (dev.weixinkit:weixin-kit, the
// installed release build) against wechatpay-java 0.2.17 (the official SDK, public-key mode), in
// ONE run against ONE sandbox process (target/release/weixin-kit-sandbox, spawned here).
//
// Every call is the same valid change to one existing stock (a fresh out_request_no each time,
// so every call is applied), signed by the client, verified by the sandbox, answered 204 and
// signed by the sandbox, and the answer's signature verified by the client. The client's CPU is
// the JVM's process CPU time (com.sun.management.OperatingSystemMXBean.getProcessCpuTime(): every
// thread of this process — the JIT compilers and the GC included —) around each case, split by
// thread from /proc/self/task; the sandbox's is read from /proc/<pid>/stat.
//
//     mvn -f bindings-kotlin/pom.xml -DskipTests install        # release build of weixin-kit
//     cargo build --release -p weixin-kit-sandbox
//     mvn -f bindings-kotlin/bench/pom.xml -q compile exec:exec -Dbench.args="--seconds 5"
//
// `cargo xtask bench` does all of that. Prints numbers; asserts nothing about them (README.md).

import com.sun.management.OperatingSystemMXBean
import com.wechat.pay.java.core.RSAPublicKeyConfig
import com.wechat.pay.java.core.exception.ValidationException
import com.wechat.pay.java.core.http.DefaultHttpClientBuilder
import com.wechat.pay.java.core.http.HttpClient
import com.wechat.pay.java.core.http.HttpRequest
import com.wechat.pay.java.core.http.HttpResponse
import com.wechat.pay.java.service.merchantexclusivecoupon.MerchantExclusiveCouponService
import dev.weixinkit.ModifyStockInfoRequest
import dev.weixinkit.PayClient
import dev.weixinkit.PayConfig
import dev.weixinkit.WeixinKitError
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.int
import kotlinx.serialization.json.intOrNull
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import java.io.File
import java.io.InputStream
import java.lang.management.ManagementFactory
import java.net.HttpURLConnection
import java.net.URI
import java.security.KeyFactory
import java.security.PrivateKey
import java.security.PublicKey
import java.security.Signature
import java.security.spec.PKCS8EncodedKeySpec
import java.security.spec.X509EncodedKeySpec
import java.util.Base64
import java.util.concurrent.atomic.AtomicInteger
import java.util.concurrent.atomic.AtomicLong
import kotlin.concurrent.thread
import com.wechat.pay.java.service.merchantexclusivecoupon.model.ModifyStockInfoRequest as WxModifyStockInfoRequest

// The issue's targets (issue 13, "Benchmark").
const val TARGET_X_FLOOR = 1.3 // client CPU per call at most 1.3x the crypto floor
const val TARGET_CPU_VS_JAVA = 4.0 // at least 4x less client CPU per call than wechatpay-java
const val TARGET_RATE_VS_JAVA = 2.0 // at least 2x wechatpay-java's calls/s at 16 in flight

const val WEIXIN_KIT = "weixin-kit"
const val WECHATPAY_JAVA = "wechatpay-java"

class Options(
    var seconds: Double = 5.0,
    var warmup: Double = 2.0,
    var jitWarmup: Double = 10.0,
    var concurrency: Int = 16,
    var pin: Boolean = false,
    var floorSeconds: Double = 1.0,
    var only: String = "",
)

fun usage(error: String? = null): Nothing {
    val text = """
        usage: ModifyStockInfoBench [--seconds S (5)] [--warmup S (2, per case)] [--jit-warmup S (10, per client, first)]
               [--concurrency N (16)] [--floor-seconds S (1)] [--only weixin-kit|wechatpay-java] [--pin]
          --pin: the sandbox on the last core, this JVM (every thread) on the others (taskset; >= 2 cores)
        sandbox binary: ${'$'}WEIXIN_KIT_SANDBOX_BIN or target/release/weixin-kit-sandbox
    """.trimIndent()
    if (error != null) {
        System.err.println("$error\n$text")
        kotlin.system.exitProcess(2)
    }
    println(text)
    kotlin.system.exitProcess(0)
}

fun parseArgs(args: Array<String>): Options {
    val o = Options()
    var i = 0
    fun value(): String = args.getOrNull(++i) ?: usage("${args[i - 1]} needs a value")
    while (i < args.size) {
        when (val a = args[i]) {
            "--seconds" -> o.seconds = value().toDouble()
            "--warmup" -> o.warmup = value().toDouble()
            "--jit-warmup" -> o.jitWarmup = value().toDouble()
            "--concurrency" -> o.concurrency = value().toInt()
            "--floor-seconds" -> o.floorSeconds = value().toDouble()
            "--only" -> o.only = value()
            "--pin" -> o.pin = true
            "--help", "-h" -> usage()
            else -> usage("unknown option $a")
        }
        i++
    }
    return o
}

// -- /proc -----------------------------------------------------------------------------------

val CLK_TCK: Double = runCatching {
    ProcessBuilder("getconf", "CLK_TCK").start().inputStream.bufferedReader().readText().trim().toDouble()
}.getOrDefault(100.0)

/** utime + stime (seconds) from a /proc stat file, or null. */
fun statCpu(file: String): Double? = runCatching {
    val stat = File(file).readText()
    val f = stat.substring(stat.lastIndexOf(')') + 2).split(' ')
    (f[11].toDouble() + f[12].toDouble()) / CLK_TCK
}.getOrNull()

/** CPU seconds every core spent busy so far (all but idle and iowait). */
fun machineBusySeconds(): Double? = runCatching {
    val f = File("/proc/stat").readLines()[0].trim().split(Regex("\\s+")).drop(1).take(8).map { it.toDouble() }
    (f.sum() - f[3] - f[4]) / CLK_TCK
}.getOrNull()

/** The JVM's process CPU time (every thread), seconds. */
val osBean = ManagementFactory.getOperatingSystemMXBean() as OperatingSystemMXBean
fun processCpu(): Double = osBean.processCpuTime / 1e9

/** This process's threads grouped by what they do (from their names), CPU seconds so far. */
fun threadGroupCpu(): Map<String, Double> {
    val out = HashMap<String, Double>()
    File("/proc/self/task").listFiles()?.forEach { t ->
        val comm = runCatching { File(t, "comm").readText().trim() }.getOrNull() ?: return@forEach
        val cpu = statCpu("${t.path}/stat") ?: return@forEach
        out.merge(threadGroup(comm), cpu, Double::plus)
    }
    return out
}

fun threadGroup(comm: String): String = when {
    comm.startsWith("weixin-kit") -> "tokio"
    comm.startsWith("C1 Compiler") || comm.startsWith("C2 Compiler") -> "JIT"
    comm.startsWith("GC ") || comm.startsWith("G1 ") || comm.startsWith("VM Thread") || comm.startsWith("VM Periodic") -> "GC+VM"
    comm.startsWith("DefaultDispatch") -> "coroutines"
    comm.startsWith("wxpay-") -> "sdk threads"
    comm.startsWith("OkHttp") -> "okhttp"
    else -> "other"
}

fun usableCores(): List<Int> {
    val out = runCatching {
        ProcessBuilder("taskset", "-cp", ProcessHandle.current().pid().toString()).start().inputStream.bufferedReader().readText()
    }.getOrDefault("")
    val cores = mutableListOf<Int>()
    for (part in out.substringAfterLast(':').trim().split(',').filter { it.isNotBlank() }) {
        val ab = part.split('-').map { it.trim().toInt() }
        for (c in ab[0]..(ab.getOrNull(1) ?: ab[0])) cores.add(c)
    }
    return cores.ifEmpty { (0 until Runtime.getRuntime().availableProcessors()).toList() }
}

// -- the sandbox process -----------------------------------------------------------------------

class SandboxProcess(val proc: Process, val baseUrl: String, val credentials: JsonObject) {
    fun cred(key: String): String = credentials.getValue(key).jsonPrimitive.content

    fun cpuSeconds(): Double? = statCpu("/proc/${proc.pid()}/stat")

    fun control(method: String, route: String, body: String? = null): JsonObject? {
        val c = URI(baseUrl + route).toURL().openConnection() as HttpURLConnection
        c.requestMethod = method
        if (body != null) {
            c.doOutput = true
            c.setRequestProperty("Content-Type", "application/json")
            c.outputStream.use { it.write(body.toByteArray()) }
        }
        val status = c.responseCode
        val text = (if (status < 400) c.inputStream else c.errorStream)?.use { it.readBytes().decodeToString() } ?: ""
        if (status >= 400) error("sandbox control $method $route: HTTP $status $text")
        return if (text.isBlank()) null else Json.parseToJsonElement(text) as? JsonObject
    }

    fun newStock(name: String): String =
        control("POST", "/sandbox/stocks", """{"stock_name":"$name"}""")!!.getValue("stock_id").jsonPrimitive.content

    fun stop() {
        proc.destroy()
        proc.waitFor()
    }

    companion object {
        fun start(binary: String, core: Int?): SandboxProcess {
            if (!File(binary).exists()) {
                System.err.println("$binary not found: run `cargo build --release -p weixin-kit-sandbox` (or set WEIXIN_KIT_SANDBOX_BIN)")
                kotlin.system.exitProcess(1)
            }
            val cmd = if (core == null) listOf(binary) else listOf("taskset", "-c", core.toString(), binary)
            val proc = ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start()
            val line = proc.inputStream.bufferedReader().readLine() ?: error("the sandbox exited before printing its address")
            // Nothing more is expected on stdout; drain it so that a full pipe never blocks it.
            thread(isDaemon = true, name = "sandbox-stdout") { proc.inputStream.copyTo(java.io.OutputStream.nullOutputStream()) }
            val info = Json.parseToJsonElement(line).jsonObject
            return SandboxProcess(proc, info.getValue("base_url").jsonPrimitive.content, info.getValue("credentials").jsonObject)
        }
    }
}

// -- the clients -------------------------------------------------------------------------------

/** One ModifyStockInfo: suspend for weixin-kit, blocking for wechatpay-java. */
interface Client : AutoCloseable {
    val name: String
}

class WeixinKit(sb: SandboxProcess, publicKey: String? = null) : Client {
    override val name = WEIXIN_KIT
    val pay = PayClient(
        PayConfig(
            mchid = sb.cred("mchid"),
            serialNo = sb.cred("merchant_serial_no"),
            privateKey = sb.cred("merchant_private_key_pem"),
            wechatpayPublicKeyId = sb.cred("wechatpay_public_key_id"),
            wechatpayPublicKey = publicKey ?: sb.cred("wechatpay_public_key_pem"),
            apiv3Key = sb.cred("apiv3_key"),
            baseUrl = sb.baseUrl, // no backup host: a custom base_url never fails over to WeChat
        ),
    )

    suspend fun call(stockId: String, outRequestNo: String) =
        pay.busifavor.modifyStockInfo(stockId, ModifyStockInfoRequest(outRequestNo = outRequestNo, comment = "活动使用"))

    override fun close() = pay.close()
}

/**
 * wechatpay-java in public-key mode (RSAPublicKeyConfig), its busifavor service
 * (MerchantExclusiveCouponService.modifyStockInfo) on its default OkHttp client. Its services
 * write https://api.mch.weixin.qq.com/… and HostName names only WeChat's hosts, so its public
 * HttpClient interface is wrapped to send each request to the sandbox ([ToSandbox]); the SDK
 * signs, sends and verifies as it does against WeChat.
 */
class WechatpayJava(sb: SandboxProcess, publicKey: String? = null) : Client {
    override val name = WECHATPAY_JAVA
    private val config = RSAPublicKeyConfig.Builder()
        .merchantId(sb.cred("mchid"))
        .privateKey(sb.cred("merchant_private_key_pem"))
        .merchantSerialNumber(sb.cred("merchant_serial_no"))
        .publicKey(publicKey ?: sb.cred("wechatpay_public_key_pem"))
        .publicKeyId(sb.cred("wechatpay_public_key_id"))
        .apiV3Key(sb.cred("apiv3_key"))
        .build()
    val service: MerchantExclusiveCouponService = MerchantExclusiveCouponService.Builder()
        .httpClient(ToSandbox(DefaultHttpClientBuilder().config(config).build(), sb.baseUrl))
        .build()

    fun call(stockId: String, outRequestNo: String) = service.modifyStockInfo(
        WxModifyStockInfoRequest().apply {
            this.stockId = stockId
            this.outRequestNo = outRequestNo
            comment = "活动使用"
        },
    )

    override fun close() {}
}

/** wechatpay-java's HttpClient with WeChat's host replaced by the sandbox's base URL. */
class ToSandbox(private val delegate: HttpClient, baseUrl: String) : HttpClient {
    private val base = baseUrl.trimEnd('/')
    private fun rewrite(url: String) = url.replaceFirst("https://api.mch.weixin.qq.com", base)

    override fun <T> execute(request: HttpRequest, responseClass: Class<T>?): HttpResponse<T> = delegate.execute(
        HttpRequest.Builder().httpMethod(request.httpMethod).url(rewrite(request.url.toString()))
            .headers(request.headers).body(request.body).build(),
        responseClass,
    )

    override fun download(url: String): InputStream = delegate.download(rewrite(url))
}

fun describe(e: Throwable): String = "${e.javaClass.simpleName}: ${e.message?.lineSequence()?.first()?.take(110)}"

/**
 * Both clients must really verify the answer: with a wrong WeChat Pay public key (the merchant's
 * own, same id) a 204 signed by the sandbox must be rejected.
 */
fun checkVerification(sb: SandboxProcess, name: String): String = runBlocking {
    val stockId = sb.newStock("验签检查")
    val pid = ProcessHandle.current().pid()
    val wrongKey = sb.cred("merchant_public_key_pem")
    when (name) {
        WEIXIN_KIT -> {
            WeixinKit(sb).use { it.call(stockId, "verify-ok-$name-$pid") }
            WeixinKit(sb, wrongKey).use {
                try {
                    it.call(stockId, "verify-bad-$name-$pid")
                    "OFF: a wrong WeChat Pay public key was accepted, the answer is not verified"
                } catch (e: WeixinKitError) {
                    "on (a 204 succeeds; with a wrong public key it is rejected: ${describe(e)})"
                }
            }
        }
        else -> {
            WechatpayJava(sb).call(stockId, "verify-ok-$name-$pid")
            try {
                WechatpayJava(sb, wrongKey).call(stockId, "verify-bad-$name-$pid")
                "OFF: a wrong WeChat Pay public key was accepted, the answer is not verified"
            } catch (e: ValidationException) {
                "on (a 204 succeeds; with a wrong public key it is rejected: ${describe(e)})"
            }
        }
    }
}

// -- the crypto floor --------------------------------------------------------------------------

val threadBean = ManagementFactory.getThreadMXBean()

fun pemBody(pem: String): ByteArray = Base64.getMimeDecoder().decode(pem.lines().filter { !it.startsWith("-----") }.joinToString(""))

class Floor(val library: String, val signUs: Double, val verifyUs: Double) {
    val us get() = signUs + verifyUs
}

/** CPU µs of this thread per `op()`, repeated for about `seconds` of wall time after a warm-up. */
fun perOp(seconds: Double, op: () -> Unit): Double {
    repeat(200) { op() } // warm (and JIT-compile the loop)
    val deadline = System.nanoTime() + (seconds * 1e9).toLong()
    val cpu0 = threadBean.currentThreadCpuTime
    var n = 0
    while (System.nanoTime() < deadline) {
        repeat(20) { op() }
        n += 20
    }
    return (threadBean.currentThreadCpuTime - cpu0) / 1e3 / n
}

/** One RSA-2048 PKCS#1 v1.5 SHA-256 signature + one verification by java.security (SunRsaSign:
 * what wechatpay-java uses), keys parsed once. */
fun javaFloor(sb: SandboxProcess, seconds: Double): Floor {
    val kf = KeyFactory.getInstance("RSA")
    val priv: PrivateKey = kf.generatePrivate(PKCS8EncodedKeySpec(pemBody(sb.cred("merchant_private_key_pem"))))
    val pub: PublicKey = kf.generatePublic(X509EncodedKeySpec(pemBody(sb.cred("merchant_public_key_pem"))))
    val message = "PATCH\n/v3/marketing/busifavor/stocks/1212121212\n${System.currentTimeMillis() / 1000}\n" +
        "0123456789abcdef0123456789abcdef\n{\"out_request_no\":\"bench-1\",\"comment\":\"活动使用\"}\n"
    val bytes = message.toByteArray()
    val signature = Signature.getInstance("SHA256withRSA").run { initSign(priv); update(bytes); sign() }
    val signUs = perOp(seconds) {
        Signature.getInstance("SHA256withRSA").run { initSign(priv); update(bytes); sign() }
    }
    val verifyUs = perOp(seconds / 2) {
        val ok = Signature.getInstance("SHA256withRSA").run { initVerify(pub); update(bytes); verify(signature) }
        check(ok) { "floor: verify failed" }
    }
    val provider = Signature.getInstance("SHA256withRSA").apply { initSign(priv) }.provider
    return Floor("java.security (${provider.name})", signUs, verifyUs)
}

/** The same by the core's key types (aws-lc, what weixin-kit's client runs), through the native
 * library's bench entry point (runs on this thread, so this thread's CPU time measures it). */
fun coreFloor(sb: SandboxProcess, seconds: Double): Floor? = runCatching {
    val priv = sb.cred("merchant_private_key_pem")
    val pub = sb.cred("merchant_public_key_pem")
    fun per(signs: Int, verifies: Int): Double {
        dev.weixinkit.internal.benchSignVerify(priv, pub, 5u, 5u) // warm
        val deadline = System.nanoTime() + (seconds * 1e9).toLong()
        val cpu0 = threadBean.currentThreadCpuTime
        var n = 0
        while (System.nanoTime() < deadline) {
            n += dev.weixinkit.internal.benchSignVerify(priv, pub, signs.toUInt(), verifies.toUInt()).toInt()
        }
        // Each call also parses the two keys once and makes one signature (≈ 1/50 of a batch).
        return (threadBean.currentThreadCpuTime - cpu0) / 1e3 / n
    }
    Floor("weixin-kit's core (aws-lc)", per(50, 0), per(0, 500))
}.onFailure { System.err.println("core floor unavailable: ${describe(it)}") }.getOrNull()

// -- running a case ----------------------------------------------------------------------------

class Result(val client: String, val workers: Int) {
    val mode get() = if (workers == 1) "sequential" else "concurrent"
    var calls = 0L
    var errors = 0L
    var elapsed = 0.0
    val latencies = ArrayList<Double>()
    var clientCpu = 0.0
    var groups: Map<String, Double> = emptyMap()
    var workerThreadCpu = 0.0 // wechatpay-java's threads (ThreadMXBean, as they end)
    var serverCpu: Double? = null
    var machineCpu: Double? = null
    var serverCalls = 0
    var firstError: String? = null
    val rate get() = if (elapsed > 0) calls / elapsed else 0.0
    fun perCallUs(seconds: Double?) = if (seconds == null || calls == 0L) null else seconds / calls * 1e6
    val clientUs get() = perCallUs(clientCpu)!!
}

val sequence = AtomicLong()
fun nextNo(): String = "bench-${ProcessHandle.current().pid()}-${sequence.incrementAndGet()}"

/** `workers` loops until `seconds` have passed, each doing one call at a time. */
fun runWorkers(client: Client, stockId: String, workers: Int, seconds: Double, r: Result) {
    val deadline = System.nanoTime() + (seconds * 1e9).toLong()
    val lat = Array(workers) { ArrayList<Double>() }
    val errors = AtomicInteger()
    val threadCpuNs = AtomicLong() // wechatpay-java's worker threads, which end before /proc is read
    fun failed(e: Throwable) {
        errors.incrementAndGet()
        synchronized(r) {
            if (r.firstError == null) {
                r.firstError = describe(e)
                System.err.println("  ${client.name}: ${r.firstError}")
            }
        }
    }
    when (client) {
        // Coroutines on one client, on Dispatchers.Default (what a coroutine server runs on).
        is WeixinKit -> runBlocking(Dispatchers.Default) {
            coroutineScope {
                repeat(workers) { w ->
                    launch {
                        while (true) {
                            val start = System.nanoTime()
                            if (start >= deadline) break
                            try {
                                client.call(stockId, nextNo())
                            } catch (e: Exception) {
                                failed(e)
                            }
                            lat[w].add((System.nanoTime() - start) / 1e6)
                        }
                    }
                }
            }
        }
        // Threads on one client: the SDK is blocking.
        is WechatpayJava -> (0 until workers).map { w ->
            thread(name = "wxpay-$w") {
                val cpu0 = threadBean.currentThreadCpuTime
                while (true) {
                    val start = System.nanoTime()
                    if (start >= deadline) break
                    try {
                        client.call(stockId, nextNo())
                    } catch (e: Exception) {
                        failed(e)
                    }
                    lat[w].add((System.nanoTime() - start) / 1e6)
                }
                threadCpuNs.addAndGet(threadBean.currentThreadCpuTime - cpu0)
            }
        }.forEach { it.join() }
    }
    for (l in lat) r.latencies.addAll(l)
    r.errors += errors.get()
    r.workerThreadCpu += threadCpuNs.get() / 1e9
}

fun measure(sb: SandboxProcess, client: Client, workers: Int, opts: Options): Result {
    val r = Result(client.name, workers)
    val stockId = sb.newStock("压测 ${client.name} $workers")
    if (opts.warmup > 0) runWorkers(client, stockId, workers, opts.warmup, Result(client.name, workers))
    sb.control("DELETE", "/sandbox/requests") // the sandbox's log and counters start empty
    val server0 = sb.cpuSeconds()
    val machine0 = machineBusySeconds()
    val groups0 = threadGroupCpu()
    val cpu0 = processCpu()
    val t0 = System.nanoTime()
    runWorkers(client, stockId, workers, opts.seconds, r)
    r.elapsed = (System.nanoTime() - t0) / 1e9
    r.clientCpu = processCpu() - cpu0
    val groups1 = threadGroupCpu()
    val server1 = sb.cpuSeconds()
    val machine1 = machineBusySeconds()
    // Threads that ended meanwhile are missing from groups1: their CPU stays in "other" below.
    r.groups = groups1.mapValues { (k, v) -> (v - (groups0[k] ?: 0.0)).coerceAtLeast(0.0) } +
        ("sdk threads" to r.workerThreadCpu)
    r.serverCpu = if (server0 == null || server1 == null) null else server1 - server0
    r.machineCpu = if (machine0 == null || machine1 == null) null else machine1 - machine0
    r.calls = r.latencies.size - r.errors
    val counters = sb.control("GET", "/sandbox/counters")!!
    r.serverCalls = counters["requests"]?.jsonObject?.get("ModifyStockInfo")?.jsonPrimitive?.intOrNull ?: 0
    // Every call applied: the stock lists each out_request_no once.
    val applied = counters["applied_out_request_nos"]?.jsonObject?.get(stockId)?.let { (it as? kotlinx.serialization.json.JsonArray)?.size }
    if (applied != null && applied < r.calls) System.err.println("  ${client.name}: only $applied of ${r.calls} calls applied to the stock")
    return r
}

// -- printing ----------------------------------------------------------------------------------

fun pct(l: List<Double>, q: Double): Double = if (l.isEmpty()) Double.NaN else l.sorted()[minOf(l.size - 1, (q * l.size).toInt())]
fun f(v: Double?, d: Int = 0) = if (v == null || v.isNaN()) "n/a" else "%.${d}f".format(v)
fun Result.cores(seconds: Double?) = if (seconds == null || elapsed == 0.0) null else seconds / elapsed
fun Result.others(): Double? {
    val m = machineCpu ?: return null
    val s = serverCpu ?: return null
    return maxOf((m - clientCpu - s) / elapsed, 0.0)
}

fun printTable(results: List<Result>) {
    val base = results.filter { it.client == WECHATPAY_JAVA }.associateBy { it.workers }
    val header = "client".padEnd(16) + "mode".padEnd(12) + "conc".padStart(5) + "calls/s".padStart(9) + "vs java".padStart(9) +
        "p50 ms".padStart(8) + "p99 ms".padStart(8) + "errors".padStart(7) + "client CPU".padStart(11) + "µs/call".padStart(9) +
        "server CPU".padStart(11) + "µs/call".padStart(9) + "others".padStart(8)
    println(header)
    println("-".repeat(header.length))
    for (r in results) {
        val b = base[r.workers]
        val vs = if (b != null && b.calls > 0) "%.2fx".format(r.rate / b.rate) else "-"
        println(
            r.client.padEnd(16) + r.mode.padEnd(12) + "${r.workers}".padStart(5) + f(r.rate).padStart(9) + vs.padStart(9) +
                f(pct(r.latencies, 0.5), 2).padStart(8) + f(pct(r.latencies, 0.99), 2).padStart(8) + "${r.errors}".padStart(7) +
                f(r.cores(r.clientCpu), 2).padStart(11) + f(r.perCallUs(r.clientCpu)).padStart(9) +
                f(r.cores(r.serverCpu), 2).padStart(11) + f(r.perCallUs(r.serverCpu)).padStart(9) + f(r.others(), 2).padStart(8),
        )
    }
    println()
    println(
        "calls/s: successful calls per wall-clock second · vs java: over wechatpay-java's at the same concurrency ·\n" +
            "client CPU: cores this JVM kept busy (getProcessCpuTime(): every thread, the JIT compilers and the GC included)\n" +
            "and CPU µs per call · server CPU: the same for the sandbox process (/proc/<pid>/stat) · others: cores the\n" +
            "machine's other processes kept busy meanwhile (/proc/stat)",
    )
    println(
        "\nclient CPU µs per call by thread (/proc/self/task, 10 ms ticks; 'sdk threads': wechatpay-java's ${results.maxOf { it.workers }} " +
            "calling threads, from ThreadMXBean; 'other': the rest, threads that ended included):",
    )
    val names = listOf("tokio", "coroutines", "sdk threads", "okhttp", "JIT", "GC+VM")
    println("client".padEnd(16) + "conc".padStart(5) + names.joinToString("") { it.padStart(12) } + "other".padStart(8))
    for (r in results.filter { it.calls > 0 }) {
        val known = names.sumOf { r.groups[it] ?: 0.0 }
        println(
            r.client.padEnd(16) + "${r.workers}".padStart(5) + names.joinToString("") { f(r.perCallUs(r.groups[it] ?: 0.0)).padStart(12) } +
                f(r.perCallUs(maxOf(r.clientCpu - known, 0.0))).padStart(8),
        )
    }
    val mismatched = results.filter { it.serverCalls.toLong() != it.calls + it.errors }
    if (mismatched.isNotEmpty()) {
        println("note: the sandbox counted a different number of ModifyStockInfo requests for: " +
            mismatched.joinToString { "${it.client} ${it.workers} (${it.serverCalls} vs ${it.calls + it.errors})" })
    } else {
        println("the sandbox counted every call: " + results.joinToString { "${it.client} ${it.workers}: ${it.serverCalls}" })
    }
}

fun verdict(ok: Boolean) = if (ok) "met" else "NOT met"

fun printSummary(results: List<Result>, floors: List<Floor>, n: Int, usable: Int, pinned: Boolean) {
    fun find(client: String, w: Int) = results.find { it.client == client && it.workers == w && it.calls > 0 }
    println("crypto floor per call: one RSA-2048 PKCS#1 v1.5 SHA-256 signature + one verification, keys parsed once, CPU of the measuring thread, in this run:")
    for (fl in floors) println("  ${fl.library.padEnd(32)} sign ${f(fl.signUs)} + verify ${f(fl.verifyUs)} = ${f(fl.us)} µs")
    val javaFloor = floors.last()
    fun floorOf(client: String) = if (client == WEIXIN_KIT) floors.first() else javaFloor
    val header = "client".padEnd(16) + "conc".padStart(5) + "calls/s".padStart(9) + "client µs".padStart(11) + "x floor".padStart(9) +
        "vs java µs".padStart(13) + "server µs".padStart(11) + "bound/s".padStart(9) + "x bound".padStart(9)
    println(header)
    println("-".repeat(header.length))
    for (r in results.filter { it.calls > 0 }) {
        val j = find(WECHATPAY_JAVA, r.workers)
        val server = r.perCallUs(r.serverCpu)
        val bound = server?.let { 1e6 / (r.clientUs + it) }
        println(
            r.client.padEnd(16) + "${r.workers}".padStart(5) + f(r.rate).padStart(9) + f(r.clientUs).padStart(11) +
                f(r.clientUs / floorOf(r.client).us, 2).padStart(9) + (if (j != null) "%.2fx less".format(j.clientUs / r.clientUs) else "-").padStart(13) +
                f(server).padStart(11) + f(bound).padStart(9) + (if (bound == null) "n/a" else "%.2f".format(r.rate / bound)).padStart(9),
        )
    }
    println(
        "x floor: client µs per call / the floor of the client's own crypto (weixin-kit: the core's, wechatpay-java: java.security) ·\n" +
            "vs java µs: wechatpay-java's client µs per call / this row's · bound/s: 1 / (client µs + server µs), one call at a time\n" +
            "with nobody waiting (concurrent rows can reach cores x bound)",
    )

    println("\ntargets (printed, never asserted):")
    val floor = floors.first()
    for ((w, mode) in listOf(1 to "sequential", n to "$n in flight")) {
        val o = find(WEIXIN_KIT, w)
        val j = find(WECHATPAY_JAVA, w)
        if (o != null) {
            val x = o.clientUs / floor.us
            val xJava = if (floor !== javaFloor) " (%.2fx the java.security floor)".format(o.clientUs / javaFloor.us) else ""
            println("  $mode: weixin-kit client CPU ${f(o.clientUs)} µs/call = %.2fx the floor$xJava (target <= ${TARGET_X_FLOOR}x): ${verdict(x <= TARGET_X_FLOOR)}".format(x))
        }
        if (o != null && j != null) {
            val less = j.clientUs / o.clientUs
            println("  $mode: wechatpay-java ${f(j.clientUs)} µs/call / weixin-kit ${f(o.clientUs)} µs/call = %.2fx less CPU (target >= ${TARGET_CPU_VS_JAVA}x): ${verdict(less >= TARGET_CPU_VS_JAVA)}".format(less))
        }
    }
    val o = find(WEIXIN_KIT, n)
    val j = find(WECHATPAY_JAVA, n)
    if (o != null && j != null) {
        val x = o.rate / j.rate
        println("  $n in flight: weixin-kit ${f(o.rate)} calls/s / wechatpay-java ${f(j.rate)} = %.2fx (target >= ${TARGET_RATE_VS_JAVA}x): ${verdict(x >= TARGET_RATE_VS_JAVA)}".format(x))
    }

    println("\nwas the sandbox the bottleneck? ($usable cores${if (pinned) ", the sandbox pinned to one of its own" else ", shared by client and sandbox"})")
    for (client in listOf(WEIXIN_KIT, WECHATPAY_JAVA)) {
        val seq = find(client, 1)
        val wide = find(client, n) ?: continue
        val c = wide.cores(wide.clientCpu)!!
        val s = wide.cores(wide.serverCpu)
        val others = wide.others() ?: 0.0
        val scale = seq?.let { wide.rate / it.rate }
        val v = when {
            s == null -> "unknown (no /proc)"
            pinned -> if (s >= 0.9) "yes: the sandbox used %.2f of its own core (no headroom)".format(s)
            else "no: the sandbox used %.2f of its own core (headroom %.2f); client %.2f of its %d core(s), other processes %.2f cores of the machine"
                .format(s, 1 - s, c, usable - 1, others)
            c + s + others >= 0.9 * usable ->
                "the machine was saturated (client %.2f + sandbox %.2f + others %.2f of %d cores)".format(c, s, others, usable) +
                    (if (others >= 0.5) "; other processes took %.2f cores, which both sides did not get".format(others) else "") + ": " +
                    if (s >= 0.8 * c) "the sandbox (one verify + one sign per call) took about as much as the client, so on this box it is as much the limit as the client: more cores would raise the rate, and this row understates the client"
                    else "the client took most of it (%.2fx the sandbox's CPU); the sandbox, with less, was not the limit".format(c / s)
            s >= 0.9 * maxOf(usable - c - others, 0.01) -> "yes: the sandbox used %.2f cores, all that the client (%.2f) and others (%.2f) left it".format(s, c, others)
            else -> "no core was full (client %.2f, sandbox %.2f, others %.2f of %d): waiting (latency), not CPU".format(c, s, others, usable)
        }
        println("  $client, $n in flight: $v" + (scale?.let { "; throughput %.2fx the sequential rate".format(it) } ?: ""))
    }
    if (!pinned && o != null && j != null && o.serverCpu != null && j.serverCpu != null) {
        val costO = o.clientUs + o.perCallUs(o.serverCpu)!!
        val costJ = j.clientUs + j.perCallUs(j.serverCpu)!!
        println(
            "  when client and sandbox share saturated cores, a call costs the machine client + sandbox CPU: weixin-kit ${f(costO)} µs, " +
                "wechatpay-java ${f(costJ)} µs, so the $n-in-flight rate ratio tends to %.2fx; with the sandbox on cores of its own ".format(costJ / costO) +
                "(--pin, or another machine) it can reach the client-CPU ratio, %.2fx".format(j.clientUs / o.clientUs),
        )
    }
}

// -- main --------------------------------------------------------------------------------------

fun main(args: Array<String>) {
    val opts = parseArgs(args)
    val root = File(System.getenv("WEIXIN_KIT_ROOT") ?: "../..").absoluteFile.normalize()
    val binary = System.getenv("WEIXIN_KIT_SANDBOX_BIN") ?: File(root, "target/release/weixin-kit-sandbox").path
    var sandboxCore: Int? = null
    val all = usableCores()
    if (opts.pin) {
        if (all.size < 2) usage("--pin needs at least 2 usable cores")
        sandboxCore = all.last()
        // Every thread of this JVM (GC, JIT, …) onto the other cores, before weixin-kit's runtime
        // exists: threads started later inherit the affinity of the thread that starts them.
        ProcessBuilder("taskset", "-a", "-p", "-c", all.dropLast(1).joinToString(","), ProcessHandle.current().pid().toString())
            .redirectOutput(ProcessBuilder.Redirect.DISCARD).start().waitFor()
    }
    val usable = all.size
    val sb = SandboxProcess.start(binary, sandboxCore)
    try {
        val n = opts.concurrency
        val load = runCatching { File("/proc/loadavg").readText().split(' ').take(3).joinToString(" ") }.getOrDefault("?")
        println(
            "weixin-kit ${PayClient::class.java.`package`.implementationVersion ?: "0.1.0"} (dev.weixinkit:weixin-kit, installed jar) · wechatpay-java " +
                "${MerchantExclusiveCouponService::class.java.`package`.implementationVersion ?: "0.2.17"} · Java ${System.getProperty("java.version")} " +
                "(${System.getProperty("java.vm.name")}) · ${System.getProperty("os.arch")} · cores: ${Runtime.getRuntime().availableProcessors()} " +
                "(usable: $usable) · load average $load",
        )
        // The local Maven repository may be shared: say which jar (and build) this run uses.
        val jar = runCatching { File(PayClient::class.java.protectionDomain.codeSource.location.toURI()) }.getOrNull()
        println("weixin-kit jar: $jar (${jar?.let { java.time.Instant.ofEpochMilli(it.lastModified()) }})")
        println("JVM flags: ${ManagementFactory.getRuntimeMXBean().inputArguments.joinToString(" ")}")
        println("sandbox: $binary (pid ${sb.proc.pid()}, a separate process) at ${sb.baseUrl}")
        if (sandboxCore != null) println("pinned: sandbox on core $sandboxCore, this JVM on cores ${all.dropLast(1).joinToString(",")} (server CPU < 1.00 = headroom)")
        println(
            "workload: ModifyStockInfo, a fresh stock per case, a unique out_request_no per call; ${opts.seconds} s per case after " +
                "${opts.warmup} s warm-up, after a JIT warm-up of ${opts.jitWarmup} s per client; sequential (1 in flight) and $n in flight " +
                "(weixin-kit: $n coroutines on Dispatchers.Default, one client; wechatpay-java: $n threads, one client)",
        )
        val clients = listOf(WEIXIN_KIT, WECHATPAY_JAVA).filter { opts.only.isEmpty() || it in opts.only.split(',') }
        for (name in clients) println("response verification, $name: ${checkVerification(sb, name)}")
        val made = clients.map { if (it == WEIXIN_KIT) WeixinKit(sb) else WechatpayJava(sb) }
        // JIT warm-up: both clients, sequential then concurrent, before anything is measured.
        if (opts.jitWarmup > 0) {
            val stock = sb.newStock("JIT 预热")
            for (c in made) {
                runWorkers(c, stock, 1, opts.jitWarmup / 2, Result(c.name, 1))
                runWorkers(c, stock, n, opts.jitWarmup / 2, Result(c.name, n))
            }
        }
        val results = mutableListOf<Result>()
        for (c in made) for (w in listOf(1, n)) {
            System.err.println("  measuring ${c.name}, $w in flight …")
            results.add(measure(sb, c, w, opts))
        }
        made.forEach { it.close() }
        val floors = listOfNotNull(coreFloor(sb, opts.floorSeconds), javaFloor(sb, opts.floorSeconds))
        println()
        printTable(results)
        println()
        printSummary(results, floors, n, usable, sandboxCore != null)
    } finally {
        sb.stop()
    }
}
