//! The json-mode frames real Node 20 wrote (tests/vectors/*.json, captured
//! with tools/vectors): every one decodes, and encoding the decoded value
//! gives back Node's exact bytes.

use forkwire::codec::{self, FrameDecoder, Limits};
use forkwire::Mode;
use serde_json::{json, Value};

fn vectors(file: &str) -> Vec<(String, Vec<u8>)> {
    let path = format!("{}/tests/vectors/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["mode"], "json");
    doc["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let hex = v["frame"].as_str().unwrap();
            let bytes = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            (v["name"].as_str().unwrap().to_owned(), bytes)
        })
        .collect()
}

fn decode_one(frame: &[u8]) -> Value {
    let mut dec = FrameDecoder::new(Mode::Json, Limits::default());
    dec.push(frame);
    let payload = dec
        .next_frame()
        .expect("one whole frame")
        .expect("frame ok")
        .to_vec();
    assert!(dec.next_frame().is_none());
    codec::decode_frame(Mode::Json, &payload).unwrap()
}

fn check_file(file: &str) -> usize {
    let all = vectors(file);
    for (name, frame) in &all {
        let value = decode_one(frame);
        let mut again = Vec::new();
        codec::encode_frame(Mode::Json, &value, &mut again).unwrap();
        if name.contains("lone surrogate") {
            // Not representable in Rust strings: read as U+FFFD.
            assert!(value.to_string().contains('\u{fffd}'), "{name}");
            continue;
        }
        assert_eq!(
            String::from_utf8_lossy(&again),
            String::from_utf8_lossy(frame),
            "{name}: re-encoding differs from Node's frame"
        );
    }
    all.len()
}

#[test]
fn node20_vectors_decode_and_reencode_byte_exact() {
    assert!(check_file("node20-json.json") >= 50);
}

#[test]
fn decoded_values_have_the_right_types() {
    let by_name: std::collections::HashMap<_, _> =
        vectors("node20-json.json").into_iter().collect();
    let get = |n: &str| decode_one(&by_name[n]);
    assert_eq!(get("int 2^31 (double)").as_u64(), Some(2147483648));
    assert_eq!(get("int -2^31").as_i64(), Some(-2147483648));
    assert_eq!(get("MAX_SAFE_INTEGER").as_u64(), Some(9007199254740991));
    assert_eq!(get("1e21").as_f64(), Some(1e21));
    assert_eq!(get("5e-324").as_f64(), Some(5e-324));
    assert_eq!(get("NaN"), Value::Null);
    assert_eq!(get("U+2028 and newline"), json!("a\u{2028}b\nc"));
    assert_eq!(get("emoji"), json!("😀"));
    assert_eq!(get("lone surrogate"), json!("\u{fffd}"));
    assert_eq!(
        get("Buffer"),
        json!({ "type": "Buffer", "data": [1, 2, 3] })
    );
    assert_eq!(get("envelope")["data"]["n"], 21);
    let keys: Vec<_> = get("integer keys")
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(keys, ["1", "b"]);
}
