//! `barque-bls`: list or extract a Bareos disk volume (see `storage::bls`, `storage::extract`).
//!
//! ```text
//! barque-bls [-L | -j | -k] [-v…] [-b BSR] [-V VOLUME] [--device-name NAME] ARCHIVE
//! barque-bls --extract -w DIR [-b BSR] [-V VOLUME] ARCHIVE
//! ```
//!
//! `ARCHIVE` is the device's archive directory (the volume is `ARCHIVE/VOLUME`, as bls finds it
//! through the SD config) or the volume file itself. Exit status: 0 if everything was read and
//! restored cleanly, 1 if errors were reported, 2 for a usage error.

use std::fs::File;
use std::io::{self, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use storage::bls::{self, FileNames, Mode, Options};
use storage::extract;

const USAGE: &str = "usage: barque-bls [-L|-j|-k] [-v...] [-b bsr] [-V volume] \
[--device-name name] <archive-dir|volume-file>\n       barque-bls --extract -w <dir> [-b bsr] \
[-V volume] <archive-dir|volume-file>";

struct Args {
    mode: Mode,
    verbose: u8,
    bsr: Option<PathBuf>,
    volume: Option<String>,
    device_name: Option<String>,
    extract_to: Option<PathBuf>,
    extract: bool,
    path: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut mode = Mode::Files;
    let mut verbose = 0u8;
    let mut bsr = None;
    let mut volume = None;
    let mut device_name = None;
    let mut extract_to = None;
    let mut extract = false;
    let mut path = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match a.as_str() {
            "-L" => mode = Mode::Label,
            "-j" => mode = Mode::Jobs,
            "-k" => mode = Mode::Blocks,
            "-v" => verbose = verbose.saturating_add(1),
            "-vv" => verbose = verbose.saturating_add(2),
            "-b" => bsr = Some(PathBuf::from(value("-b")?)),
            "-V" => volume = Some(value("-V")?),
            "--device-name" => device_name = Some(value("--device-name")?),
            "-w" => extract_to = Some(PathBuf::from(value("-w")?)),
            "--extract" => extract = true,
            "-h" | "--help" => return Err(String::new()),
            s if s.starts_with('-') => return Err(format!("unknown option {s}")),
            _ => {
                if path.replace(PathBuf::from(&a)).is_some() {
                    return Err("more than one archive given".into());
                }
            }
        }
    }
    let path = path.ok_or("missing archive directory or volume file")?;
    if extract && extract_to.is_none() {
        return Err("--extract needs -w <dir>".into());
    }
    Ok(Args {
        mode,
        verbose,
        bsr,
        volume,
        device_name,
        extract_to,
        extract,
        path,
    })
}

/// Resolve (volume file, archive directory, volume name).
fn locate(a: &Args) -> Result<(PathBuf, String, String), String> {
    if a.path.is_dir() {
        let vol = a
            .volume
            .clone()
            .ok_or("-V <volume> is needed with an archive directory")?;
        if vol.contains('/') || vol.split('|').any(str::is_empty) {
            return Err("-V takes a volume name, or several as \"Vol1|Vol2\", without '/'".into());
        }
        let first = vol.split('|').next().unwrap_or_default();
        Ok((
            a.path.join(first),
            a.path.display().to_string(),
            vol.clone(),
        ))
    } else {
        let dir = a
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .display()
            .to_string();
        let vol = match &a.volume {
            Some(v) => v.clone(),
            None => a
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        Ok((a.path.clone(), dir, vol))
    }
}

fn run(a: &Args) -> Result<bool, String> {
    let (file, archive, volume) = locate(a)?;
    let bsr_text = match &a.bsr {
        Some(p) => Some(std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?),
        None => None,
    };
    let open = || File::open(&file).map(BufReader::new);
    if let Err(e) = File::open(&file) {
        return Err(format!("{}: {e}", file.display()));
    }
    let stdout = io::stdout();
    let mut out = stdout.lock();
    if a.extract {
        let dir = a.extract_to.as_deref().ok_or("missing -w")?;
        let listing: Option<Box<dyn Write>> = if a.verbose > 0 {
            Some(Box::new(io::stdout()))
        } else {
            None
        };
        let srcs = if volume.contains('|') {
            let parent = file.parent().map(Path::to_path_buf).unwrap_or_default();
            volume
                .split('|')
                .map(|n| {
                    File::open(parent.join(n))
                        .map(BufReader::new)
                        .map_err(|e| format!("{}: {e}", parent.join(n).display()))
                })
                .collect::<Result<Vec<_>, _>>()?
        } else {
            vec![open().map_err(|e| e.to_string())?]
        };
        let r = extract::extract_volumes(srcs, dir, bsr_text.as_deref(), listing)
            .map_err(|e| e.to_string())?;
        for w in &r.warnings {
            let _ = writeln!(out, "warning: {w}");
        }
        for e in &r.errors {
            let _ = writeln!(out, "error: {e}");
        }
        let _ = writeln!(
            out,
            "{} files restored, {} bytes, {} digests verified.",
            r.restored, r.bytes, r.verified
        );
        return Ok(r.errors.is_empty());
    }
    let names = FileNames::system();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let device_name = a.device_name.clone().unwrap_or_else(|| archive.clone());
    let opts = Options {
        mode: a.mode,
        verbose: a.verbose,
        device_name: &device_name,
        archive: &archive,
        volume_name: &volume,
        program: "barque-bls",
        now,
        names: &names,
        bsr: bsr_text.as_deref(),
    };
    // One volume: the file named on the command line; several: each in its directory.
    let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let several = volume.contains('|');
    let open_volume = |name: &str| {
        let path = if several {
            dir.join(name)
        } else {
            file.clone()
        };
        File::open(path).map(BufReader::new)
    };
    let outcome = bls::list_volumes(open_volume, &opts, &mut out).map_err(|e| e.to_string())?;
    Ok(outcome.errors.is_empty())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("barque-bls: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("barque-bls: {e}");
            ExitCode::from(1)
        }
    }
}
