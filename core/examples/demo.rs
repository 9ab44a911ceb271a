//! `cargo xtask demo`: what the spec-generated surface does before any network is involved.
//! (The sandbox and clients arrive in later issues; the demo then runs the documented flows.)

use weixin_kit::operation::{self, OperationSpec, RequestBody};
use weixin_kit::{mp, pay, Error};

fn main() -> Result<(), Error> {
    println!("weixin-kit — operations generated from spec/:");
    let all: Vec<(&str, &&OperationSpec)> = pay::OPERATIONS
        .iter()
        .map(|op| ("pay", op))
        .chain(mp::OPERATIONS.iter().map(|op| ("mp", op)))
        .collect();
    for (family, op) in all {
        let group = format!("{family}.{}", op.tag);
        println!("  {group:<17} {:<22} {:<6} {}", op.name, op.method, op.path);
    }

    println!("\nModifyStockInfo, the request of the document's example (商家券 101156451224):");
    let body: pay::ModifyStockInfoRequest = operation::request_from_json(serde_json::json!({
        "out_request_no": "6122352020010133287985742",
        "stock_name": "8月1日活动券",
        "comment": "活动使用",
        "custom_entrance": {"code_display_mode": "BARCODE"},
    }))?;
    let request = pay::prepare_modify_stock_info("101156451224", &body)?;
    println!("  {} {}", request.operation.method, request.path_and_query);
    if let RequestBody::Json(bytes) = &request.body {
        println!(
            "  body (the bytes that will be signed): {}",
            String::from_utf8_lossy(bytes)
        );
    }

    println!("\nValidation before sending (a 22-character stock_name):");
    let too_long = pay::ModifyStockInfoRequest {
        stock_name: Some("八".repeat(22)),
        ..body
    };
    match pay::prepare_modify_stock_info("101156451224", &too_long) {
        Err(e) => println!("  {e}"),
        Ok(_) => println!("  unexpectedly accepted"),
    }

    println!("\nsetUserNotifyExt without notify_code:");
    let missing = operation::request_from_json::<mp::SetUserNotifyExtRequest>(serde_json::json!({
        "openid": "o", "notify_type": 1003, "ext_json": "{}"
    }));
    if let Err(e) = missing {
        println!("  {e}");
    }
    Ok(())
}
