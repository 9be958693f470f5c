//! A polled driver for the SMSC LAN9118 Ethernet controller as QEMU models it on mps2-an386
//! (MMIO at 0x4020_0000), implementing `embassy_net_driver::Driver`.
//!
//! Register use follows the LAN9118 datasheet: frames are sent by writing TX command A
//! (first + last segment, buffer size) and command B (tag, packet length) followed by the
//! data words to the TX data FIFO; frames are received by reading one RX status word (packet
//! length incl. the 4-byte FCS in bits 29:16) and then that many bytes, rounded up to words,
//! from the RX data FIFO. MAC registers go through MAC_CSR_CMD/MAC_CSR_DATA. No interrupt
//! is used: `receive` re-arms its waker at once when no frame is waiting (busy polling,
//! acceptable in QEMU, not for a real low-power device).
#![allow(unsafe_code)]

use core::task::Context;

use embassy_net_driver::{Capabilities, HardwareAddress, LinkState};

const BASE: usize = 0x4020_0000;
const RX_DATA_FIFO: usize = 0x00;
const TX_DATA_FIFO: usize = 0x20;
const RX_STATUS_FIFO: usize = 0x40;
const TX_STATUS_FIFO: usize = 0x48;
const ID_REV: usize = 0x50;
const BYTE_TEST: usize = 0x64;
const TX_CFG: usize = 0x70;
const HW_CFG: usize = 0x74;
const RX_FIFO_INF: usize = 0x7C;
const TX_FIFO_INF: usize = 0x80;
const PMT_CTRL: usize = 0x84;
const MAC_CSR_CMD: usize = 0xA4;
const MAC_CSR_DATA: usize = 0xA8;

const MAC_CR: u32 = 1;
const ADDRH: u32 = 2;
const ADDRL: u32 = 3;

const MTU: usize = 1514;

fn rd(off: usize) -> u32 {
    // SAFETY: BASE..BASE+0x100 is the LAN9118's register block on mps2-an386; 32-bit aligned.
    unsafe { core::ptr::read_volatile((BASE + off) as *const u32) }
}

fn wr(off: usize, v: u32) {
    // SAFETY: as in `rd`.
    unsafe { core::ptr::write_volatile((BASE + off) as *mut u32, v) }
}

fn mac_write(reg: u32, v: u32) {
    wr(MAC_CSR_DATA, v);
    wr(MAC_CSR_CMD, 0x8000_0000 | reg);
    while rd(MAC_CSR_CMD) & 0x8000_0000 != 0 {}
}

/// The controller.
pub struct Lan9118 {
    mac: [u8; 6],
    rx: [u8; MTU + 8],
    tx: [u8; MTU],
}

/// Why the controller could not be brought up.
#[derive(Debug)]
pub enum InitError {
    /// BYTE_TEST did not read 0x87654321 (the value read is kept for the log): no LAN9118
    /// at the address.
    NotPresent(#[allow(dead_code)] u32),
}

impl Lan9118 {
    /// Reset the controller, set the MAC address, enable TX and RX.
    pub fn new(mac: [u8; 6]) -> Result<Self, InitError> {
        let bt = rd(BYTE_TEST);
        if bt != 0x8765_4321 {
            return Err(InitError::NotPresent(bt));
        }
        wr(HW_CFG, 1); // soft reset
        while rd(HW_CFG) & 1 != 0 {}
        while rd(PMT_CTRL) & 1 == 0 {} // READY
        mac_write(ADDRL, u32::from_le_bytes([mac[0], mac[1], mac[2], mac[3]]));
        mac_write(ADDRH, u32::from(mac[4]) | (u32::from(mac[5]) << 8));
        // RXEN | TXEN | PRMS (promiscuous: QEMU's user network answers with our MAC anyway).
        mac_write(MAC_CR, (1 << 2) | (1 << 3) | (1 << 18));
        wr(TX_CFG, 1 << 1); // TX_ON
        let _ = rd(ID_REV);
        Ok(Lan9118 {
            mac,
            rx: [0; MTU + 8],
            tx: [0; MTU],
        })
    }

    fn rx_pending() -> bool {
        (rd(RX_FIFO_INF) >> 16) & 0xFF != 0
    }
}

/// A received frame, read out of the FIFO when the stack consumes it.
pub struct RxToken<'a> {
    buf: &'a mut [u8],
}

impl embassy_net_driver::RxToken for RxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, f: F) -> R {
        let status = rd(RX_STATUS_FIFO);
        let len = ((status >> 16) & 0x3FFF) as usize; // includes the 4-byte FCS
        let words = len.div_ceil(4);
        let mut n = 0;
        for _ in 0..words {
            let w = rd(RX_DATA_FIFO).to_le_bytes();
            for b in w {
                if let Some(d) = self.buf.get_mut(n) {
                    *d = b;
                }
                n += 1;
            }
        }
        let frame = len.saturating_sub(4).min(self.buf.len());
        f(&mut self.buf[..frame])
    }
}

/// Room for one frame to send.
pub struct TxToken<'a> {
    buf: &'a mut [u8],
}

impl embassy_net_driver::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let len = len.min(self.buf.len());
        let r = f(&mut self.buf[..len]);
        // Command A: first + last segment, buffer size; command B: tag 1, packet length.
        wr(TX_DATA_FIFO, (1 << 13) | (1 << 12) | len as u32);
        wr(TX_DATA_FIFO, (1 << 16) | len as u32);
        for chunk in self.buf[..len].chunks(4) {
            let mut w = [0u8; 4];
            w[..chunk.len()].copy_from_slice(chunk);
            wr(TX_DATA_FIFO, u32::from_le_bytes(w));
        }
        // Drain the TX status FIFO so it never fills.
        while (rd(TX_FIFO_INF) >> 16) & 0xFF != 0 {
            let _ = rd(TX_STATUS_FIFO);
        }
        r
    }
}

impl embassy_net_driver::Driver for Lan9118 {
    type RxToken<'a> = RxToken<'a>;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, cx: &mut Context) -> Option<(RxToken<'_>, TxToken<'_>)> {
        if Self::rx_pending() {
            Some((RxToken { buf: &mut self.rx }, TxToken { buf: &mut self.tx }))
        } else {
            cx.waker().wake_by_ref();
            None
        }
    }

    fn transmit(&mut self, _cx: &mut Context) -> Option<TxToken<'_>> {
        Some(TxToken { buf: &mut self.tx })
    }

    fn link_state(&mut self, _cx: &mut Context) -> LinkState {
        LinkState::Up
    }

    fn capabilities(&self) -> Capabilities {
        let mut c = Capabilities::default();
        c.max_transmission_unit = MTU;
        c
    }

    fn hardware_address(&self) -> HardwareAddress {
        HardwareAddress::Ethernet(self.mac)
    }
}
