//! RFC 2047 header text: decoding any bytes never panics; encoding any text gives printable
//! ASCII that decodes back to it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = ksan_proto::header_text::decode(data);
    let wire = ksan_proto::header_text::encode(&text);
    assert!(wire.bytes().all(|b| (0x20..0x7f).contains(&b) || b == b'\t'));
    assert_eq!(ksan_proto::header_text::decode(wire.as_bytes()), text);
});
