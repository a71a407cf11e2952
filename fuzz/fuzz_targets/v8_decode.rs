//! Arbitrary bytes into the advanced-mode decoder: it must return, never
//! panic, overflow the stack or allocate without bound. Each input is tried
//! as is and behind a valid `ff 0f` header, so the fuzzer spends its time
//! past the version check.
#![no_main]

use forkwire::codec::v8;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = v8::decode(data);
    let mut payload = Vec::with_capacity(data.len() + 2);
    payload.extend_from_slice(&[0xff, 0x0f]);
    payload.extend_from_slice(data);
    let _ = v8::decode(&payload);
});
