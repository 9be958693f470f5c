//! Readers for the reference captures in `../shared/vectors` (next to the checkout).

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;

/// `$BARQUE_VECTORS` or `../shared/vectors` (barque-testkit).
pub fn dir() -> PathBuf {
    barque_testkit::vectors()
}

pub fn read(rel: &str) -> String {
    let p = dir().join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (../shared/vectors must be next to the checkout)",
            p.display()
        )
    })
}

/// One table of `catalog-dump.txt` (psql's aligned output): rows as column → text (trimmed).
pub type Table = Vec<HashMap<String, String>>;

/// All tables of `vectors/catalog-dump.txt`, keyed by the `-- ` comment line before each.
pub fn catalog_dump() -> Vec<(String, Table)> {
    let text = read("catalog-dump.txt");
    let mut out: Vec<(String, Table)> = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let Some(title) = line.strip_prefix("-- ") else {
            continue;
        };
        let header: Vec<String> = lines
            .next()
            .expect("header line")
            .split('|')
            .map(|s| s.trim().to_owned())
            .collect();
        let sep = lines.next().expect("separator line");
        assert!(sep.starts_with('-'), "separator: {sep}");
        let mut rows = Vec::new();
        for l in lines.by_ref() {
            if l.starts_with('(') {
                break;
            }
            let cells: Vec<&str> = l.split('|').collect();
            assert_eq!(cells.len(), header.len(), "row {l}");
            rows.push(
                header
                    .iter()
                    .cloned()
                    .zip(cells.iter().map(|c| c.trim().to_owned()))
                    .collect(),
            );
        }
        out.push((title.to_owned(), rows));
    }
    out
}

pub fn dump_table(prefix: &str) -> Table {
    catalog_dump()
        .into_iter()
        .find(|(t, _)| t.starts_with(prefix))
        .unwrap_or_else(|| panic!("no table {prefix:?} in catalog-dump.txt"))
        .1
}

/// The payload of message `i` of connection `conn` in `<capture>/transcript.jsonl`.
pub fn message(capture: &str, conn: u32, i: u32) -> Vec<u8> {
    barque_testkit::transcript::message(capture, conn, i)
}
