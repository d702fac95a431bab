//! virtio over MMIO on `virt`: the DMA glue `virtio-drivers` needs, the
//! probe of the machine's eight virtio-mmio slots, and the entropy device.
//!
//! On bare metal a physical address is its virtual address. DMA memory (the
//! virtqueues, the network's packet buffers) comes from the `DMA` region of
//! `virt.x`, never from the app's heap: the C3 has no such buffers.

use core::ptr::NonNull;

use virtio_drivers::transport::mmio::{MmioTransport, VirtIOHeader};
use virtio_drivers::transport::{DeviceType, Transport};
use virtio_drivers::{BufferDirection, Hal, PAGE_SIZE, PhysAddr};

/// First virtio-mmio slot; slot `i` is at `SLOTS + i * SLOT_SIZE`.
const SLOTS: usize = 0x1000_1000;
const SLOT_SIZE: usize = 0x1000;
/// Slots on `virt`. QEMU fills them from the last one down, so all are probed.
const SLOT_COUNT: usize = 8;

unsafe extern "C" {
    static _dma_start: u8;
    static _dma_end: u8;
}

/// Bytes of the DMA region handed out so far.
static DMA_USED: critical_section::Mutex<core::cell::Cell<usize>> =
    critical_section::Mutex::new(core::cell::Cell::new(0));

/// `virtio-drivers`' DMA glue: pages from the `DMA` region, never given
/// back (the devices live as long as the boot).
pub struct DmaHal;

/// Zeroed, page-aligned memory from the DMA region, for as long as the boot.
///
/// # Panics
/// When the region is used up (a build error: `virt.x` sizes it).
pub fn dma_pages(pages: usize) -> NonNull<u8> {
    let bytes = pages * PAGE_SIZE;
    let start = core::ptr::addr_of!(_dma_start) as usize;
    let end = core::ptr::addr_of!(_dma_end) as usize;
    let offset = critical_section::with(|cs| {
        let used = DMA_USED.borrow(cs);
        let offset = used.get();
        used.set(offset + bytes);
        offset
    });
    assert!(start + offset + bytes <= end, "DMA region used up: {} bytes more wanted", bytes);
    let ptr = (start + offset) as *mut u8;
    // SAFETY: this range of the DMA region was handed out to nobody else.
    unsafe { core::ptr::write_bytes(ptr, 0, bytes) };
    NonNull::new(ptr).expect("the DMA region is not at address 0")
}

// SAFETY: memory from `dma_pages` is page-aligned, zeroed and handed out
// once; addresses are identity-mapped.
unsafe impl Hal for DmaHal {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        let ptr = dma_pages(pages);
        (ptr.as_ptr() as usize as PhysAddr, ptr)
    }

    unsafe fn dma_dealloc(_paddr: PhysAddr, _vaddr: NonNull<u8>, _pages: usize) -> i32 {
        0
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, _size: usize) -> NonNull<u8> {
        NonNull::new(paddr as usize as *mut u8).expect("MMIO is not at address 0")
    }

    unsafe fn share(buffer: NonNull<[u8]>, _direction: BufferDirection) -> PhysAddr {
        buffer.as_ptr() as *mut u8 as usize as PhysAddr
    }

    unsafe fn unshare(_paddr: PhysAddr, _buffer: NonNull<[u8]>, _direction: BufferDirection) {}
}

/// A virtio device found in a slot, with its PLIC interrupt number.
pub struct Found {
    /// The device's transport.
    pub transport: MmioTransport<'static>,
    /// Its slot (0..8).
    pub slot: usize,
}

impl Found {
    /// The slot's interrupt on the PLIC: slot `i` raises IRQ `1 + i`.
    pub fn irq(&self) -> u32 {
        1 + self.slot as u32
    }

    /// The base address of the slot's registers.
    pub fn base(&self) -> usize {
        SLOTS + self.slot * SLOT_SIZE
    }
}

/// The devices this board uses.
#[derive(Default)]
pub struct Devices {
    /// `-device virtio-net-device`.
    pub net: Option<Found>,
    /// `-device virtio-rng-device`.
    pub rng: Option<Found>,
}

/// Probes every virtio-mmio slot; empty slots and other devices are passed
/// over.
pub fn probe() -> Devices {
    let mut devices = Devices::default();
    for slot in 0..SLOT_COUNT {
        let header = NonNull::new((SLOTS + slot * SLOT_SIZE) as *mut VirtIOHeader).expect("not at address 0");
        // SAFETY: a virtio-mmio slot of the machine, used by nothing else.
        let Ok(transport) = (unsafe { MmioTransport::new(header, SLOT_SIZE) }) else { continue };
        match transport.device_type() {
            DeviceType::Network if devices.net.is_none() => devices.net = Some(Found { transport, slot }),
            DeviceType::EntropySource if devices.rng.is_none() => devices.rng = Some(Found { transport, slot }),
            _ => {}
        }
    }
    devices
}

/// Entropy from the virtio-rng device (the host's `/dev/urandom` through
/// QEMU's default `rng-random` backend): fills `dst`.
///
/// # Errors
/// The device refused the request.
pub fn entropy(found: Found, dst: &mut [u8]) -> Result<(), virtio_drivers::Error> {
    let mut rng = virtio_drivers::device::rng::VirtIORng::<DmaHal, _>::new(found.transport)?;
    let mut filled = 0;
    while filled < dst.len() {
        filled += rng.request_entropy(&mut dst[filled..])?;
    }
    Ok(())
}
