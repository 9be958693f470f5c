//! FileSet `Options { ... }` values and the option letters the Director sends to the File
//! daemon.
//!
//! A FileSet `Options` block is configuration on the Director, but what it means travels on the
//! wire: the Director turns the block into a short string of option letters and sends it as the
//! `O <letters>` line of the `fileset` command (capture `clear-backup-full`, conn dir>fd, msg 15:
//! `O S2HAX` for `Signature = SHA256`). Bareos builds that string while it parses the block
//! (`ScanIncludeOptions`, `StoreOption`, `ApplyDefaultValuesForUnsetOptions` in
//! `core/src/dird/inc_conf.cc`): every option directive appends the letters of its value, in the
//! order written; then, for the three options with non-trivial defaults that were not written,
//! their default letters are appended in keyword order: hard links (`H`, i.e. "do not track"),
//! ACLs (`A`), extended attributes (`X`). A value of `no`/`yes` that matches the daemon's own
//! default appends `0`, which the File daemon ignores.
//!
//! The value table (facts from Bareos' `FS_options`) lives here, so that the configuration check
//! refuses exactly the values Bareos refuses (`Signature = SHA257`, `Sparse = true`) and the
//! Director can produce the exact bytes.

use super::{Directive, Value};

/// `(directive, value, letters)`: the accepted values of each simple option directive.
const TABLE: &[(&str, &str, &str)] = &[
    ("Signature", "md5", "M"),
    ("Signature", "sha1", "S"),
    ("Signature", "sha256", "S2"),
    ("Signature", "sha512", "S3"),
    ("Signature", "xxh128", "S4"),
    ("Compression", "gzip", "Z6"),
    ("Compression", "gzip1", "Z1"),
    ("Compression", "gzip2", "Z2"),
    ("Compression", "gzip3", "Z3"),
    ("Compression", "gzip4", "Z4"),
    ("Compression", "gzip5", "Z5"),
    ("Compression", "gzip6", "Z6"),
    ("Compression", "gzip7", "Z7"),
    ("Compression", "gzip8", "Z8"),
    ("Compression", "gzip9", "Z9"),
    ("Compression", "lzo", "Zo"),
    ("Compression", "lzfast", "Zff"),
    ("Compression", "lz4", "Zf4"),
    ("Compression", "lz4hc", "Zfh"),
    ("OneFs", "yes", "0"),
    ("OneFs", "no", "f"),
    ("Recurse", "yes", "0"),
    ("Recurse", "no", "h"),
    ("Sparse", "yes", "s"),
    ("Sparse", "no", "0"),
    ("HardLinks", "yes", "0"),
    ("HardLinks", "no", "H"),
    ("Replace", "always", "a"),
    ("Replace", "ifnewer", "w"),
    ("Replace", "never", "n"),
    ("ReadFifo", "yes", "r"),
    ("ReadFifo", "no", "0"),
    ("Portable", "yes", "p"),
    ("Portable", "no", "0"),
    ("MtimeOnly", "yes", "m"),
    ("MtimeOnly", "no", "0"),
    ("KeepAtime", "yes", "k"),
    ("KeepAtime", "no", "0"),
    ("Exclude", "yes", "e"),
    ("Exclude", "no", "0"),
    ("AclSupport", "yes", "A"),
    ("AclSupport", "no", "0"),
    ("IgnoreCase", "yes", "i"),
    ("IgnoreCase", "no", "0"),
    ("HfsPlusSupport", "yes", "R"),
    ("HfsPlusSupport", "no", "0"),
    ("NoAtime", "yes", "K"),
    ("NoAtime", "no", "0"),
    ("EnhancedWild", "yes", "K"),
    ("EnhancedWild", "no", "0"),
    ("CheckFileChanges", "yes", "c"),
    ("CheckFileChanges", "no", "0"),
    ("HonorNoDumpFlag", "yes", "N"),
    ("HonorNoDumpFlag", "no", "0"),
    ("XAttrSupport", "yes", "X"),
    ("XAttrSupport", "no", "0"),
    ("Shadowing", "localwarn", "d1"),
    ("Shadowing", "localremove", "d2"),
    ("Shadowing", "globalwarn", "d3"),
    ("Shadowing", "globalremove", "d4"),
    ("Shadowing", "none", "0"),
    ("AutoExclude", "yes", "0"),
    ("AutoExclude", "no", "x"),
    ("ForceEncryption", "yes", "Ef"),
    ("ForceEncryption", "no", "0"),
];

/// Options whose default is not "nothing": `(directive, letters when not written)`, in Bareos'
/// keyword order.
const DEFAULTS: &[(&str, &str)] = &[
    ("HardLinks", "H"),
    ("AclSupport", "A"),
    ("XAttrSupport", "X"),
];

const VERIFY_SET: &str = "ipnugsamcd51";
const ACCURATE_SET: &str = "ipnugsamcd51A";

/// Bareos' buffer for the option string holds 99 characters.
pub const MAX_OPTIONS_LEN: usize = 99;

