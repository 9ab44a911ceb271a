package dev.weixinkit

import kotlinx.coroutines.CoroutineScope
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonObject

/**
 * What the generated operation classes call: one bridge client reached by name.
 *
 * - [call] runs the operation, local operation or client-level action [name] (`ModifyStockInfo`,
 *   `cardExt`, `parseNotification` …) with [args] keyed by wire name (`JsonNull` = absent) and
 *   [bytes] (file contents, a notification body) by wire name, and returns the decoded JSON
 *   answer: `JsonNull` for a 204 or an action without a result. Every failure is thrown as the
 *   [WeixinKitError] subclass its kind names; cancelling the calling coroutine abandons the call.
 * - [json] is the configuration generated code encodes requests and decodes responses with.
 * - [scope] is the client's: the `CompletableFuture` variants run in it, and closing the client
 *   cancels it.
 */
internal interface Caller {
    val json: Json
    val scope: CoroutineScope

    suspend fun call(name: String, args: JsonObject, bytes: Map<String, ByteArray> = emptyMap()): JsonElement
}
