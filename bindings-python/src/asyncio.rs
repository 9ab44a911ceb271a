//! How async calls reach asyncio without Python work on runtime threads (see [`crate::runtime`]
//! for why).
//!
//! Per event loop, one [`LoopWaker`]: a socket pair whose read end the loop watches
//! (`loop.add_reader`), and a mailbox of finished calls. A runtime thread finishing a call pushes
//! `(future, result)` to the mailbox and, if the mailbox was empty, writes one byte; the loop
//! drains the whole mailbox in one callback: the results are converted to Python (or to the
//! exception) and set on their futures there, with no GIL hand-off between threads. A cancelled
//! future aborts its Rust task (done callback).

use std::future::Future;
use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::{intern, IntoPyObject, IntoPyObjectExt};

use crate::runtime::{attach_from_runtime, runtime};

/// Turns a finished call's value into the future's result (or exception) on the loop's thread.
type Deliver = Box<dyn for<'py> FnOnce(Python<'py>) -> PyResult<Py<PyAny>> + Send>;

/// A finished call waiting for its loop.
struct Completion {
    future: Py<PyAny>,
    deliver: Deliver,
}

/// How a mailbox tells its loop that something arrived.
enum Wake {
    /// Write one byte to the socket the loop watches (`add_reader`): no GIL needed.
    #[cfg(unix)]
    Socket(std::os::unix::net::UnixStream),
    /// Loops without `add_reader` (Windows' proactor loop) or without weak references:
    /// `loop.call_soon_threadsafe(drain)` from the runtime thread, through
    /// [`attach_from_runtime`] (so never while the interpreter exits).
    CallSoon(Py<PyAny>),
}

/// Finished calls of one event loop, drained on the loop's thread.
struct Mailbox {
    queue: Mutex<Vec<Completion>>,
    wake: Wake,
}

impl Mailbox {
    /// From a runtime thread: queue `done` and wake the loop if the mailbox was empty (a
    /// non-empty one has a wake-up on its way already). Never touches Python.
    fn post(self: &Arc<Self>, done: Completion) {
        let first = {
            let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
            queue.push(done);
            queue.len() == 1
        };
        if first {
            self.wake();
        }
    }

    fn wake(self: &Arc<Self>) {
        match &self.wake {
            #[cfg(unix)]
            Wake::Socket(writer) => {
                use std::os::fd::AsRawFd;
                // Non-blocking; a full buffer already holds a wake-up, and a closed reader means
                // the loop is gone. MSG_NOSIGNAL: no SIGPIPE for that.
                // SAFETY: a valid fd owned by `writer`, a 1-byte buffer.
                unsafe {
                    libc::send(
                        writer.as_raw_fd(),
                        [0u8].as_ptr().cast(),
                        1,
                        libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
                    );
                }
            }
            Wake::CallSoon(event_loop) => {
                let mailbox = self.clone();
                attach_from_runtime(|py| {
                    let drain = LoopWaker {
                        mailbox,
                        pid: std::process::id(),
                        #[cfg(unix)]
                        reader: None,
                    };
                    // Err: the loop is closed; nobody is waiting any more.
                    let _ = event_loop
                        .bind(py)
                        .call_method1(intern!(py, "call_soon_threadsafe"), (drain,));
                });
            }
        }
    }
}

/// One event loop's side of the bridge; calling it drains the mailbox (the loop's reader
/// callback).
#[pyclass(module = "weixin_kit._native", frozen)]
struct LoopWaker {
    mailbox: Arc<Mailbox>,
    pid: u32,
    #[cfg(unix)]
    reader: Option<std::os::unix::net::UnixStream>,
}

#[pymethods]
impl LoopWaker {
    fn __call__(&self, py: Python<'_>) {
        #[cfg(unix)]
        if let Some(reader) = &self.reader {
            // Read the wake-ups *before* taking the queue: a call finishing after the take finds
            // the queue empty and writes a byte this read cannot have consumed.
            use std::io::Read;
            let mut buf = [0u8; 256];
            while let Ok(n) = (&*reader).read(&mut buf) {
                if n < buf.len() {
                    break;
                }
            }
        }
        let batch =
            std::mem::take(&mut *self.mailbox.queue.lock().unwrap_or_else(|e| e.into_inner()));
        for done in batch {
            let future = done.future.bind(py);
            let outcome = match (done.deliver)(py) {
                Ok(value) => future.call_method1(intern!(py, "set_result"), (value,)),
                Err(error) => {
                    future.call_method1(intern!(py, "set_exception"), (error.into_value(py),))
                }
            };
            // Err: the future was cancelled meanwhile (InvalidStateError); nobody waits for it.
            drop(outcome);
        }
    }
}

/// Done callback of every awaitable: a cancelled future (asyncio.wait_for's timeout, a cancelled
/// task) aborts its Rust task; for a completed one the task has already finished.
#[pyclass(module = "weixin_kit._native", frozen)]
struct AbortOnCancel {
    task: tokio::task::AbortHandle,
}

#[pymethods]
impl AbortOnCancel {
    fn __call__(&self, _future: &Bound<'_, PyAny>) {
        self.task.abort();
    }
}

