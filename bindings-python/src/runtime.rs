//! One multi-thread tokio runtime per process, shared by every client and the sandbox, and the
//! two ways Python waits on it:
//!
//! - [`block_on`] (sync API): the future runs as a task on the runtime while the calling thread
//!   waits with the GIL released (`py.detach`), waking every [`SIGNAL_CHECK`] to let Ctrl-C
//!   interrupt the wait (the task is then aborted);
//! - [`into_awaitable`](crate::asyncio::into_awaitable) (async API): an asyncio future of the
//!   running loop, completed on the loop's own thread (module [`crate::asyncio`]).
//!
//! # Rules that keep the process alive at exit and after `fork()`
//!
//! **Runtime threads never run Python code on their own.** A thread that holds the GIL while the
//! interpreter finalizes is killed by CPython (`PyThread_exit_thread` when it asks for the GIL
//! back, e.g. around a socket write inside `loop.call_soon_threadsafe`): the forced unwind runs
//! pyo3's guard, which calls `PyGILState_Release` on a thread state that is no longer current,
//! and the process aborts (`Fatal Python error: PyGILState_Release`, exit 134/139). That is what
//! pyo3-async-runtimes did for every async call (its completion runs in `spawn_blocking`, holding
//! the GIL). Here a finished call only pushes its result to the loop's [`Mailbox`] and writes one
//! byte to a socket the loop watches (no GIL); the loop's thread converts the result and sets
//! the future. Where a runtime thread must run Python (the fallback for event loops without
//! `add_reader`, host callbacks), it goes through [`attach_from_runtime`], which refuses once the
//! interpreter is exiting; the `atexit` hook installed by [`install`] closes that gate and waits,
//! with the GIL released, until no runtime thread is inside Python any more.
//!
//! **After `fork()` the child gets its own runtime.** The parent's worker threads do not exist in
//! the child, so a task spawned on the parent's runtime would never run (a call would hang, its
//! timeout included: the timer is driven by those threads). [`runtime`] notices the new process
//! id and builds a fresh runtime; the parent's is leaked, never dropped (dropping would wait for
//! threads that are gone). Clients keep their per-process state in [`PerProcess`], rebuilt in the
//! child for the same reason (connection pools, background tasks and locks of the parent's
//! runtime).

use std::future::Future;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3::IntoPyObject;

/// How often a blocked sync call wakes to check for KeyboardInterrupt (main thread only).
const SIGNAL_CHECK: Duration = Duration::from_millis(100);

/// How long the exit hook waits for runtime threads to leave Python (they never stay long: a
/// callback of the loop fallback or a host callback).
const EXIT_GRACE: Duration = Duration::from_secs(2);

// -- the runtime, one per process --------------------------------------------------------------

/// A runtime and the process that built it.
struct ProcessRuntime {
    pid: u32,
    runtime: tokio::runtime::Runtime,
}

/// The current process's runtime: a leaked `Box` (never freed, never moved), so `&'static`
/// references to it stay valid forever, also in a forked child that replaced it.
static CURRENT: AtomicPtr<ProcessRuntime> = AtomicPtr::new(ptr::null_mut());

/// The shared runtime of this process, created on first use, and again on first use in a forked
/// child (the parent's threads do not exist there; its runtime is leaked, not dropped).
pub fn runtime() -> &'static tokio::runtime::Runtime {
    let pid = std::process::id();
    let current = CURRENT.load(Ordering::Acquire);
    // SAFETY: a pointer published in CURRENT comes from Box::into_raw and is never freed.
    match unsafe { current.as_ref() } {
        Some(rt) if rt.pid == pid => &rt.runtime,
        _ => new_runtime(pid, current),
    }
}

#[cold]
fn new_runtime(pid: u32, stale: *mut ProcessRuntime) -> &'static tokio::runtime::Runtime {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("weixin-kit")
        .build()
        .expect("cannot start the tokio runtime (out of threads or file descriptors?)");
    let fresh = Box::into_raw(Box::new(ProcessRuntime { pid, runtime }));
    match CURRENT.compare_exchange(stale, fresh, Ordering::AcqRel, Ordering::Acquire) {
        // The stale runtime (a parent's, after fork) is leaked on purpose.
        // SAFETY: just published, never freed.
        Ok(_) => unsafe { &(*fresh).runtime },
        Err(_) => {
            // Another thread of this process was first; ours never ran anything.
            // SAFETY: `fresh` was never published.
            let unused = unsafe { Box::from_raw(fresh) };
            unused.runtime.shutdown_background();
            self::runtime()
        }
    }
}

