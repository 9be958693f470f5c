//! Shared oracle for the codec targets: whatever parses must emit, and what it emits must parse
//! back to the same value (emit may normalise spacing, so bytes are not compared).

/// Parse `data` with `$parse`; on success emit with `.emit` and require `$parse` to return an
/// equal value.
#[macro_export]
macro_rules! roundtrip {
    ($data:expr, $parse:expr) => {{
        if let Ok(v) = $parse($data) {
            let mut buf = vec![0u8; 2 * 1024 * 1024];
            let n = v.emit(&mut buf).expect("a parsed value re-emits");
            let again = $parse(&buf[..n]).expect("emitted bytes parse");
            assert_eq!(v, again, "parse(emit(parse(x))) != parse(x)");
        }
    }};
}
