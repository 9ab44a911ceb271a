//! `PayCore`: the WeChat Pay APIv3 client (`weixin_kit::pay::PayClient`) behind
//! `weixin_kit.PayClient` / `AsyncPayClient`. Generic: one `call(name, args)` for every spec
//! operation; the typed per-operation methods are generated Python that calls it.

use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyString};
use weixin_kit::pay::{PayClient, RetryPolicy};

use crate::convert::json_from_python;
use crate::errors::{config, validation, wx};
use crate::runtime::{call_by_name, complete, Mode, PerProcess};

/// Appended to the User-Agent of every client the binding builds.
pub(crate) const USER_AGENT_SUFFIX: &str = concat!("python/", env!("CARGO_PKG_VERSION"));

/// A WeChat Pay APIv3 client; cheap to share between threads and event loops.
#[pyclass(module = "weixin_kit._native", frozen)]
pub struct PayCore {
    client: PerProcess<PayClient>,
    // What __repr__ shows: nothing secret.
    mchid: String,
    serial_no: String,
    wechatpay_public_key_id: Option<String>,
    base_url: Option<String>,
}

#[pymethods]
impl PayCore {
    #[new]
    #[pyo3(signature = (
        *,
        mchid,
        serial_no,
        private_key,
        wechatpay_public_key_id = None,
        wechatpay_public_key = None,
        platform_certificates = None,
        apiv3_key = None,
        base_url = None,
        backup_base_url = None,
        timeout = None,
        connect_timeout = None,
        max_attempts = None,
        download_certificates = None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        mchid: String,
        serial_no: String,
        private_key: String,
        wechatpay_public_key_id: Option<String>,
        wechatpay_public_key: Option<String>,
        platform_certificates: Option<Vec<String>>,
        apiv3_key: Option<String>,
        base_url: Option<String>,
        backup_base_url: Option<String>,
        timeout: Option<f64>,
        connect_timeout: Option<f64>,
        max_attempts: Option<u32>,
        download_certificates: Option<bool>,
    ) -> PyResult<Self> {
        if wechatpay_public_key_id.is_some() != wechatpay_public_key.is_some() {
            return Err(config(
                py,
                "public-key mode needs both wechatpay_public_key_id (PUB_KEY_ID_…) and \
                 wechatpay_public_key (the PEM)",
            ));
        }
        let timeout = timeout.map(|t| seconds(py, "timeout", t)).transpose()?;
        let connect_timeout = connect_timeout
            .map(|t| seconds(py, "connect_timeout", t))
            .transpose()?;
        let retry = max_attempts.map(|n| retry_policy(py, n)).transpose()?;
        let (id, serial) = (wechatpay_public_key_id.clone(), serial_no.clone());
        let (url, mchid_) = (base_url.clone(), mchid.clone());
        // Kept to build the client again in a forked child (see runtime::PerProcess).
        let make = move || {
            let mut b = PayClient::builder()
                .mchid(mchid_.clone())
                .serial_no(serial.clone())
                .user_agent_suffix(USER_AGENT_SUFFIX)
                .private_key_pem(&private_key)?;
            if let (Some(id), Some(pem)) = (&id, &wechatpay_public_key) {
                b = b.wechatpay_public_key(id, pem)?;
            }
            if let Some(pems) = &platform_certificates {
                b = b.platform_certificates(pems.clone())?;
            }
            if let Some(key) = &apiv3_key {
                b = b.apiv3_key(key)?;
            }
            if let Some(url) = &url {
                b = b.base_url(url.clone());
            }
            if let Some(url) = &backup_base_url {
                b = b.backup_base_url(url.clone());
            }
            if let Some(t) = timeout {
                b = b.timeout(t);
            }
            if let Some(t) = connect_timeout {
                b = b.connect_timeout(t);
            }
            if let Some(retry) = &retry {
                b = b.retry(retry.clone());
            }
            if let Some(on) = download_certificates {
                b = b.download_certificates(on);
            }
            b.build()
        };
        let client = wx(py, PerProcess::new(make))?;
        Ok(PayCore {
            client,
            mchid,
            serial_no,
            wechatpay_public_key_id,
            base_url,
        })
    }

    /// The merchant id.
    #[getter]
    fn mchid(&self) -> &str {
        &self.mchid
    }

    /// Serials of the platform certificates currently trusted.
    #[getter]
    fn platform_certificate_serials(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        Ok(self.client(py)?.platform_certificate_serials())
    }

    /// Calls the spec operation `name` (`ModifyStockInfo`) with `args` keyed by wire name;
    /// blocks with the GIL released. Returns the decoded JSON (None for a 204).
    #[pyo3(signature = (name, args = None))]
    fn call<'py>(
        &self,
        py: Python<'py>,
        name: String,
        args: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        call_by_name(py, Mode::Blocking, &self.client(py)?, name, args)
    }

    /// `call` as an awaitable.
    #[pyo3(signature = (name, args = None))]
    fn call_async<'py>(
        &self,
        py: Python<'py>,
        name: String,
        args: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        call_by_name(py, Mode::Awaitable, &self.client(py)?, name, args)
    }

    /// Verifies and decrypts a notification (headers as received, raw body).
    fn parse_notification<'py>(
        &self,
        py: Python<'py>,
        headers: &Bound<'py, PyAny>,
        body: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.parse_notification_in(py, Mode::Blocking, headers, body)
    }

    /// `parse_notification` as an awaitable.
    fn parse_notification_async<'py>(
        &self,
        py: Python<'py>,
        headers: &Bound<'py, PyAny>,
        body: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.parse_notification_in(py, Mode::Awaitable, headers, body)
    }

    /// A signed request to an endpoint the spec does not cover (`/v3/…`, sent as given).
    #[pyo3(signature = (method, path, body = None))]
    fn request<'py>(
        &self,
        py: Python<'py>,
        method: String,
        path: String,
        body: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.request_in(py, Mode::Blocking, method, path, body)
    }

    /// `request` as an awaitable.
    #[pyo3(signature = (method, path, body = None))]
    fn request_async<'py>(
        &self,
        py: Python<'py>,
        method: String,
        path: String,
        body: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.request_in(py, Mode::Awaitable, method, path, body)
    }

    fn __repr__(&self) -> String {
        format!(
            "PayCore(mchid={}, serial_no={}, wechatpay_public_key_id={}, base_url={})",
            py_str(&self.mchid),
            py_str(&self.serial_no),
            py_opt(&self.wechatpay_public_key_id),
            py_opt(&self.base_url),
        )
    }
}

