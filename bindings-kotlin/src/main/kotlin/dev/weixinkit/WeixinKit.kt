package dev.weixinkit

import dev.weixinkit.internal.LogSink
import dev.weixinkit.internal.setLogSink as nativeSetLogSink
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.booleanOrNull
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import kotlinx.serialization.json.longOrNull

/** The level of a [LogRecord], most severe first. */
enum class LogLevel(val wire: String) {
    ERROR("error"), WARN("warn"), INFO("info"), DEBUG("debug"), TRACE("trace");

    companion object {
        internal fun of(wire: String): LogLevel = entries.firstOrNull { it.wire == wire } ?: TRACE
    }
}

/**
 * One record of the core: an answer (`answered`: `status`, `request_id`, `latency_ms`), a retry
 * (`retrying`: `retry_reason`, `next_host`, `delay_ms`), a verification verdict
 * (`verification`, `error_kind`), a token refresh. [fields] carry the call's `operation` and
 * `family` and the attempt's `attempt` and `host` too; values are [String], [Long] or
 * [Boolean]. Never a secret, URL, body or openid.
 */
data class LogRecord(
    val level: LogLevel,
    /** `weixin_kit`. */
    val target: String,
    val message: String,
    val fields: Map<String, Any>,
)

/** Receives the core's [LogRecord]s (any logging framework: SLF4J, JUL, Logback, …). */
fun interface Logger {
    fun log(record: LogRecord)
}

/** Process-wide settings of weixin-kit. */
object WeixinKit {
    /**
     * Sends the core's records at [level] and above to [logger] (`null` stops them); records
     * below [level] are not built. One logger per process. [logger] is called on a native
     * runtime thread: keep it quick; what it throws is dropped. Returns false when records
     * cannot arrive (another global tracing subscriber in the process).
     */
    @JvmStatic
    fun setLogger(level: LogLevel, logger: Logger?): Boolean =
        native { nativeSetLogSink(logger?.let(::Sink), level.wire) }

    /** `setLogger { record -> … }` at [LogLevel.INFO]. */
    @JvmStatic
    fun setLogger(logger: Logger?): Boolean = setLogger(LogLevel.INFO, logger)

    private class Sink(private val logger: Logger) : LogSink {
        override fun log(recordJson: String) {
            try {
                logger.log(decode(recordJson))
            } catch (_: Throwable) {
                // A logger that throws loses its record, not the call.
            }
        }
    }

    internal fun decode(json: String): LogRecord {
        val o = Json.parseToJsonElement(json).jsonObject
        val fields = (o["fields"] as? JsonObject).orEmpty().mapValues { (_, v) ->
            val p = v as? JsonPrimitive ?: return@mapValues v.toString()
            when {
                p.isString -> p.content
                p.booleanOrNull != null -> p.booleanOrNull!!
                p.longOrNull != null -> p.longOrNull!!
                else -> p.content
            }
        }
        return LogRecord(
            level = LogLevel.of(o.getValue("level").jsonPrimitive.content),
            target = o.getValue("target").jsonPrimitive.content,
            message = o.getValue("message").jsonPrimitive.content,
            fields = fields,
        )
    }
}
