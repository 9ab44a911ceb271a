//! `SandboxCore`: the in-process WeChat sandbox (`weixin_kit_sandbox::Sandbox`) on the shared
//! runtime, behind `weixin_kit.testing.Sandbox`. Dicts in and out, in the shapes of the
//! sandbox's control API (sandbox/README.md).

use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use pyo3::types::PyDict;
use weixin_kit::Error;
use weixin_kit_sandbox::{
    CouponNotification, Fault, NewStock, Sandbox, SandboxConfig, SandboxError, SigningMode,
};

use crate::convert::{from_python, to_python};
use crate::errors::{config, to_pyerr, validation};
use crate::pay::py_str;
use crate::runtime::block_on;

/// A running sandbox: two loopback listeners (main, backup) serving WeChat Pay and
/// mini-program routes with the same state.
#[pyclass(module = "weixin_kit._native", frozen)]
pub struct SandboxCore {
    inner: Mutex<Option<Arc<Sandbox>>>,
    base_url: String,
    backup_base_url: String,
}

fn sandbox_error(py: Python<'_>, e: SandboxError) -> PyErr {
    match e {
        SandboxError::BadRequest(rule) | SandboxError::NotFound(rule) => {
            to_pyerr(py, Error::validation("sandbox", rule))
        }
        other => config(py, format!("sandbox: {other}")),
    }
}

impl SandboxCore {
    fn get(&self, py: Python<'_>) -> PyResult<Arc<Sandbox>> {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| config(py, "the sandbox is closed"))
    }
}

#[pymethods]
impl SandboxCore {
    /// Starts a sandbox with a fresh identity on two free loopback ports.
    #[new]
    fn new(py: Python<'_>) -> PyResult<Self> {
        let sandbox = block_on(py, Sandbox::start(SandboxConfig::default()))?
            .map_err(|e| sandbox_error(py, e))?;
        Ok(SandboxCore {
            base_url: sandbox.base_url(),
            backup_base_url: sandbox.backup_base_url(),
            inner: Mutex::new(Some(Arc::new(sandbox))),
        })
    }

    /// The main listener (stands for api.mch.weixin.qq.com and api.weixin.qq.com).
    #[getter]
    fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The backup listener (stands for api2.mch.weixin.qq.com): same routes, same state.
    #[getter]
    fn backup_base_url(&self) -> &str {
        &self.backup_base_url
    }

