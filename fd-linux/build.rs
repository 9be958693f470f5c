//! Link `barque-fd` with packed relative relocations (`-z pack-relative-relocs`, DT_RELR).
//!
//! A position-independent executable carries one 24-byte `R_X86_64_RELATIVE` entry per
//! pointer in its read-only data (trait-object vtables, string tables): for barque-fd about
//! 15,000 entries, 370 KB of `.rela.dyn` that the dynamic loader reads in full at every start
//! and that then stays resident. DT_RELR encodes the same relocations as bitmaps in a few KB.
//! The running code is unchanged. glibc loads DT_RELR since 2.36; a linker that does not
//! know the option (or a glibc without `GLIBC_ABI_DT_RELR`) leaves the executable as it was,
//! with a warning. Issue #5, data set (b): peak RSS 9.8-9.9 MiB before, 9.3-9.5 MiB after
//! (fd_bench, A/B alternated; the binary's resident file pages drop by about 300 KB).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    // glibc only: the static musl build has no dynamic relocations to pack.
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
