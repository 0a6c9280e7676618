//! The Range header: any text and size, no panic, and a satisfiable range lies inside the
//! object.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let size = u64::from_le_bytes(data[..8].try_into().unwrap_or_default()) % (1 << 40);
    let text = String::from_utf8_lossy(&data[8..]);
    if let Ok(Some((start, len))) = ksan_proto::range::parse_range(Some(&text), size) {
        assert!(len > 0 && start + len <= size);
    }
});
