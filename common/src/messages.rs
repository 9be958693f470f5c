//! Message types as a `Messages` resource names them, and its destinations' type lists
//! (`core/src/lib/message.cc` as the Director and the SD apply it): shared by barque-dir and
//! barque-sd.

use fd_core::wire::codes::MessageType;

/// Bareos' name of a message type as written in a Messages resource.
pub fn type_name(t: MessageType) -> &'static str {
    match t {
        MessageType::Abort => "abort",
        MessageType::Debug => "debug",
        MessageType::Fatal => "fatal",
        MessageType::Error | MessageType::ErrorTerm => "error",
        MessageType::Warning => "warning",
        MessageType::Saved => "saved",
        MessageType::NotSaved => "notsaved",
        MessageType::Skipped => "skipped",
        MessageType::Mount => "mount",
        MessageType::Term => "terminate",
        MessageType::Restored => "restored",
        MessageType::Security => "security",
        MessageType::Alert => "alert",
        MessageType::VolMgmt => "volmgmt",
        MessageType::Audit => "audit",
        _ => "info",
    }
}

/// Whether a destination's type list (`all, !skipped, !saved`) admits `t`: the last entry
/// naming its type, or `all` (every type but debug), decides; `!` negates.
pub fn admits(types: &[String], t: MessageType) -> bool {
    let name = type_name(t);
    let mut ok = false;
    for entry in types {
        let entry = entry.trim();
        let (neg, word) = match entry.strip_prefix('!') {
            Some(w) => (true, w),
            None => (false, entry),
        };
        let word = word.trim().to_ascii_lowercase();
        if word == "all" {
            if t != MessageType::Debug {
                ok = !neg;
            }
        } else if word == name {
            ok = !neg;
        }
    }
    ok
}
