//! How pool threads wake the JS thread: a Node-API threadsafe function
//! made here rather than through napi-rs, for two things napi-rs does not
//! offer:
//!
//! - **an async resource of our choosing.** Node reports a threadsafe
//!   function to `async_hooks` with the object given at creation as its
//!   resource (napi-rs always gives none, so Node makes an empty one).
//!   Tools that list what keeps a process alive (`jest
//!   --detectOpenHandles`, `why-is-node-running`) find nothing on an empty
//!   object that says whether it is referenced, and report it as open
//!   forever. Here the resource is the `WorkerPool` itself, whose
//!   `hasRef()` says what the threadsafe function's reference state is.
//! - **release at a moment we choose.** Once the pool has closed and JS
//!   has taken the last batch, [`Wake::release`] lets Node destroy the
//!   threadsafe function (and its async resource) while the `WorkerPool`
//!   object lives on.
//!
//! The threadsafe function is what keeps the event loop alive while the
//! pool needs it (`ref()`/`unref()` from JS, [`Wake::set_ref`]): there is
//! no other handle.
//!
//! Node may also destroy it on its own, when the environment is torn down
//! (a worker thread ending, the process exiting). Its finalizer then marks
//! it gone under the same lock every call holds, so no thread ever calls
//! into a threadsafe function Node has freed.

use napi::sys;
use parking_lot::RwLock;
use std::ffi::c_void;
use std::ptr;
use std::sync::{Arc, Weak};

/// The async resource type name `async_hooks` reports.
const RESOURCE_NAME: &str = "ForkwireWorkerPool";

/// The raw threadsafe function, while it may be called.
struct Raw(sys::napi_threadsafe_function);

// SAFETY: Node-API threadsafe functions are made to be called from any
// thread; the pointer is only used under `Inner::raw`'s lock, and never
// after Node's finalizer (which takes that lock) has run.
unsafe impl Send for Raw {}
unsafe impl Sync for Raw {}

struct Inner {
    /// `None` once released here or finalized by Node.
    raw: RwLock<Option<Raw>>,
}

/// Calls a JS function with no arguments on the JS thread, from any thread.
pub struct Wake {
    inner: Arc<Inner>,
}

impl Wake {
    /// Makes the threadsafe function for `func`, reported to `async_hooks`
    /// with `resource` as its resource. It starts referenced (keeping the
    /// event loop alive), as Node's own handles do. Call on the JS thread.
    pub fn new(
        env: sys::napi_env,
        func: sys::napi_value,
        resource: sys::napi_value,
    ) -> napi::Result<Wake> {
        let inner = Arc::new(Inner {
            raw: RwLock::new(None),
        });
        let mut name = ptr::null_mut();
        // SAFETY: env is the current environment; the string is valid UTF-8
        // of the given length.
        check(
            unsafe {
                sys::napi_create_string_utf8(
                    env,
                    RESOURCE_NAME.as_ptr().cast(),
                    RESOURCE_NAME.len() as isize,
                    &mut name,
                )
            },
            "create the async resource name",
        )?;
        let finalize_data = Weak::into_raw(Arc::downgrade(&inner))
            .cast_mut()
            .cast::<c_void>();
        let mut raw = ptr::null_mut();
        // SAFETY: func and resource are live values of this env; Node owns
        // finalize_data once this succeeds and hands it to `finalize` once.
        let status = unsafe {
            sys::napi_create_threadsafe_function(
                env,
                func,
                resource,
                name,
                0,
                1,
                finalize_data,
                Some(finalize),
                ptr::null_mut(),
                Some(call_js),
                &mut raw,
            )
        };
        if status != sys::Status::napi_ok {
            // SAFETY: Node did not take finalize_data; it came from
            // `Weak::into_raw` above.
            drop(unsafe { Weak::from_raw(finalize_data.cast::<Inner>().cast_const()) });
            check(status, "create the threadsafe function")?;
        }
        *inner.raw.write() = Some(Raw(raw));
        Ok(Wake { inner })
    }

    /// Queues one call of the function; false if it is gone (released, or
    /// its environment torn down).
    pub fn call(&self) -> bool {
        let raw = self.inner.raw.read();
        let Some(Raw(raw)) = raw.as_ref() else {
            return false;
        };
        // SAFETY: the threadsafe function is alive while `raw` is Some: Node's
        // finalizer takes the write lock first.
        let status = unsafe {
            sys::napi_call_threadsafe_function(
                *raw,
                ptr::null_mut(),
                sys::ThreadsafeFunctionCallMode::nonblocking,
            )
        };
        status == sys::Status::napi_ok
    }

    /// Whether the function keeps the event loop alive. Call on the JS
    /// thread. Does nothing once it is gone.
    pub fn set_ref(&self, env: sys::napi_env, referenced: bool) -> napi::Result<()> {
        let raw = self.inner.raw.read();
        let Some(Raw(raw)) = raw.as_ref() else {
            return Ok(());
        };
        // SAFETY: on the JS thread of `env`, with the function alive.
        let status = unsafe {
            match referenced {
                true => sys::napi_ref_threadsafe_function(env, *raw),
                false => sys::napi_unref_threadsafe_function(env, *raw),
            }
        };
        check(status, "ref or unref the threadsafe function")
    }

    /// Lets Node destroy the function once the calls already queued have
    /// run; later calls do nothing. Idempotent.
    pub fn release(&self) {
        if let Some(Raw(raw)) = self.inner.raw.write().take() {
            // SAFETY: alive (it was Some under the lock), and released once.
            unsafe {
                sys::napi_release_threadsafe_function(
                    raw,
                    sys::ThreadsafeFunctionReleaseMode::release,
                );
            }
        }
    }
}

impl Drop for Wake {
    fn drop(&mut self) {
        self.release();
    }
}

fn check(status: sys::napi_status, what: &str) -> napi::Result<()> {
    match status {
        sys::Status::napi_ok => Ok(()),
        status => Err(napi::Error::new(
            napi::Status::from(status),
            format!("cannot {what}"),
        )),
    }
}

/// Node destroys the function (after `release`, or with its environment):
/// it must not be called again.
unsafe extern "C" fn finalize(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    // SAFETY: `data` is the Weak given at creation, handed back once.
    let weak = unsafe { Weak::from_raw(data.cast::<Inner>().cast_const()) };
    if let Some(inner) = weak.upgrade() {
        inner.raw.write().take();
    }
}

/// Runs on the JS thread for each queued call: calls the function with no
/// arguments. An exception it throws is reported as uncaught, as Node does
/// for its own callbacks.
unsafe extern "C" fn call_js(
    env: sys::napi_env,
    func: sys::napi_value,
    _context: *mut c_void,
    _data: *mut c_void,
) {
    // Both are null while the environment is torn down.
    if env.is_null() || func.is_null() {
        return;
    }
    // SAFETY: on the JS thread of `env`, with `func` a live value.
    unsafe {
        let mut this = ptr::null_mut();
        sys::napi_get_undefined(env, &mut this);
        let mut result = ptr::null_mut();
        let status = sys::napi_call_function(env, this, func, 0, ptr::null(), &mut result);
        if status == sys::Status::napi_pending_exception {
            let mut error = ptr::null_mut();
            if sys::napi_get_and_clear_last_exception(env, &mut error) == sys::Status::napi_ok {
                sys::napi_fatal_exception(env, error);
            }
        }
    }
}
