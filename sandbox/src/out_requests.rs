//! The idempotency record of ModifyStockInfo: every `out_request_no` received, the change it
//! carried, and how many times it was applied, answered again without applying, or refused.
//!
//! WeChat's rules this models: the document of ModifyStockInfo (修改商家券基本信息,
//! `spec/sources/04-busifavor-modify-stock.md`) makes `out_request_no` the merchant's request
//! number for the change, "商户侧需保持唯一性" (unique on the merchant's side); the merchant-coupon
//! error table (`spec/sources/02-busifavor-set-callbacks.md`) tells a merchant to call again
//! "使用相同参数" (with the same parameters) after SYSTEM_ERROR, and names a reused out_request_no
//! as a cause of RESOURCE_ALREADY_EXISTS ("查看out_request_no字段是否重复使用"). So the same
//! out_request_no with the same change is the same request: answered 204 and not applied a
//! second time; with another change it is refused (400 INVALID_REQUEST — UNCONFIRMED: the
//! ModifyStockInfo error table has no entry for a reused out_request_no, and neither the
//! documents nor the published SDKs show WeChat's exact answer; the merchant-coupon table's
//! RESOURCE_ALREADY_EXISTS is the creation's).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_json::Value;

/// What happened to one `out_request_no`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OutRequestCount {
    /// Times its change was applied to the stock (a faithful WeChat: at most 1).
    pub applied: u32,
    /// Times it came again with the same change and was answered without applying.
    pub replayed: u32,
    /// Times it came again with another change or stock and was refused.
    pub refused: u32,
}

/// The verdict on an `out_request_no` before a change is applied.
#[derive(Debug, PartialEq, Eq)]
pub enum Seen {
    /// Never received: apply it, then [`OutRequests::record_applied`].
    New,
    /// The same change on the same stock again: answer success without applying.
    Replay,
    /// Reused for another change or stock: refuse.
    Conflict,
}

#[derive(Default)]
pub struct OutRequests {
    /// out_request_no → (stock_id, the request body as JSON).
    done: HashMap<String, (String, Value)>,
    counts: BTreeMap<String, OutRequestCount>,
}

impl OutRequests {
    /// Looks `out_request_no` up (and counts a replay or a refusal).
    pub fn check(&mut self, out_request_no: &str, stock_id: &str, body: &Value) -> Seen {
        let Some((done_stock, done_body)) = self.done.get(out_request_no) else {
            return Seen::New;
        };
        let same = done_stock == stock_id && done_body == body;
        let count = self.counts.entry(out_request_no.to_owned()).or_default();
        if same {
            count.replayed += 1;
            Seen::Replay
        } else {
            count.refused += 1;
            Seen::Conflict
        }
    }

    /// Records that the change of `out_request_no` was applied.
    pub fn record_applied(&mut self, out_request_no: &str, stock_id: &str, body: Value) {
        self.counts
            .entry(out_request_no.to_owned())
            .or_default()
            .applied += 1;
        self.done
            .insert(out_request_no.to_owned(), (stock_id.to_owned(), body));
    }

    /// Every out_request_no received with a valid change, and what happened to it.
    pub fn counts(&self) -> BTreeMap<String, OutRequestCount> {
        self.counts.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn replay_and_conflict() {
        let mut r = OutRequests::default();
        let body = json!({"out_request_no": "n1", "comment": "a"});
        assert_eq!(r.check("n1", "s1", &body), Seen::New);
        r.record_applied("n1", "s1", body.clone());
        assert_eq!(r.check("n1", "s1", &body), Seen::Replay);
        assert_eq!(r.check("n1", "s2", &body), Seen::Conflict);
        let other = json!({"out_request_no": "n1", "comment": "b"});
        assert_eq!(r.check("n1", "s1", &other), Seen::Conflict);
        assert_eq!(
            r.counts()["n1"],
            OutRequestCount {
                applied: 1,
                replayed: 1,
                refused: 2
            }
        );
    }
}
