//! Handles as JavaScript passes them: the descriptor number of a
//! `net.Socket`, `net.Server` or `dgram.Socket` (`lib/handles.js` finds
//! it) and Node's name for its type. The binding takes its own duplicate
//! at once, so JS may close its copy as soon as the call returns.

use forkwire::channel::HandleKind;
use std::os::fd::{BorrowedFd, OwnedFd};

/// A duplicate of descriptor `fd` and the kind named `handle_type`.
pub fn take(fd: i32, handle_type: &str) -> napi::Result<(OwnedFd, HandleKind)> {
    let kind = HandleKind::parse(handle_type).ok_or_else(|| {
        napi::Error::new(
            napi::Status::InvalidArg,
            format!("ERR_INVALID_HANDLE_TYPE: {handle_type} is not a handle type Node has"),
        )
    })?;
    if fd < 0 {
        return Err(napi::Error::new(
            napi::Status::InvalidArg,
            "ERR_INVALID_HANDLE_TYPE: the handle has no descriptor",
        ));
    }
    // SAFETY: only borrowed for the duplicating fcntl, which fails cleanly
    // (EBADF) if JS handed over a number that is not open.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    let owned = borrowed.try_clone_to_owned().map_err(|e| {
        napi::Error::from_reason(format!(
            "ERR_FORKWIRE_SERIALIZE: cannot take the handle: {e}"
        ))
    })?;
    Ok((owned, kind))
}