fn dedup_chars(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if !out.contains(c) {
            out.push(c);
        }
    }
    out
}

/// The letters one option directive contributes, or why its value is not accepted.
pub fn option_letters(directive: &str, value: &str) -> Result<String, String> {
    let check_set = |what: &str, set: &str| -> Result<String, String> {
        match value.chars().find(|c| !set.contains(*c)) {
            Some(c) => Err(format!(
                "illegal {what} option '{c}' in \"{value}\" (allowed: {set})"
            )),
            None => Ok(dedup_chars(value)),
        }
    };
    match directive {
        "Verify" => Ok(format!("V{}:", check_set("verify", VERIFY_SET)?)),
        "Accurate" => Ok(format!("C{}:", check_set("accurate", ACCURATE_SET)?)),
        "StripPath" => {
            if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
                Ok(format!("P{value}:"))
            } else {
                Err(format!(
                    "StripPath expects a positive whole number, got \"{value}\""
                ))
            }
        }
        "Size" => {
            let ok = match value.split_once('-') {
                Some((a, b)) => {
                    super::value::parse_size(a).is_ok() && super::value::parse_size(b).is_ok()
                }
                None => {
                    let v = value.strip_prefix(['<', '>']).unwrap_or(value);
                    super::value::parse_size(v).is_ok()
                }
            };
            if ok {
                Ok(format!("z{value}:"))
            } else {
                Err(format!(
                    "Size expects a size, a range like 1k-1m, or <size / >size, got \"{value}\""
                ))
            }
        }
        _ => {
            let choices: Vec<&str> = TABLE
                .iter()
                .filter(|(d, _, _)| *d == directive)
                .map(|(_, v, _)| *v)
                .collect();
            if choices.is_empty() {
                return Err(format!("\"{directive}\" is not a FileSet option"));
            }
            TABLE
                .iter()
                .find(|(d, v, _)| *d == directive && v.eq_ignore_ascii_case(value))
                .map(|(_, _, l)| (*l).to_string())
                .ok_or_else(|| format!("\"{value}\" is not one of {}", choices.join(", ")))
        }
    }
}

/// The option string of one `Options` block (the text after `O ` on the wire), from its typed
/// directives. Directives that are not simple options (Wild, Regex, Plugin, ...) are skipped.
pub fn options_string(block: &[Directive]) -> Result<String, String> {
    let mut out = String::new();
    for d in block {
        let Value::Str(v) = &d.value else { continue };
        let is_option = matches!(d.name, "Verify" | "Accurate" | "StripPath" | "Size")
            || TABLE.iter().any(|(n, _, _)| *n == d.name);
        if is_option {
            out.push_str(&option_letters(d.name, v)?);
        }
    }
    for (name, letters) in DEFAULTS {
        if !block.iter().any(|d| d.name == *name) {
            out.push_str(letters);
        }
    }
    if out.len() > MAX_OPTIONS_LEN {
        return Err(format!(
            "too many FileSet options ({} characters, Bareos allows {MAX_OPTIONS_LEN})",
            out.len()
        ));
    }
    Ok(out)
}

/// The option strings of an `Include` block: one per `Options` block, or the defaults alone when
/// there is none (`StoreDefaultOptions` in `core/src/dird/inc_conf.cc`).
pub fn include_options(include: &[Directive]) -> Result<Vec<String>, String> {
    let blocks: Vec<&Vec<Directive>> = include
        .iter()
        .filter(|d| d.name == "Options")
        .filter_map(|d| match &d.value {
            Value::Blocks(b) => Some(b),
            _ => None,
        })
        .flatten()
        .collect();
    if blocks.is_empty() {
        return Ok(vec![options_string(&[])?]);
    }
    blocks.into_iter().map(|b| options_string(b)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters() {
        assert_eq!(option_letters("Signature", "SHA256").as_deref(), Ok("S2"));
        assert_eq!(option_letters("Compression", "gzip9").as_deref(), Ok("Z9"));
        assert_eq!(option_letters("Sparse", "yes").as_deref(), Ok("s"));
        assert_eq!(option_letters("Verify", "pins5s").as_deref(), Ok("Vpins5:"));
        assert_eq!(option_letters("Accurate", "mcs").as_deref(), Ok("Cmcs:"));
        assert_eq!(option_letters("StripPath", "2").as_deref(), Ok("P2:"));
        assert_eq!(option_letters("Size", "<10k").as_deref(), Ok("z<10k:"));
        assert_eq!(option_letters("Size", "1k-2m").as_deref(), Ok("z1k-2m:"));
        assert!(option_letters("Signature", "SHA257")
            .unwrap_err()
            .contains("md5, sha1, sha256"));
        // Options take yes/no only, not the deprecated true/false of other booleans.
        assert!(option_letters("Sparse", "true").is_err());
        assert!(option_letters("Verify", "pinz")
            .unwrap_err()
            .contains("'z'"));
        assert!(option_letters("StripPath", "-1").is_err());
        assert!(option_letters("Size", "big").is_err());
    }
}
