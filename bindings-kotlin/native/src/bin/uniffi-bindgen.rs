//! uniffi's bindgen, pinned to this crate's uniffi version: the Maven build runs
//! `uniffi-bindgen generate --library <libweixin_kit_kotlin.so> --language kotlin --out-dir …`.

fn main() {
    uniffi::uniffi_bindgen_main()
}
