import dev.weixinkit.ModifyStockInfoRequest
import dev.weixinkit.testing.Sandbox
import kotlinx.coroutines.runBlocking

/** Starts the sandbox, changes a stock through PayClient and prints what the sandbox saw. */
fun main() = runBlocking {
    Sandbox.start().use { sb ->
        sb.createStock("1212121212")
        sb.payClient().use { pay ->
            pay.busifavor.modifyStockInfo(stockId = "1212121212", body = ModifyStockInfoRequest(outRequestNo = "consumer-1", comment = "活动使用"))
        }
        val n = sb.counters()["requests"].toString()
        println("consumer: ModifyStockInfo ok, sandbox counted $n")
    }
}
