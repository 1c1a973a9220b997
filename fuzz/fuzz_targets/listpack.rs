//! Fuzzes the listpack decoder with untrusted blobs: it must never panic nor read
//! outside the buffer, and whatever decodes must come back unchanged through the
//! encoder. The encoder gets the same bytes cut into elements, which must round-trip.

#![no_main]

use libfuzzer_sys::fuzz_target;
use persistence::listpack::{decode, Item, Listpack};

fuzz_target!(|data: &[u8]| {
    if let Ok(items) = decode(data) {
        let mut lp = Listpack::new();
        for item in &items {
            lp.push_item(*item);
        }
        let again = lp.finish().expect("a decoded listpack fits");
        assert_eq!(decode(&again).expect("an encoded listpack decodes"), items);
    }

    // The input as elements: cut at every 0x00 byte.
    let elements: Vec<&[u8]> = data.split(|&b| b == 0).collect();
    let mut lp = Listpack::new();
    for e in &elements {
        lp.push(e);
    }
    let bytes = lp.finish().expect("small input fits");
    let back = decode(&bytes).expect("an encoded listpack decodes");
    assert_eq!(back.len(), elements.len());
    for (got, want) in back.iter().zip(&elements) {
        assert_eq!(&got.to_vec(), want);
        assert_eq!(
            matches!(got, Item::Int(_)),
            engine::value::parse_canonical_i64(want).is_some()
        );
    }
});