/// Holds the future until the call delivers; dropped undelivered (the operation panicked, or the
/// task was aborted because the future was cancelled) it delivers an error instead, so an
/// awaiting task never waits forever.
struct Pending {
    mailbox: Arc<Mailbox>,
    future: Option<Py<PyAny>>,
}

impl Pending {
    fn deliver(mut self, deliver: Deliver) {
        if let Some(future) = self.future.take() {
            self.mailbox.post(Completion { future, deliver });
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(future) = self.future.take() {
            self.mailbox.post(Completion {
                future,
                deliver: Box::new(|py| {
                    Err(crate::errors::internal(
                        py,
                        "weixin_kit: internal error: the operation panicked",
                    ))
                }),
            });
        }
    }
}

static GET_RUNNING_LOOP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
/// `weakref.WeakKeyDictionary`: event loop → its [`LoopWaker`].
static WAKERS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The mailbox of `event_loop`, created on the first call in that loop (and again in a forked
/// child): a socket pair whose read end the loop watches, or, for a loop without `add_reader`,
/// `call_soon_threadsafe` wake-ups.
fn mailbox_for(py: Python<'_>, event_loop: &Bound<'_, PyAny>) -> PyResult<Arc<Mailbox>> {
    let wakers = WAKERS
        .get_or_try_init(py, || {
            py.import("weakref")?
                .getattr("WeakKeyDictionary")?
                .call0()
                .map(Bound::unbind)
        })?
        .bind(py);
    let pid = std::process::id();
    let known = wakers.call_method1(intern!(py, "get"), (event_loop,))?;
    if let Ok(known) = known.cast::<LoopWaker>() {
        if known.get().pid == pid {
            return Ok(known.get().mailbox.clone());
        }
    }
    let waker = new_waker(py, event_loop, pid)?;
    if wakers.set_item(event_loop, &waker).is_err() {
        // The loop cannot be weakly referenced: nowhere to keep a waker, so this call gets a
        // mailbox of its own that wakes the loop with call_soon_threadsafe.
        #[cfg(unix)]
        if let Some(reader) = &waker.get().reader {
            use std::os::fd::AsRawFd;
            event_loop.call_method1(intern!(py, "remove_reader"), (reader.as_raw_fd(),))?;
        }
        return Ok(call_soon_mailbox(event_loop));
    }
    Ok(waker.get().mailbox.clone())
}

fn call_soon_mailbox(event_loop: &Bound<'_, PyAny>) -> Arc<Mailbox> {
    Arc::new(Mailbox {
        queue: Mutex::new(Vec::new()),
        wake: Wake::CallSoon(event_loop.clone().unbind()),
    })
}

/// A waker whose socket `event_loop` watches; one waking with call_soon_threadsafe if the loop
/// has no `add_reader` (the proactor loop raises NotImplementedError) or not on Unix.
fn new_waker<'py>(
    py: Python<'py>,
    event_loop: &Bound<'py, PyAny>,
    pid: u32,
) -> PyResult<Bound<'py, LoopWaker>> {
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        let (reader, writer) = std::os::unix::net::UnixStream::pair()
            .and_then(|(r, w)| {
                r.set_nonblocking(true)?;
                w.set_nonblocking(true)?;
                Ok((r, w))
            })
            .map_err(|e| crate::errors::internal(py, &format!("weixin_kit: socketpair: {e}")))?;
        let fd = reader.as_raw_fd();
        let mailbox = Arc::new(Mailbox {
            queue: Mutex::new(Vec::new()),
            wake: Wake::Socket(writer),
        });
        let waker = Bound::new(
            py,
            LoopWaker {
                mailbox,
                pid,
                reader: Some(reader),
            },
        )?;
        if event_loop
            .call_method1(intern!(py, "add_reader"), (fd, &waker))
            .is_ok()
        {
            return Ok(waker);
        }
    }
    Bound::new(
        py,
        LoopWaker {
            mailbox: call_soon_mailbox(event_loop),
            pid,
            #[cfg(unix)]
            reader: None,
        },
    )
}

/// An asyncio awaitable (a future of the running loop) for `fut`, driven by the shared runtime.
/// `T` is converted to Python on the loop's thread when the future completes (its
/// `IntoPyObject` may fail: that is how an error becomes the awaitable's exception). Must be
/// called with a running loop (from a coroutine), as asyncio's own APIs are.
pub fn into_awaitable<'py, F, T>(py: Python<'py>, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = T> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    let event_loop = GET_RUNNING_LOOP
        .get_or_try_init(py, || {
            py.import("asyncio")?
                .getattr("get_running_loop")
                .map(Bound::unbind)
        })?
        .bind(py)
        .call0()?;
    let mailbox = mailbox_for(py, &event_loop)?;
    let future = event_loop.call_method0(intern!(py, "create_future"))?;
    let pending = Pending {
        mailbox,
        future: Some(future.clone().unbind()),
    };
    let task = runtime().spawn(async move {
        let value = fut.await;
        pending.deliver(Box::new(move |py| value.into_py_any(py)));
    });
    future.call_method1(
        intern!(py, "add_done_callback"),
        (AbortOnCancel {
            task: task.abort_handle(),
        },),
    )?;
    Ok(future)
}
