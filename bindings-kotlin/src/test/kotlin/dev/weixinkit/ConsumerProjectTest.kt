package dev.weixinkit

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import java.util.concurrent.TimeUnit

/**
 * bindings-kotlin/consumer: a project that only declares the installed artifacts, run with Maven
 * as a user would, with nothing on the library path. Runs in the `install` reactor after both
 * artifacts are installed (the tests module comes last), against the same local repository.
 */
class ConsumerProjectTest {
    @Test
    fun `a dependency-only project runs against the installed artifacts`() {
        val command = mutableListOf(
            System.getProperty("weixinkit.mvn") ?: "mvn", "-B", "-q", "-f", repo.resolve("bindings-kotlin/consumer/pom.xml").toString(),
        )
        System.getProperty("maven.repo.local")?.let { command += "-Dmaven.repo.local=$it" }
        command += listOf("compile", "exec:java")
        val process = ProcessBuilder(command).redirectErrorStream(true).apply {
            environment().remove("LD_LIBRARY_PATH")
            environment().remove("JAVA_TOOL_OPTIONS")
        }.start()
        val output = process.inputStream.bufferedReader().readText()
        assertTrue(process.waitFor(300, TimeUnit.SECONDS), "the consumer project did not finish")
        assertEquals(0, process.exitValue(), output)
        assertTrue(output.contains("consumer: ModifyStockInfo ok"), output)
        assertTrue(output.contains("consumer: 404 RESOURCE_NOT_EXISTS"), output)
    }
}

/** The READMEs' quickstart is the consumer project's source, as run above. */
class QuickstartTest {
    @Test
    fun `the README quickstarts are the consumer's source`() {
        val source = java.nio.file.Files.readString(repo.resolve("bindings-kotlin/consumer/src/main/kotlin/Consumer.kt"))
        for (readme in listOf("README.md", "bindings-kotlin/README.md")) {
            val text = java.nio.file.Files.readString(repo.resolve(readme))
            val marker = "<!-- quickstart-kotlin -->\n```kotlin\n"
            assertTrue(text.contains(marker), "$readme has no Kotlin quickstart")
            assertEquals(source, text.substringAfter(marker).substringBefore("```"), readme)
        }
    }
}
