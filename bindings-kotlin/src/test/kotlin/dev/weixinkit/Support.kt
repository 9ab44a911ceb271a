package dev.weixinkit

import java.nio.file.Path
import java.nio.file.Paths
import java.util.UUID

/** The repository root (spec/vectors/, the consumer project), from Surefire's `weixinkit.repo`. */
val repo: Path = Paths.get(System.getProperty("weixinkit.repo") ?: "../..").toAbsolutePath().normalize()

/** A unique request number. */
fun uid(): String = UUID.randomUUID().toString().replace("-", "").take(24)