/// The bodies of the sync/async method pairs: arguments converted with the GIL held, then the
/// core call run in the caller's mode.
impl PayCore {
    /// The core client of this process (built again after fork).
    fn client(&self, py: Python<'_>) -> PyResult<PayClient> {
        wx(py, self.client.get())
    }

    fn parse_notification_in<'py>(
        &self,
        py: Python<'py>,
        mode: Mode,
        headers: &Bound<'py, PyAny>,
        body: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let headers = header_map(py, headers)?;
        let body = body_bytes(py, body, "body")?;
        let client = self.client(py)?;
        complete(py, mode, async move {
            client
                .parse_notification(&headers, &body)
                .await
                .map(|n| n.to_json())
        })
    }

    fn request_in<'py>(
        &self,
        py: Python<'py>,
        mode: Mode,
        method: String,
        path: String,
        body: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let body = optional_json(py, body)?;
        let client = self.client(py)?;
        complete(py, mode, async move {
            client.request(&method, &path, body).await
        })
    }
}

/// `'text'`, as Python's repr prints a str (quotes and backslashes escaped).
pub(crate) fn py_str(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// `None` or `'text'`, as Python's repr prints an optional str.
pub(crate) fn py_opt(value: &Option<String>) -> String {
    value.as_deref().map_or_else(|| "None".into(), py_str)
}

/// Seconds (float) as a Duration; negative, NaN or infinite values are a `ConfigError`.
pub(crate) fn seconds(py: Python<'_>, name: &str, value: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| config(py, format!("{name} must be a positive number of seconds")))
}

/// The default retry policy with `max_attempts` requests in total (1: no retry).
pub(crate) fn retry_policy(py: Python<'_>, max_attempts: u32) -> PyResult<RetryPolicy> {
    if max_attempts == 0 {
        return Err(config(
            py,
            "max_attempts must be at least 1 (requests sent in total)",
        ));
    }
    Ok(RetryPolicy {
        max_attempts,
        ..RetryPolicy::default()
    })
}

fn optional_json(
    py: Python<'_>,
    body: Option<&Bound<'_, PyAny>>,
) -> PyResult<Option<serde_json::Value>> {
    match body {
        Some(b) if !b.is_none() => Ok(Some(json_from_python(py, b, "body")?)),
        _ => Ok(None),
    }
}

/// `bytes`, `bytearray` or `str` (encoded as UTF-8) as bytes.
pub(crate) fn body_bytes(
    py: Python<'_>,
    value: &Bound<'_, PyAny>,
    field: &str,
) -> PyResult<Vec<u8>> {
    if let Ok(b) = value.cast::<PyBytes>() {
        Ok(b.as_bytes().to_vec())
    } else if let Ok(s) = value.cast::<PyString>() {
        Ok(s.to_cow()?.as_bytes().to_vec())
    } else if let Ok(b) = value.cast::<PyByteArray>() {
        Ok(b.to_vec())
    } else {
        Err(validation(py, field, "must be bytes or str"))
    }
}

/// A mapping of header name → value (`dict`, a framework's headers object: anything with
/// `.items()`), as an `http::HeaderMap`. Names are case-insensitive, as in HTTP.
fn header_map(py: Python<'_>, headers: &Bound<'_, PyAny>) -> PyResult<http::HeaderMap> {
    let items = headers
        .call_method0("items")
        .map_err(|_| validation(py, "headers", "must be a mapping of header name to value"))?;
    let mut map = http::HeaderMap::new();
    for item in items.try_iter()? {
        let (name, value): (String, Bound<'_, PyAny>) = item?
            .extract()
            .map_err(|_| validation(py, "headers", "names must be str"))?;
        let value = body_bytes(py, &value, "headers")?;
        let name = http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| validation(py, "headers", "contains an invalid header name"))?;
        let value = http::HeaderValue::from_bytes(&value)
            .map_err(|_| validation(py, "headers", "contains an invalid header value"))?;
        map.append(name, value);
    }
    Ok(map)
}
