//! A database's record on disk (`database.json`), as the node manager reads it at
//! start: arbitrary bytes never panic, and whatever parses survives a write and a
//! second read unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = nodes::manifest::parse_record(data) {
        let again = serde_json::to_vec(&r).expect("a parsed record serializes");
        let back = nodes::manifest::parse_record(&again).expect("a written record parses");
        assert_eq!(back, r);
    }
});
