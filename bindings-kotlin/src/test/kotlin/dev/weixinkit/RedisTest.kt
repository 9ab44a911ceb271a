package dev.weixinkit

import kotlinx.coroutines.async
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.delay
import kotlinx.coroutines.runBlocking
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.buildJsonObject
import kotlinx.serialization.json.int
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import kotlinx.serialization.json.long
import kotlinx.serialization.json.put
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Assumptions.assumeTrue
import org.junit.jupiter.api.Test
import java.io.File
import java.util.concurrent.TimeUnit

/**
 * A Redis token store shared by 4 JVM processes: a real redis-server (free port, no persistence,
 * temp dir), 4 child JVMs ([RedisChild]) each with a MiniProgramClient on `token_store
 * redis://…`, calling accessToken() and setUserNotifyExt at the same moment; the sandbox issued
 * exactly one token.
 */
class RedisTest : SandboxTest() {
    private val redis: RedisServer? = RedisServer.start()

    @AfterAll
    fun stopRedis() {
        redis?.close()
    }

    @Test
    fun `4 JVM processes sharing a Redis token store fetch ONE token`() = runBlocking<Unit> {
        assumeTrue(redis != null, "redis-server is not installed (CI installs it): the Redis token store is not tested")
        val redis = redis!!
        val counters = sb.mpDelta()
        val c = sb.credentials
        // getAccessToken (/cgi-bin/token) issues a new token every call and invalidates the
        // previous one: processes that did not share the store would each fetch.
        val codes = (0 until 4).map { sb.newNotifyCode() }
        val startAt = System.currentTimeMillis() + 3000
        val java = File(System.getProperty("java.home"), "bin/java").path
        val children = codes.mapIndexed { index, (openid, code) ->
            val job = buildJsonObject {
                put("appid", c.appid)
                put("secret", c.secret)
                put("base_url", sb.baseUrl)
                put("token_store", redis.url(0))
                put("openid", openid)
                put("code", code)
                put("index", index)
                put("start_at", startAt)
            }
            ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), RedisChild::class.java.name, job.toString())
                .redirectErrorStream(false).start()
        }
        val outputs = children.mapIndexed { i, p ->
            val stdout = p.inputStream.bufferedReader().readText()
            val stderr = p.errorStream.bufferedReader().readText()
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "child $i did not finish")
            assertEquals(0, p.exitValue(), "child $i: $stdout $stderr")
            parse(stdout.trim().lines().last()).jsonObject
        }
        assertTrue(outputs.all { it.int("errcode") == 0 }, outputs.toString())
        val tokens = outputs.flatMap { listOf(it.s("token"), it.s("again")) }.toSet()
        assertEquals(1, tokens.size, outputs.toString())
        val d = counters()
        assertEquals(1, d.count("tokens_issued"), d.toString())
        assertEquals(0, d.count("stable_tokens_issued"))
        assertEquals(4, d.count("calls", "setUserNotifyExt"))
        for ((i, n) in codes.withIndex()) {
            assertEquals(jsonOf(mapOf("child" to i)), parse(sb.mpNotifyExt(n.openid, n.code)!!.s("ext_json")))
        }
        // the token lives in Redis
        val size = redisCommand(redis.port, "DBSIZE")
        assertTrue(Regex("^:\\d+").containsMatchIn(size) && size.drop(1).trim().toInt() >= 1, size)
        // the sandbox accepts it: it is the one it issued last
        assertEquals(0, sb.rawTicket(tokens.single(), "jsapi").long("errcode"))
    }
}

/** One child JVM of [RedisTest]: `java -cp <the test class path> dev.weixinkit.RedisChild <job JSON>`. */
object RedisChild {
    @JvmStatic
    fun main(args: Array<String>): Unit = runBlocking {
        val job = parse(args[0]).jsonObject
        val config = MiniProgramConfig(
            appid = job.s("appid"),
            secret = job.s("secret"),
            baseUrl = job.s("base_url"),
            tokenStore = job.s("token_store"),
            tokenEndpoint = "token",
        )
        val out = try {
            MiniProgramClient(config).use { mp ->
                delay(maxOf(0, job.getValue("start_at").jsonPrimitive.long - System.currentTimeMillis()))
                coroutineScope {
                    val answer = async {
                        mp.serviceCard.setUserNotifyExt(
                            SetUserNotifyExtRequest(job.s("openid"), 1003, job.s("code"), jsonOf(mapOf("child" to job.getValue("index").jsonPrimitive.int))),
                        )
                    }
                    val token = async { mp.accessToken() }
                    JsonObject(
                        mapOf(
                            "errcode" to JsonPrimitive(answer.await().errcode),
                            "token" to JsonPrimitive(token.await()),
                            "again" to JsonPrimitive(mp.accessToken()),
                        ),
                    )
                }
            }
        } catch (e: Throwable) {
            println(JsonObject(mapOf("error" to JsonPrimitive("$e"))))
            kotlin.system.exitProcess(1)
        }
        println(out)
        System.out.flush()
        kotlin.system.exitProcess(0)
        @Suppress("UNREACHABLE_CODE")
        Unit
    }
}
