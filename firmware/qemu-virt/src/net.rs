//! virtio-net as an embassy-net driver: the board's network, where the C3
//! has Wi-Fi. Packets are received into buffers in the DMA region, copied
//! out one at a time for the stack, and sent synchronously; the device's
//! interrupt (through the PLIC) wakes the stack.

use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use core::task::Context;

use embassy_net_driver::{Capabilities, HardwareAddress, LinkState};
use embassy_sync::waitqueue::AtomicWaker;
use virtio_drivers::device::net::VirtIONetRaw;
use virtio_drivers::transport::mmio::MmioTransport;

use crate::virtio::{DmaHal, Found, dma_pages};

/// Receive buffers posted to the device.
const QUEUE: usize = 16;
/// An Ethernet frame without FCS, in bytes.
const MTU: usize = 1514;
/// A receive buffer: the virtio-net header (12 bytes) and a frame.
const RX_BUF: usize = 1536;
/// virtio-mmio `InterruptStatus` and `InterruptACK` offsets.
const INTERRUPT_STATUS: usize = 0x60;
const INTERRUPT_ACK: usize = 0x64;

/// The device's PLIC interrupt (0: none yet) and its register base.
static IRQ: AtomicU32 = AtomicU32::new(0);
static BASE: AtomicUsize = AtomicUsize::new(0);
/// The stack's waker, woken by the device's interrupt.
static WAKER: AtomicWaker = AtomicWaker::new();

/// The network device.
pub struct VirtioNet {
    raw: VirtIONetRaw<DmaHal, MmioTransport<'static>, QUEUE>,
    /// Receive buffers, in the DMA region.
    rx: &'static mut [[u8; RX_BUF]; QUEUE],
    /// Which buffer the device filled for each token.
    buffer_of_token: [usize; QUEUE],
    /// The frame handed to the stack.
    frame: [u8; MTU],
    /// The frame the stack builds to send.
    tx: [u8; MTU],
}

/// The device could not be set up.
#[derive(Debug)]
pub struct NetError(pub virtio_drivers::Error);

impl core::fmt::Display for NetError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "virtio-net: {}", self.0)
    }
}

impl VirtioNet {
    /// Sets up the device in `found`, posts its receive buffers and routes
    /// its interrupt.
    ///
    /// # Errors
    /// The device refused a step of its set-up.
    pub fn new(found: Found) -> Result<Self, NetError> {
        let (irq, base) = (found.irq(), found.base());
        let raw = VirtIONetRaw::new(found.transport).map_err(NetError)?;
        let pages = (QUEUE * RX_BUF).div_ceil(virtio_drivers::PAGE_SIZE);
        // SAFETY: fresh, zeroed pages of the DMA region, large enough, and
        // aligned for bytes.
        let rx = unsafe { &mut *dma_pages(pages).as_ptr().cast::<[[u8; RX_BUF]; QUEUE]>() };
        let mut net = Self { raw, rx, buffer_of_token: [0; QUEUE], frame: [0; MTU], tx: [0; MTU] };
        for i in 0..QUEUE {
            net.post(i)?;
        }
        BASE.store(base, Ordering::Relaxed);
        IRQ.store(irq, Ordering::Relaxed);
        crate::plic::enable(irq);
        Ok(net)
    }

    /// Gives receive buffer `i` to the device.
    fn post(&mut self, i: usize) -> Result<(), NetError> {
        // SAFETY: buffer `i` is not touched again until the device hands it
        // back through `receive_complete`.
        let token = unsafe { self.raw.receive_begin(&mut self.rx[i]) }.map_err(NetError)?;
        self.buffer_of_token[usize::from(token)] = i;
        Ok(())
    }

    /// The device's MAC address.
    pub fn mac(&self) -> [u8; 6] {
        self.raw.mac_address()
    }
}

/// The device's interrupt, from the PLIC handler: acknowledged at the
/// device, then the stack is woken.
pub fn interrupt(irq: u32) {
    if irq != IRQ.load(Ordering::Relaxed) {
        return;
    }
    let base = BASE.load(Ordering::Relaxed);
    // SAFETY: the device's own virtio-mmio registers.
    unsafe {
        let status = core::ptr::read_volatile((base + INTERRUPT_STATUS) as *const u32);
        core::ptr::write_volatile((base + INTERRUPT_ACK) as *mut u32, status);
    }
    WAKER.wake();
}

impl embassy_net_driver::Driver for VirtioNet {
    type RxToken<'a> = RxToken<'a>;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, cx: &mut Context) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        WAKER.register(cx.waker());
        let token = self.raw.poll_receive()?;
        let i = self.buffer_of_token[usize::from(token)];
        // SAFETY: the device handed back `token`, which was buffer `i`.
        let done = unsafe { self.raw.receive_complete(token, &mut self.rx[i]) };
        let len = match done {
            Ok((header, len)) if len <= MTU => {
                self.frame[..len].copy_from_slice(&self.rx[i][header..header + len]);
                Some(len)
            }
            _ => None,
        };
        // A buffer the stack could not use goes straight back; so does every other.
        if self.post(i).is_err() {
            crate::console::net_error("could not repost a receive buffer");
        }
        let len = len?;
        Some((RxToken { frame: &mut self.frame[..len] }, TxToken { raw: &mut self.raw, buffer: &mut self.tx }))
    }

    fn transmit(&mut self, cx: &mut Context) -> Option<Self::TxToken<'_>> {
        WAKER.register(cx.waker());
        Some(TxToken { raw: &mut self.raw, buffer: &mut self.tx })
    }

    fn link_state(&mut self, _cx: &mut Context) -> LinkState {
        LinkState::Up
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::default();
        caps.max_transmission_unit = MTU;
        caps
    }

    fn hardware_address(&self) -> HardwareAddress {
        HardwareAddress::Ethernet(self.mac())
    }
}

/// A received frame.
pub struct RxToken<'a> {
    frame: &'a mut [u8],
}

impl embassy_net_driver::RxToken for RxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, f: F) -> R {
        f(self.frame)
    }
}

/// Room to send one frame.
pub struct TxToken<'a> {
    raw: &'a mut VirtIONetRaw<DmaHal, MmioTransport<'static>, QUEUE>,
    buffer: &'a mut [u8; MTU],
}

impl embassy_net_driver::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let len = len.min(MTU);
        let r = f(&mut self.buffer[..len]);
        // Waits until the device has taken the frame (QEMU takes it at once).
        if self.raw.send(&self.buffer[..len]).is_err() {
            crate::console::net_error("a frame could not be sent");
        }
        r
    }
}
