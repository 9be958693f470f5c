//! Reader for the JSON Lines transcripts of `../shared/vectors/*/transcript.jsonl` (format in
//! `../shared/vectors/README.md`).

use serde_json::Value;

use crate::capture::{Capture, Connection, Direction, Item, ReadError};

fn field<'v>(v: &'v Value, key: &str, src: &str, line: usize) -> Result<&'v Value, ReadError> {
    v.get(key).ok_or_else(|| ReadError {
        source: format!("{src}:{line}"),
        what: format!("missing field {key:?}"),
    })
}

fn as_usize(v: &Value, src: &str, line: usize) -> Result<usize, ReadError> {
    v.as_u64()
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| ReadError {
            source: format!("{src}:{line}"),
            what: format!("expected a non-negative integer, found {v}"),
        })
}

fn as_str<'v>(v: &'v Value, src: &str, line: usize) -> Result<&'v str, ReadError> {
    v.as_str().ok_or_else(|| ReadError {
        source: format!("{src}:{line}"),
        what: format!("expected a string, found {v}"),
    })
}

/// Parse a transcript. `src` names it in errors.
pub fn parse(text: &str, src: &str) -> Result<Capture, ReadError> {
    let mut cap = Capture::default();
    for (i, line) in text.lines().enumerate() {
        let ln = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(line).map_err(|e| ReadError {
            source: format!("{src}:{ln}"),
            what: format!("not JSON: {e}"),
        })?;
        let kind = as_str(field(&v, "kind", src, ln)?, src, ln)?;
        let t = v.get("t").and_then(Value::as_f64).unwrap_or(0.0);
        match kind {
            "conn" => {
                let addr = |k: &str| -> Result<std::net::SocketAddr, ReadError> {
                    as_str(field(&v, k, src, ln)?, src, ln)?
                        .parse()
                        .map_err(|e| ReadError {
                            source: format!("{src}:{ln}"),
                            what: format!("bad address in {k:?}: {e}"),
                        })
                };
                cap.connections.push(Connection {
                    number: as_usize(field(&v, "conn", src, ln)?, src, ln)?,
                    client: addr("client")?,
                    server: addr("server")?,
                    client_role: v
                        .get("client_role")
                        .and_then(Value::as_str)
                        .map(String::from),
                    server_role: v
                        .get("server_role")
                        .and_then(Value::as_str)
                        .map(String::from),
                });
            }
            "msg" => {
                let conn = as_usize(field(&v, "conn", src, ln)?, src, ln)?;
                let dir = direction(&cap, conn, as_str(field(&v, "dir", src, ln)?, src, ln)?)
                    .ok_or_else(|| ReadError {
                        source: format!("{src}:{ln}"),
                        what: format!("message for unknown connection {conn} or direction"),
                    })?;
                let index = as_usize(field(&v, "i", src, ln)?, src, ln)?;
                let body =
                    hex::decode(as_str(field(&v, "hex", src, ln)?, src, ln)?).map_err(|e| {
                        ReadError {
                            source: format!("{src}:{ln}"),
                            what: format!("bad hex: {e}"),
                        }
                    })?;
                if let Some(rec) = v.get("tls_record").and_then(Value::as_str) {
                    cap.items.push(Item::TlsRecord {
                        t,
                        conn,
                        dir,
                        index,
                        kind: rec.to_string(),
                        body,
                    });
                    continue;
                }
                let len = field(&v, "len", src, ln)?
                    .as_i64()
                    .and_then(|n| i32::try_from(n).ok())
                    .ok_or_else(|| ReadError {
                        source: format!("{src}:{ln}"),
                        what: "bad len".into(),
                    })?;
                let truncated = v.get("truncated").and_then(Value::as_bool).unwrap_or(false);
                cap.items.push(Item::Frame {
                    t,
                    conn,
                    dir,
                    index,
                    len,
                    payload: body,
                    truncated,
                });
            }
            "close" => {
                let conn = as_usize(field(&v, "conn", src, ln)?, src, ln)?;
                let arrow = as_str(field(&v, "dir", src, ln)?, src, ln)?;
                let dir = direction(&cap, conn, arrow).unwrap_or(Direction::ToServer);
                let how = v
                    .get("how")
                    .and_then(Value::as_str)
                    .unwrap_or("?")
                    .to_string();
                cap.items.push(Item::Close { t, conn, dir, how });
            }
            // Keep-alive probes and notes carry no bsock data.
            _ => {}
        }
    }
    Ok(cap)
}

/// Map `dir>fd` to a direction using the connection's roles.
fn direction(cap: &Capture, conn: usize, arrow: &str) -> Option<Direction> {
    let c = cap.connection(conn)?;
    let from = arrow.split('>').next()?;
    if c.client_role.as_deref() == Some(from) {
        Some(Direction::ToServer)
    } else if c.server_role.as_deref() == Some(from) {
        Some(Direction::ToClient)
    } else {
        None
    }
}
