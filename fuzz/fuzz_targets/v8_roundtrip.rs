//! Whatever the advanced-mode decoder accepts must encode, decode again to
//! an equal value and encode to the same bytes; its JSON and serde views
//! must not panic either.
#![no_main]

use forkwire::codec::v8;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = v8::decode(data) else { return };
    let bytes = v8::encode(&value).expect("a decoded value encodes");
    let again = v8::decode(&bytes).expect("an encoded value decodes");
    assert!(again == value, "round trip changed the value");
    assert_eq!(
        v8::encode(&again).expect("re-encodes"),
        bytes,
        "encoding is not stable"
    );
    let _ = value.to_json();
    let _ = v8::from_value::<serde_json::Value>(value);
});