    /// What a client configures: mchid, serial_no, merchant_private_key,
    /// wechatpay_public_key_id, wechatpay_public_key, apiv3_key, appid, secret,
    /// platform_serial_no, platform_certificate.
    #[getter]
    fn credentials<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let sandbox = self.get(py)?;
        let c = sandbox.credentials();
        let d = PyDict::new(py);
        d.set_item("mchid", &c.mchid)?;
        d.set_item("serial_no", &c.merchant_serial_no)?;
        d.set_item("merchant_private_key", c.merchant_private_key_pem.expose())?;
        d.set_item("wechatpay_public_key_id", &c.wechatpay_public_key_id)?;
        d.set_item("wechatpay_public_key", &c.wechatpay_public_key_pem)?;
        d.set_item("apiv3_key", c.apiv3_key.expose())?;
        d.set_item("appid", &c.appid)?;
        d.set_item("secret", c.app_secret.expose())?;
        d.set_item("platform_serial_no", &c.platform_serial_no)?;
        d.set_item("platform_certificate", &c.platform_certificate_pem)?;
        Ok(d)
    }

    /// Creates a merchant coupon stock (`{"stock_name", "stock_id"?, …}`); returns it.
    fn create_stock<'py>(
        &self,
        py: Python<'py>,
        stock: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let stock: NewStock = from_python(py, stock, "stock")?;
        let created = self
            .get(py)?
            .create_stock(stock)
            .map_err(|e| sandbox_error(py, e))?;
        to_python(py, &created)
    }

    /// The stock with this id, or None.
    fn stock<'py>(&self, py: Python<'py>, stock_id: &str) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.get(py)?.stock(stock_id))
    }

    /// Every stock.
    fn stocks<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.get(py)?.stocks())
    }

    /// Images uploaded through MarketingImageUpload.
    fn media<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.get(py)?.media())
    }

    /// The URL registered with SetCouponNotify, or None.
    fn notify_url(&self, py: Python<'_>) -> PyResult<Option<String>> {
        Ok(self.get(py)?.notify_url())
    }

    /// Sends a COUPON.SEND notification (signed, encrypted) to the registered URL and waits for
    /// the delivery (GIL released: the receiver may be Python in this process). Returns the
    /// delivery report.
    fn send_coupon_notification<'py>(
        &self,
        py: Python<'py>,
        notification: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let notification: CouponNotification = from_python(py, notification, "notification")?;
        let sandbox = self.get(py)?;
        let report = block_on(py, async move {
            sandbox.send_coupon_notification(notification).await
        })?
        .map_err(|e| sandbox_error(py, e))?;
        to_python(py, &report)
    }

    /// Delivery reports of the notifications sent since the last `reset_log`.
    fn notifications<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.get(py)?.notifications())
    }

    /// Adds a fault rule (`{"operation"?|"path_prefix"?, "kind", "count"?, "ms"?, "seconds"?}`);
    /// returns its id.
    fn inject_fault(&self, py: Python<'_>, fault: &Bound<'_, PyAny>) -> PyResult<u64> {
        let fault: Fault = from_python(py, fault, "fault")?;
        self.get(py)?
            .inject_fault(fault)
            .map_err(|e| sandbox_error(py, e))
    }

    /// The active fault rules (with `remaining`).
    fn faults<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.get(py)?.faults())
    }

    fn clear_faults(&self, py: Python<'_>) -> PyResult<()> {
        self.get(py)?.clear_faults();
        Ok(())
    }

    /// While down, the main listener drops every request without answering; the backup serves.
    fn set_main_down(&self, py: Python<'_>, down: bool) -> PyResult<()> {
        self.get(py)?.set_main_down(down);
        Ok(())
    }

    /// `"public_key"` (default) or `"certificate"`: which key signs responses.
    fn set_signing_mode(&self, py: Python<'_>, mode: &str) -> PyResult<()> {
        let mode = match mode {
            "public_key" => SigningMode::PublicKey,
            "certificate" => SigningMode::Certificate,
            _ => {
                return Err(validation(
                    py,
                    "mode",
                    "must be \"public_key\" or \"certificate\"",
                ))
            }
        };
        self.get(py)?.set_signing_mode(mode);
        Ok(())
    }

    /// Requests per operation, applied out_request_no values, notification and mini-program
    /// counters.
    fn counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.get(py)?.counters())
    }

    /// The request log, oldest first.
    fn requests<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.get(py)?.requests())
    }

    /// Clears the request log and the counters (stocks stay).
    fn reset_log(&self, py: Python<'_>) -> PyResult<()> {
        self.get(py)?.reset_log();
        Ok(())
    }

    // -- mini-program side ----------------------------------------------------------------

    /// Registers a user (openid) with the mini-program sandbox.
    fn mp_add_user(&self, py: Python<'_>, openid: &str) -> PyResult<()> {
        self.get(py)?.mp().add_user(openid);
        Ok(())
    }

    /// Registers a notify_code (`{"openid","notify_type","notify_code","valid_after_secs"?,
    /// "banned"?,"expire_after_secs"?,"code_state"?,"requires_check_json"?}`).
    fn mp_add_notify_code(&self, py: Python<'_>, registration: &Bound<'_, PyAny>) -> PyResult<()> {
        let registration = from_python(py, registration, "registration")?;
        self.get(py)?
            .mp()
            .add_notify_code(registration)
            .map_err(|rule| validation(py, "registration", rule))
    }

    /// What setUserNotifyExt / setUserNotify delivered for this code, or None.
    fn mp_notify_ext<'py>(
        &self,
        py: Python<'py>,
        openid: &str,
        notify_code: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.get(py)?.mp().notify_ext(openid, notify_code))
    }

    /// A card code encrypted as wx.addCard returns it (the `encrypt_code`).
    fn mp_encrypt_card_code(&self, py: Python<'_>, card_id: &str, code: &str) -> PyResult<String> {
        Ok(self.get(py)?.mp().encrypt_card_code(card_id, code))
    }

    /// The route `path` (or `*`) answers `errcode` for the next `count` calls (None: until
    /// cleared).
    #[pyo3(signature = (path, errcode, count = None, errmsg = None))]
    fn mp_add_errcode_fault(
        &self,
        py: Python<'_>,
        path: &str,
        errcode: i32,
        count: Option<u64>,
        errmsg: Option<String>,
    ) -> PyResult<()> {
        self.get(py)?
            .mp()
            .add_errcode_fault(path, errcode, count, errmsg);
        Ok(())
    }

    fn mp_clear_errcode_faults(&self, py: Python<'_>) -> PyResult<()> {
        self.get(py)?.mp().clear_errcode_faults();
        Ok(())
    }

    /// Every access token expires now (the next call answers 42001).
    fn mp_expire_tokens(&self, py: Python<'_>) -> PyResult<()> {
        self.get(py)?.mp().expire_tokens();
        Ok(())
    }

    /// Every card/JS-SDK ticket expires now (the next card_ext fetches a new one).
    fn mp_expire_tickets(&self, py: Python<'_>) -> PyResult<()> {
        self.get(py)?.mp().expire_tickets();
        Ok(())
    }

    /// Moves the mini-program side's clock forward (token and ticket lifetimes, notify_code
    /// "valid after" delays) without waiting.
    fn mp_advance_clock(&self, py: Python<'_>, seconds: f64) -> PyResult<()> {
        if !(seconds.is_finite() && seconds >= 0.0) {
            return Err(validation(py, "seconds", "must be a finite number >= 0"));
        }
        self.get(py)?
            .mp()
            .advance_clock(std::time::Duration::from_secs_f64(seconds));
        Ok(())
    }

    /// Tokens and tickets issued, calls per operation, faults injected.
    fn mp_counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.get(py)?.mp().counters())
    }

    /// Stops both listeners; idempotent.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let taken = self.inner.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(sandbox) = taken {
            match Arc::try_unwrap(sandbox) {
                Ok(sandbox) => block_on(py, sandbox.shutdown())?,
                // A call still holds it (another thread): its Drop aborts the listeners.
                Err(shared) => drop(shared),
            }
        }
        Ok(())
    }

    /// True once `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_none()
    }

    fn __repr__(&self) -> String {
        format!(
            "SandboxCore(base_url={}, backup_base_url={}{})",
            py_str(&self.base_url),
            py_str(&self.backup_base_url),
            if self.closed() { ", closed" } else { "" }
        )
    }
}
