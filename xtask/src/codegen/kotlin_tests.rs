//! The Kotlin surface's codegen promises: an operation added to the spec becomes a typed
//! `suspend fun` with its data classes, and what the generator cannot type fails naming it.

use std::path::Path;

use super::tests::spec_with_fixture;
use super::{bridge, generate, kotlin, GeneratedFile, SPECS};

fn generated_kotlin<'a>(files: &'a [GeneratedFile], name: &str) -> &'a str {
    &files
        .iter()
        .find(|f| f.path == Path::new(kotlin::DIR).join(kotlin::PACKAGE_DIR).join(name))
        .unwrap_or_else(|| panic!("{name} is not generated"))
        .contents
}

#[test]
fn an_operation_added_to_the_spec_becomes_a_kotlin_method() {
    let tmp = tempfile::tempdir().unwrap();
    spec_with_fixture(tmp.path());
    let files = generate(tmp.path(), SPECS).unwrap();

    let ops = generated_kotlin(&files, "PayOperations.kt");
    for expected in [
        "    suspend fun queryStockFixture(\n        stockId: String,\n        belongMerchant: String,\n        limit: Long? = null,\n    ): StockFixture {\n",
        "            \"stock_id\" to JsonPrimitive(stockId),\n",
        "            \"belong_merchant\" to JsonPrimitive(belongMerchant),\n",
        "        val answer = caller.call(\"QueryStockFixture\", args)\n        return caller.json.decodeFromJsonElement(StockFixture.serializer(), answer)\n",
        "    @JvmOverloads\n    fun queryStockFixtureAsync(\n",
        "    ): CompletableFuture<StockFixture> =\n        caller.scope.future { queryStockFixture(stockId, belongMerchant, limit) }\n",
        "     * `GET /v3/marketing/busifavor/stocks/{stock_id}/fixture-query` (QueryStockFixture)\n",
        "     * - `404 RESOURCE_NOT_EXISTS` 批次不存在: 请检查批次ID后重试\n",
    ] {
        assert!(ops.contains(expected), "PayOperations.kt lacks {expected:?}\n{ops}");
    }
    let types = generated_kotlin(&files, "PayTypes.kt");
    for expected in [
        "@Serializable\ndata class StockFixture(\n",
        // Java callers: a builder with the required properties in its constructor
        "    class Builder(\n        private var stockId: String,\n",
        "        fun stockId(value: String): Builder = apply { this.stockId = value }\n",
        "        fun build(): StockFixture = StockFixture(\n            stockId = stockId,\n",
        "    fun toBuilder(): Builder = Builder(stockId",
        "    @SerialName(\"stock_id\") val stockId: String,\n",
        "    @SerialName(\"stock_state\") val stockState: StockStateFixture,\n",
        "@Serializable(with = StockStateFixture.Serializer::class)\nsealed class StockStateFixture(val value: String) {\n",
        "    object Running : StockStateFixture(\"RUNNING\")\n",
        "    class Unknown(value: String) : StockStateFixture(value)\n",
        "        val known: List<StockStateFixture> by lazy { listOf(Unaudit, Running, Stoped, Paused) }\n",
    ] {
        assert!(types.contains(expected), "PayTypes.kt lacks {expected:?}");
    }
}

#[test]
fn an_unmapped_config_field_type_fails_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    spec_with_fixture(tmp.path());
    let config = tmp.path().join(bridge::CONFIG_FILE);
    let source = std::fs::read_to_string(&config).unwrap();
    let added = source.replacen(
        "pub struct PayConfig {\n",
        "pub struct PayConfig {\n    /// A key of a type Kotlin has no mapping for.\n    pub pool_size: Option<u8>,\n",
        1,
    );
    assert_ne!(added, source);
    std::fs::write(&config, added).unwrap();
    // the whole generation fails (Node's config generator, which runs first, names it too) …
    assert!(generate(tmp.path(), SPECS).is_err());
    // … and so does Kotlin's, naming the field, its type and where to map it
    let configs = bridge::load_configs(tmp.path()).unwrap();
    let err = format!("{:#}", super::kotlin_types::config(&configs).unwrap_err());
    assert!(
        err.contains("`PayConfig.pool_size`")
            && err.contains("`Option<u8>`")
            && err.contains("CONFIG_TYPES"),
        "{err}"
    );
}

#[test]
fn the_config_and_error_classes_follow_the_core() {
    let files = generate(&crate::project_root(), SPECS).unwrap();
    let config = generated_kotlin(&files, "Config.kt");
    for expected in [
        "    @SerialName(\"private_key\") val privateKey: String? = null,\n",
        "    @SerialName(\"max_attempts\") val maxAttempts: Int? = null,\n",
        "    @SerialName(\"platform_certificates\") val platformCertificates: List<String>? = null,\n",
        "privateKey=${if (privateKey == null) \"null\" else \"***\"}",
    ] {
        assert!(config.contains(expected), "Config.kt lacks {expected:?}");
    }
    assert!(!config.contains("common"), "{config}");
    let errors = generated_kotlin(&files, "Errors.kt");
    for expected in [
        "open class WeixinKitError(\n",
        "class ApiError(\n",
        "    val requestId: String? = null,\n",
        "    val retryAfter: Double? = null,\n",
        ") : WeixinKitError(message, detail, retryable)\n",
        "internal fun errorFromDescription(description: JsonObject): WeixinKitError {\n",
    ] {
        assert!(errors.contains(expected), "Errors.kt lacks {expected:?}");
    }
}

#[test]
fn an_action_without_kotlin_types_fails_naming_it() {
    let root = crate::project_root();
    let api = super::model::Api::load(&root, "spec/miniprogram.json").unwrap();
    let mut actions = bridge::load_actions(&root).unwrap();
    let token = actions
        .iter_mut()
        .find(|a| a.name == "accessToken")
        .unwrap();
    token.name = "brandNewAction".into();
    let err = format!("{:#}", kotlin::operations(&api, &actions).unwrap_err());
    assert!(
        err.contains("action `brandNewAction`") && err.contains("ACTION_TYPES"),
        "{err}"
    );
}
