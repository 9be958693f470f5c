//! The pcap path (TCP reassembly + fd-core's incremental bsock decoder) must cut every
//! cleartext capture into exactly the frames the JSON Lines transcript lists.

use std::path::PathBuf;

use barque_dissect::{frames, jsonl, pcap, Body};

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors")
}

#[test]
fn pcap_frames_equal_transcript_frames() {
    let mut checked = 0;
    for entry in std::fs::read_dir(vectors()).expect("../shared/vectors is next to the checkout") {
        let dir = entry.expect("readable directory entry").path();
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        let jsonl_path = dir.join("transcript.jsonl");
        let pcap_path = dir.join(format!("{name}.pcap"));
        if !jsonl_path.exists() || !pcap_path.exists() {
            continue;
        }
        let text = std::fs::read_to_string(&jsonl_path).expect("transcript readable");
        let j = jsonl::parse(&text, &name).expect("transcript parses");
        let p = pcap::parse(&std::fs::read(&pcap_path).expect("pcap readable"), &name)
            .expect("pcap parses");
        assert_eq!(
            j.connections.len(),
            p.connections.len(),
            "{name}: connection count"
        );
        let jm = frames::messages(&j, &name).expect("transcript frames");
        let pm = frames::messages(&p, &name).expect("pcap frames");
        let key = |m: &barque_dissect::Message| match &m.body {
            Body::Data {
                payload, truncated, ..
            } => Some((m.conn, m.dir, Some(payload.clone()), None, *truncated)),
            Body::Signal(s) => Some((m.conn, m.dir, None, Some(s.code()), false)),
            Body::Tls { body, .. } => Some((m.conn, m.dir, Some(body.clone()), None, false)),
            Body::Close(_) => None,
        };
        // Compare per connection and direction: across connections the transcript orders
        // messages by time, the pcap by packet, and equal timestamps may interleave either way.
        let mut jk: Vec<_> = jm.iter().filter_map(key).collect();
        let mut pk: Vec<_> = pm.iter().filter_map(key).collect();
        jk.sort_by_key(|k| (k.0, k.1 == barque_dissect::Direction::ToClient));
        pk.sort_by_key(|k| (k.0, k.1 == barque_dissect::Direction::ToClient));
        assert_eq!(jk.len(), pk.len(), "{name}: frame count");
        for (i, (a, b)) in jk.iter().zip(pk.iter()).enumerate() {
            assert_eq!((a.0, a.1, a.3), (b.0, b.1, b.3), "{name}: frame {i} header");
            match (&a.2, &b.2) {
                (Some(x), Some(y)) if a.4 => assert!(y.starts_with(x), "{name}: frame {i} prefix"),
                (x, y) => assert_eq!(x, y, "{name}: frame {i} payload"),
            }
        }
        checked += 1;
    }
    assert!(
        checked >= 15,
        "expected the whole vector set, checked {checked}"
    );
}
