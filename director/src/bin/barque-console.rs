//! `barque-console [-c PATH] [-D director] [-t]`: a console like bconsole.
//!
//! Interactive with line editing and history (`~/.barque_console_history`) when stdin is a
//! terminal; otherwise it reads one
//! command per line from stdin, echoes it, prints the reply and exits at the end of input
//! (`echo "status dir" | barque-console -c bconsole.conf`). `quit` and `exit` end the
//! session locally, as in bconsole.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use barque_common::config::{self, Daemon};
use barque_common::conn::ConnOptions;
use director::cli::{init_logging, take_value};
use director::client::{load_target, Console};

fn usage() -> &'static str {
    "usage: barque-console [-c PATH] [-D director] [-t] [-d N]\n\
     \x20 -c PATH  bconsole.conf (default /etc/bareos/bconsole.conf)\n\
     \x20 -D NAME  the Director resource to use\n\
     \x20 -t       test the configuration and exit\n"
}

fn main() -> ExitCode {
    let mut path = PathBuf::from("/etc/bareos/bconsole.conf");
    let mut director = None;
    let mut test = false;
    let mut debug = 0u32;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let r = if a.starts_with("-c") {
            take_value("-c", &a, &mut it).map(|v| path = PathBuf::from(v))
        } else if a.starts_with("-D") {
            take_value("-D", &a, &mut it).map(|v| director = Some(v))
        } else if a.starts_with("-d") {
            take_value("-d", &a, &mut it).and_then(|v| {
                v.parse()
                    .map(|n| debug = n)
                    .map_err(|_| format!("-d needs a number, got {v:?}"))
            })
        } else if a == "-t" {
            test = true;
            Ok(())
        } else if a == "-?" || a == "-h" || a == "--help" {
            print!("{}", usage());
            return ExitCode::SUCCESS;
        } else {
            Err(format!("unknown option {a:?}"))
        };
        if let Err(e) = r {
            eprint!("barque-console: {e}\n{}", usage());
            return ExitCode::from(2);
        }
    }
    init_logging("barque-console", debug, true);
    if test {
        let report = config::check(&path, Daemon::Console);
        println!("{report}");
        if !report.is_ok() {
            return ExitCode::FAILURE;
        }
        return match load_target(&path, director.as_deref()) {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("barque-console: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let target = match load_target(&path, director.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("barque-console: {e}");
            return ExitCode::FAILURE;
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("barque-console: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout();
    let _ = writeln!(
        out,
        "Connecting to Director {}:{}",
        target.director.address, target.director.port
    );
    let console = match rt.block_on(Console::connect(&target, &ConnOptions::default())) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("barque-console: {e}");
            return ExitCode::FAILURE;
        }
    };
    let _ = writeln!(out, "{}", console.encryption);
    let _ = writeln!(out, "1000 {}", console.banner);
    if !console.info.is_empty() {
        let _ = writeln!(out, "{}", console.info);
    }
    let _ = writeln!(out, "\nEnter a period (.) to cancel a command.");
    let _ = out.flush();
    let interactive = std::io::stdin().is_terminal();
    if interactive {
        interactive_loop(&rt, console, &target)
    } else {
        stdin_loop(&rt, console)
    }
}

/// Send one line and print the reply. `Some(prompt)` when the Director asked a question
/// (`BNET_SUB_PROMPT`): the reply's last line is the prompt, not yet printed, and the next
/// line typed is the answer (so `quit` and `exit` go to the Director then).
fn run_one(
    rt: &tokio::runtime::Runtime,
    console: &mut Console,
    line: &str,
) -> Result<Option<String>, String> {
    let reply = rt.block_on(console.command(line))?;
    print_reply(&reply)
}

/// `wait` on a terminal: the reply is awaited while a second connection polls the job's
/// progress once a second and redraws one line on stderr ([`director::progress`]).
fn run_wait_with_progress(
    rt: &tokio::runtime::Runtime,
    console: &mut Console,
    target: &director::client::Target,
    line: &str,
) -> Result<Option<String>, String> {
    use director::progress::{job_client, parse_fd_running, render, running_job_ids};
    let wanted: Option<u32> = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("jobid="))
        .and_then(|v| v.parse().ok());
    let reply = rt.block_on(async {
        let mut second = Console::connect(target, &ConnOptions::default()).await.ok();
        let cmd = console.command(line);
        tokio::pin!(cmd);
        let mut tick = 0usize;
        let mut client: Option<(u32, String)> = None;
        let mut drawn = false;
        loop {
            tokio::select! {
                r = &mut cmd => {
                    if drawn {
                        eprint!("\r\x1b[K");
                    }
                    return r;
                }
                _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            }
            let Some(c2) = second.as_mut() else { continue };
            let id = match wanted {
                Some(id) => Some(id),
                None => match c2.command("status dir").await {
                    Ok(r) => running_job_ids(&r.text()).first().copied(),
                    Err(_) => None,
                },
            };
            let Some(id) = id else { continue };
            if client.as_ref().is_none_or(|(j, _)| *j != id) {
                client = match c2.command(&format!("list jobid={id}")).await {
                    Ok(r) => job_client(&r.text()).map(|c| (id, c)),
                    Err(_) => None,
                };
            }
            let progress = match &client {
                Some((_, c)) => match c2.command(&format!("status client={c}")).await {
                    Ok(r) => parse_fd_running(&r.text(), id),
                    Err(_) => None,
                },
                None => None,
            };
            tick += 1;
            eprint!("\r\x1b[K{}", render(id, progress.as_ref(), tick));
            drawn = true;
        }
    })?;
    print_reply(&reply)
}

