//! setUserNotifyExt's `ext_json`: the document's example (doc 01, 代码示例) read and produced both
//! ways, raw and structured.

use serde::Serialize;
use serde_json::{json, Value};
use weixin_kit::mp::ext_json::decode_nested;
use weixin_kit::mp::{ExtJson, SetUserNotifyExtRequest};

use crate::common::validation;

/// The request example of doc 01, verbatim.
const DOC_REQUEST: &str = r#"{
"notify_type": 1003,
"openid": "xxx",
"notify_code": "xxx",
"ext_json": "{\"pay_info\":\"{\\\"transaction_id\\\":\\\"4200001855202305090060871147\\\",\\\"pay_amount\\\":2001,\\\"pay_time\\\":1683546394}\",\"store_info\":\"{\\\"store_name\\\":\\\"westore\\\",\\\"store_address\\\":\\\"深圳市南山区南山大道18号\\\",\\\"latitude\\\":22,\\\"longitude\\\":114}\"}"
}"#;

fn doc_ext_json() -> String {
    let request: SetUserNotifyExtRequest = serde_json::from_str(DOC_REQUEST).unwrap();
    request.ext_json
}

fn doc_structured() -> Value {
    json!({
        "pay_info": {
            "transaction_id": "4200001855202305090060871147",
            "pay_amount": 2001,
            "pay_time": 1683546394
        },
        "store_info": {
            "store_name": "westore",
            "store_address": "深圳市南山区南山大道18号",
            "latitude": 22,
            "longitude": 114
        }
    })
}

#[test]
fn the_doc_example_decodes_to_the_structured_value() {
    let raw = doc_ext_json();
    // The outer object's values are strings …
    let outer: Value = serde_json::from_str(&raw).unwrap();
    assert!(outer["pay_info"].is_string() && outer["store_info"].is_string());
    // … each holding JSON.
    let ext = ExtJson::from_raw(raw.clone()).unwrap();
    assert_eq!(ext.as_str(), raw);
    assert_eq!(ext.decode().unwrap(), doc_structured());
}

#[test]
fn the_structured_value_encodes_to_exactly_the_doc_string() {
    let ext = ExtJson::from_value(doc_structured()).unwrap();
    assert_eq!(ext.as_str(), doc_ext_json());
    assert_eq!(decode_nested(ext.as_str()).unwrap(), doc_structured());
}

#[test]
fn a_typed_value_encodes_to_exactly_the_doc_string() {
    #[derive(Serialize)]
    struct PayInfo<'a> {
        transaction_id: &'a str,
        pay_amount: i64,
        pay_time: i64,
    }
    #[derive(Serialize)]
    struct StoreInfo<'a> {
        store_name: &'a str,
        store_address: &'a str,
        latitude: i64,
        longitude: i64,
    }
    #[derive(Serialize)]
    struct Ext<'a> {
        pay_info: PayInfo<'a>,
        store_info: StoreInfo<'a>,
    }
    let ext = ExtJson::from_serialize(&Ext {
        pay_info: PayInfo {
            transaction_id: "4200001855202305090060871147",
            pay_amount: 2001,
            pay_time: 1683546394,
        },
        store_info: StoreInfo {
            store_name: "westore",
            store_address: "深圳市南山区南山大道18号",
            latitude: 22,
            longitude: 114,
        },
    })
    .unwrap();
    assert_eq!(ext.as_str(), doc_ext_json());

    // And the whole request body, as sent, matches the document's (compared as JSON).
    let request = SetUserNotifyExtRequest {
        notify_type: 1003,
        openid: "xxx".into(),
        notify_code: "xxx".into(),
        ext_json: ext.into(),
    };
    let sent: Value = serde_json::to_value(&request).unwrap();
    let doc: Value = serde_json::from_str(DOC_REQUEST).unwrap();
    assert_eq!(sent, doc);
}

#[test]
fn scalars_and_already_encoded_strings_stay_as_they_are() {
    let ext = ExtJson::from_value(json!({
        "a": "{\"x\":1}",
        "n": 1,
        "b": true,
        "z": null,
        "list": [1, {"k": "v"}]
    }))
    .unwrap();
    assert_eq!(
        ext.as_str(),
        r#"{"a":"{\"x\":1}","n":1,"b":true,"z":null,"list":"[1,{\"k\":\"v\"}]"}"#
    );
}

#[test]
fn only_json_objects_are_accepted() {
    for bad in [
        "",
        "not json",
        "[1,2]",
        "\"s\"",
        "1",
        "{\"a\":1",
        "{\"a\":\"\\ud800\"}",
    ] {
        let (field, rule) = validation(ExtJson::from_raw(bad));
        assert_eq!(field, "ext_json", "{bad:?}: {rule}");
    }
    validation(ExtJson::from_value(json!([1])));
    assert!(ExtJson::try_from("{}").is_ok());
}
