//! Restores by barque-sd from the **real Bareos volumes** of the vectors: the records sent to
//! the FD must be byte for byte what bareos-sd sent in the captures (vectors/clear-restore
//! conn 4 msgs 12-27 for volume-full/Cap-0001; vectors/clear-restore-multiblock conn 4 for
//! volume-multiblock/Cap-0001, where 262,144-byte records split across 1 MiB blocks are sent
//! whole).

mod sd_harness;

use fd_core::wire::bnet::Signal;
use sd_harness::*;

/// Run a restore whose Director side is the capture's conn 2 (JobId line, use storage,
/// bootstrap lines `bsr_msgs`) and whose FD side is `fd` (a closure over the FD connection).
async fn restore(
    sd: &Sd,
    name: &str,
    job: &str,
    bsr_msgs: std::ops::RangeInclusive<u32>,
    fd_side: impl FnOnce(
        barque_common::conn::AuthenticatedConnection,
        u32,
    ) -> tokio::task::JoinHandle<()>,
) -> Vec<Vec<u8>> {
    let mut d = connect_dir(sd.port, false).await;
    d.send(&cap_msg(name, 2, 9)).await.unwrap();
    let (id, _, key) = job_reply(&recv_data(&mut d).await);
    d.send(b"getSecureEraseCmd\n").await.unwrap();
    recv_data(&mut d).await;
    d.send(&cap_msg(name, 2, 13)).await.unwrap();
    d.send(&cap_msg(name, 2, 14)).await.unwrap();
    d.signal(Signal::Eod).await.unwrap();
    d.signal(Signal::Eod).await.unwrap();
    assert_eq!(
        recv_data(&mut d).await,
        b"3000 OK use device device=FileStorage\n"
    );
    d.send(b"bootstrap\n").await.unwrap();
    for i in bsr_msgs {
        d.send(&cap_msg(name, 2, i)).await.unwrap();
    }
    d.signal(Signal::Eod).await.unwrap();
    assert_eq!(recv_data(&mut d).await, b"3000 OK bootstrap\n");
    d.send(b"run").await.unwrap();
    let fd = connect_fd(sd.port, job, &key, false).await.unwrap();
    let t = fd_side(fd, id);
    let mut cat = Catalog::new("Cap-0001");
    cat.status = "Used".into();
    cat.jobs = 1;
    cat.mounts = 1;
    let seen = finish_job(&mut d, &mut cat).await;
    t.await.unwrap();
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_restore_real_volume_full_byte_identical() {
    let sd = start_sd(false).await;
    std::fs::copy(
        vectors().join("volume-full/Cap-0001"),
        sd.archive.join("Cap-0001"),
    )
    .unwrap();
    // The capture's bootstrap entry for Cap-0001: conn 2 msgs 19-28.
    let seen = restore(
        &sd,
        "clear-restore",
        "CapRestore.2026-11-22_15.47.31_05",
        19..=28,
        |mut fd, id| {
            tokio::spawn(async move {
                fd.send(b"read open session = DummyVolume 2 1795362432 0 0 0 0\n")
                    .await
                    .unwrap();
                assert_eq!(
                    recv_data(&mut fd).await,
                    format!("3000 OK open ticket = {id}\n").into_bytes()
                );
                fd.send(b"read data 2\n").await.unwrap();
                assert_eq!(recv_data(&mut fd).await, b"3000 OK data\n");
                // conn 4 msgs 12-27: rechdr lines with the real session and the records.
                for m in capture("clear-restore", 4)
                    .into_iter()
                    .filter(|m| (12..=27).contains(&m.i))
                {
                    assert_eq!(
                        recv_data(&mut fd).await,
                        m.data,
                        "clear-restore conn 4 msg {}",
                        m.i
                    );
                }
                assert_eq!(recv(&mut fd).await, Got::Signal(Signal::Eod));
                fd.send(b"read close session 2\n").await.unwrap();
                assert_eq!(recv_data(&mut fd).await, b"3000 OK close Status = 82\n");
                fd.signal(Signal::Terminate).await.unwrap();
            })
        },
    )
    .await;
    // The SD -> Director messages for one volume: capture conn 2 msgs 41-49 and 55-59.
    let got: Vec<String> = seen.iter().map(|m| shape(m)).collect();
    let want: Vec<String> = sd_to_dir_shapes("clear-restore")
        .into_iter()
        .skip(4)
        .enumerate()
        .filter(|(k, _)| !(8..=11).contains(k))
        .map(|(_, s)| s)
        .collect();
    assert_eq!(got, want);
    let fwd = seen
        .iter()
        .find(|m| show(m).contains("Forward spacing"))
        .unwrap();
    assert!(show(fwd).ends_with("Forward spacing Volume \"Cap-0001\" to file:block 0:203.\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_restore_real_multiblock_volume_whole_records() {
    let src = vectors().join("volume-multiblock/Cap-0001");
    if !src.exists() {
        return; // round-2 vectors absent
    }
    let sd = start_sd(false).await;
    std::fs::copy(&src, sd.archive.join("Cap-0001")).unwrap();
    let seen = restore(
        &sd,
        "clear-restore-multiblock",
        "CapRestore.2026-11-22_16.44.38_07",
        19..=27,
        |fd, id| tokio::spawn(replay_fd("clear-restore-multiblock", 4, fd, id)),
    )
    .await;
    let got: Vec<String> = seen.iter().map(|m| shape(m)).collect();
    let want: Vec<String> = sd_to_dir_shapes("clear-restore-multiblock")
        .into_iter()
        .skip(4)
        .collect();
    assert_eq!(got, want);
}