fn print_reply(reply: &director::client::Response) -> Result<Option<String>, String> {
    let text = reply.text();
    let asked = reply.signals().last() == Some(&fd_core::wire::bnet::Signal::SubPrompt);
    let (body, prompt) = if asked {
        match text.rfind('\n') {
            Some(i) => (
                text.get(..=i).unwrap_or(""),
                text.get(i + 1..).unwrap_or(""),
            ),
            None => ("", text.as_str()),
        }
    } else {
        (text.as_str(), "")
    };
    let mut out = std::io::stdout();
    out.write_all(body.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| format!("cannot write the reply: {e}"))?;
    Ok(asked.then(|| prompt.to_string()))
}

fn is_quit(line: &str) -> bool {
    matches!(line.trim(), "quit" | "exit")
}

fn stdin_loop(rt: &tokio::runtime::Runtime, mut console: Console) -> ExitCode {
    let stdin = std::io::stdin();
    let mut asked: Option<String> = None;
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let line = line.trim_end_matches('\r').to_string();
        let mut out = std::io::stdout();
        if writeln!(out, "{}{line}", asked.as_deref().unwrap_or("")).is_err() {
            break;
        }
        if asked.is_none() && is_quit(&line) {
            break;
        }
        match run_one(rt, &mut console, &line) {
            Ok(a) => asked = a,
            Err(e) => {
                eprintln!("barque-console: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if let Some(p) = asked {
        // The input ended during a question: show it as bconsole would.
        let _ = writeln!(std::io::stdout(), "{p}");
    }
    rt.block_on(console.close());
    ExitCode::SUCCESS
}

fn is_wait(line: &str) -> bool {
    line.split_whitespace()
        .next()
        .is_some_and(|w| w.eq_ignore_ascii_case("wait"))
}

fn interactive_loop(
    rt: &tokio::runtime::Runtime,
    mut console: Console,
    target: &director::client::Target,
) -> ExitCode {
    let mut rl = match rustyline::DefaultEditor::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("barque-console: no line editor ({e}); reading stdin plainly");
            return stdin_loop(rt, console);
        }
    };
    // bconsole keeps its history in ~/.bconsole_history; ours is ~/.barque_console_history.
    let history =
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".barque_console_history"));
    if let Some(h) = &history {
        let _ = rl.load_history(h);
    }
    let mut asked: Option<String> = None;
    loop {
        match rl.readline(asked.as_deref().unwrap_or("*")) {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = rl.add_history_entry(line.as_str());
                }
                if asked.is_none() && is_quit(&line) {
                    break;
                }
                let r = if asked.is_none() && is_wait(&line) && std::io::stderr().is_terminal() {
                    run_wait_with_progress(rt, &mut console, target, &line)
                } else {
                    run_one(rt, &mut console, &line)
                };
                match r {
                    Ok(a) => asked = a,
                    Err(e) => {
                        eprintln!("barque-console: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            }
            Err(rustyline::error::ReadlineError::Interrupted) => continue,
            Err(_) => break,
        }
    }
    if let Some(h) = &history {
        if let Err(e) = rl.save_history(h) {
            eprintln!(
                "barque-console: cannot save the history to {}: {e}",
                h.display()
            );
        }
    }
    rt.block_on(console.close());
    ExitCode::SUCCESS
}