// -- Python work on runtime threads, and the exit hook -----------------------------------------

/// Set by the `atexit` hook: from then on no runtime thread enters Python.
static EXITING: AtomicBool = AtomicBool::new(false);
/// Runtime threads inside [`attach_from_runtime`] right now.
static IN_PYTHON: AtomicUsize = AtomicUsize::new(0);

struct LeavePython;

impl Drop for LeavePython {
    fn drop(&mut self) {
        IN_PYTHON.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Runs `f` with the GIL from a thread Python did not start (a runtime worker), unless the
/// interpreter is exiting: then `None`, and `f` is not run. Every piece of Python work a
/// runtime thread does must go through here (host callbacks included), so that the exit hook can
/// wait for the last one to finish before the interpreter finalizes.
pub fn attach_from_runtime<R>(f: impl for<'py> FnOnce(Python<'py>) -> R) -> Option<R> {
    IN_PYTHON.fetch_add(1, Ordering::SeqCst);
    let _leave = LeavePython;
    if EXITING.load(Ordering::SeqCst) {
        return None;
    }
    Python::try_attach(f)
}

/// `atexit` hook: closes the gate of [`attach_from_runtime`] and waits, with the GIL released (a
/// thread waiting for it may finish), until no runtime thread is inside Python. Runs before the
/// interpreter starts finalizing; after it, runtime threads only run Rust.
#[pyfunction]
fn _stop_python_work(py: Python<'_>) {
    EXITING.store(true, Ordering::SeqCst);
    py.detach(|| {
        let deadline = Instant::now() + EXIT_GRACE;
        while IN_PYTHON.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
}

/// `os.register_at_fork(after_in_child=…)`: a child starts with no runtime thread at all (the
/// copied counter may count parent threads that were waiting for the GIL at fork time).
#[pyfunction]
fn _after_fork_in_child() {
    IN_PYTHON.store(0, Ordering::SeqCst);
}

/// Registers the exit and fork hooks (called once, from the module's initialisation).
pub fn install(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let stop = wrap_pyfunction!(_stop_python_work, m)?;
    py.import("atexit")?.call_method1("register", (stop,))?;
    let after_fork = wrap_pyfunction!(_after_fork_in_child, m)?;
    let os = py.import("os")?;
    if os.hasattr("register_at_fork")? {
        let kw = PyDict::new(py);
        kw.set_item("after_in_child", after_fork)?;
        os.call_method("register_at_fork", (), Some(&kw))?;
    }
    Ok(())
}

// -- sync ---------------------------------------------------------------------------------------

/// Runs `fut` on the shared runtime and waits for it with the GIL released. Ctrl-C (a pending
/// signal handler that raises) aborts the task and propagates the exception.
pub fn block_on<F, T>(py: Python<'_>, fut: F) -> PyResult<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    if tokio::runtime::Handle::try_current().is_ok() {
        // Only reachable if Python code is re-entered from a runtime thread: block_on would
        // panic there ("cannot start a runtime from within a runtime").
        return Err(crate::errors::internal(
            py,
            "weixin_kit: a blocking call was made from inside the tokio runtime; use the async \
             client there",
        ));
    }
    // The result comes back through a channel the waiting thread parks on (a futex wait with a
    // timeout): no timer entry and no runtime context on this thread, and a dropped sender
    // (the task panicked or was aborted) ends the wait at once.
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let task = runtime().spawn(async move {
        let _ = tx.send(fut.await);
    });
    let mut rx = rx;
    loop {
        // The receiver moves into the detached closure and back (it is Send, not Sync).
        let (waited, back) = py.detach(move || (rx.recv_timeout(SIGNAL_CHECK), rx));
        rx = back;
        match waited {
            Ok(value) => return Ok(value),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Err(crate::errors::internal(
                    py,
                    "weixin_kit: internal error: the operation panicked",
                ))
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if let Err(interrupt) = py.check_signals() {
                    task.abort();
                    return Err(interrupt);
                }
            }
        }
    }
}

// -- per-process client state -------------------------------------------------------------------

/// A value bound to the process that built it (a core client: its connection pool, background
/// refresher and locks live on that process's runtime). In a forked child it is rebuilt by
/// `make`, inside the child's runtime, on first use; the parent's copy is leaked (dropping it
/// could wait on the parent's runtime).
///
/// Lock-free: the current `(pid, value)` is a leaked box behind an atomic pointer, so a lock
/// that a parent thread held at fork time cannot block the child, and concurrent callers never
/// contend. A box is freed only when the `PerProcess` itself is dropped in the process that
/// built that box; replaced boxes (one per fork that used the value) are leaked.
pub struct PerProcess<T> {
    make: Box<dyn Fn() -> weixin_kit::Result<T> + Send + Sync>,
    current: AtomicPtr<(u32, T)>,
    _owns: std::marker::PhantomData<T>,
}

impl<T: Clone> PerProcess<T> {
    /// Builds the value now, in the shared runtime's context.
    pub fn new(
        make: impl Fn() -> weixin_kit::Result<T> + Send + Sync + 'static,
    ) -> weixin_kit::Result<Self> {
        let value = {
            let _guard = runtime().enter();
            make()?
        };
        Ok(PerProcess {
            make: Box::new(make),
            current: AtomicPtr::new(Box::into_raw(Box::new((std::process::id(), value)))),
            _owns: std::marker::PhantomData,
        })
    }

