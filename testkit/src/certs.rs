//! Test certificates made with the `openssl` command: a self-signed CA and certificates it
//! issues, in a directory the caller owns.

use std::path::Path;
use std::process::Command;

/// Run `openssl ARGS` in `dir`; panics with openssl's message if it fails.
pub fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl CLI must be installed (apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A self-signed CA valid for two days: `«stem».pem` and `«stem».key` (RSA 2048, no
/// passphrase) in `dir`, subject `/CN=«cn»`.
pub fn self_signed_ca(dir: &Path, stem: &str, cn: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &format!("{stem}.key"),
            "-out",
            &format!("{stem}.pem"),
            "-days",
            "2",
            "-subj",
            &format!("/CN={cn}"),
        ],
    );
}

/// A key and a certificate request: `«name».key`, `«name».csr` in `dir`, subject `/CN=«cn»`.
pub fn request(dir: &Path, name: &str, cn: &str) {
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            &format!("/CN={cn}"),
        ],
    );
}

/// `«name».pem` and `«name».key` in `dir`: a certificate for `/CN=«cn»` issued by the CA
/// `«ca».pem`/`«ca».key` there, valid for two days, with the X.509v3 extension lines `ext`
/// (`subjectAltName = …`, `extendedKeyUsage = …`).
pub fn issue(dir: &Path, ca: &str, name: &str, cn: &str, ext: &str) {
    request(dir, name, cn);
    let ext_file = format!("{name}.ext");
    std::fs::write(dir.join(&ext_file), ext).expect("write the extension file");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-out",
            &format!("{name}.pem"),
            "-days",
            "2",
            "-extfile",
            &ext_file,
        ],
    );
}
