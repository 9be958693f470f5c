//! Automatic pruning at the end of a backup (`DoAutoprune()`, `core/src/dird/autoprune.cc`):
//! with the Client's `AutoPrune = yes` its File Retention and Job Retention are applied to
//! its catalog records. Volumes are pruned when a pool needs one
//! ([`crate::catalog::Catalog::next_volume_for_append`]).

use barque_common::config::Config;

use super::JobCtx;

/// A Client's retention settings (Bareos' defaults: 60 days of files, 180 days of jobs,
/// AutoPrune off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientRetention {
    /// `AutoPrune`.
    pub auto_prune: bool,
    /// `File Retention`, seconds.
    pub file: i64,
    /// `Job Retention`, seconds.
    pub job: i64,
}

/// The retention settings of the Client resource `name` (defaults when it is missing).
pub fn client_retention(cfg: &Config, name: &str) -> ClientRetention {
    let r = cfg.resource("Client", name);
    let secs = |k: &str, d: i64| {
        r.and_then(|r| r.get_or_default(k))
            .and_then(|v| v.as_duration())
            .map(|s| i64::try_from(s.0).unwrap_or(i64::MAX))
            .unwrap_or(d)
    };
    ClientRetention {
        auto_prune: r
            .and_then(|r| r.get_or_default("AutoPrune"))
            .and_then(|v| v.as_bool())
            .unwrap_or(false),
        file: secs("FileRetention", 60 * 86_400),
        job: secs("JobRetention", 180 * 86_400),
    }
}

/// Prune the client's files and jobs after a backup when its AutoPrune is on; report
/// what was pruned in the job's messages (`ua_prune.cc` wording).
pub async fn autoprune(ctx: &JobCtx, cfg: &Config, client: &str, client_id: i64) {
    let ret = client_retention(cfg, client);
    if !ret.auto_prune || client_id == 0 {
        return;
    }
    let now = ctx.now();
    let r = ctx
        .cat(move |c| {
            let files = c.prune_files(client_id, ret.file, now)?;
            let jobs = c.prune_jobs(client_id, ret.job, now)?;
            Ok((files, jobs))
        })
        .await;
    match r {
        Ok((files, jobs)) => {
            if files > 0 {
                ctx.msg(&format!(
                    "Pruned Files from {files} Jobs for client {client} from catalog."
                ))
                .await;
            }
            if jobs > 0 {
                ctx.msg(&format!(
                    "Pruned {jobs} {} for client {client} from catalog.",
                    if jobs == 1 { "Job" } else { "Jobs" }
                ))
                .await;
            }
        }
        Err(e) => {
            ctx.msg_typed(
                fd_core::wire::codes::MessageType::Warning,
                &format!("Auto pruning for client {client} failed: {e}"),
            )
            .await
        }
    }
}