    /// This process's value (a clone: core clients are handles).
    pub fn get(&self) -> weixin_kit::Result<T> {
        let pid = std::process::id();
        let current = self.current.load(Ordering::Acquire);
        // SAFETY: never null; boxes are freed only in Drop (`&mut self`), so this one outlives
        // the borrow.
        let (owner, value) = unsafe { &*current };
        if *owner == pid {
            return Ok(value.clone());
        }
        self.rebuild(pid, current)
    }

    #[cold]
    fn rebuild(&self, pid: u32, stale: *mut (u32, T)) -> weixin_kit::Result<T> {
        let fresh = {
            let _guard = runtime().enter();
            (self.make)()?
        };
        let boxed = Box::into_raw(Box::new((pid, fresh.clone())));
        match self
            .current
            .compare_exchange(stale, boxed, Ordering::AcqRel, Ordering::Acquire)
        {
            // The stale box (the parent's value) is leaked on purpose.
            Ok(_) => Ok(fresh),
            Err(_) => {
                // Another thread of this process rebuilt it first: use that one.
                // SAFETY: `boxed` was never published.
                drop(unsafe { Box::from_raw(boxed) });
                self.get()
            }
        }
    }
}

impl<T> Drop for PerProcess<T> {
    fn drop(&mut self) {
        let current = *self.current.get_mut();
        // SAFETY: `&mut self`: nobody else can read it any more. A value built by another
        // process (the parent's, never replaced here) is leaked, not dropped.
        if unsafe { (*current).0 } == std::process::id() {
            drop(unsafe { Box::from_raw(current) });
        }
    }
}

// -- the entry points the native classes use ---------------------------------------------------

/// How a native method hands back a core call's result.
#[derive(Debug, Clone, Copy)]
pub enum Mode {
    /// Wait for it with the GIL released (the sync clients).
    Blocking,
    /// Return an asyncio awaitable (the async clients).
    Awaitable,
}

/// Runs a core call in `mode`: its value as plain Python (or the `weixin_kit.errors` exception)
/// now, or an awaitable of the same. Every sync/async pair of native methods goes through here.
pub fn complete<'py, F, T>(py: Python<'py>, mode: Mode, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = weixin_kit::Result<T>> + Send + 'static,
    T: serde::Serialize + Send + 'static,
{
    match mode {
        Mode::Blocking => {
            let result = block_on(py, fut)?;
            crate::convert::Outcome(result).into_pyobject(py)
        }
        Mode::Awaitable => {
            crate::asyncio::into_awaitable(py, async move { crate::convert::Outcome(fut.await) })
        }
    }
}
