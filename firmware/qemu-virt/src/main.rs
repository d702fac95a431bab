//! Board `qemu-virt`: the cam on QEMU's `virt` machine
//! (`qemu-system-riscv32 -machine virt -cpu rv32,a=off,…`), so CI runs the
//! firmware's own code without a board. It brings up what the C3 board
//! brings up, with the machine's devices instead of the chip's:
//!
//! | C3 (`../esp32c3`) | here |
//! |---|---|
//! | USB serial console | NS16550A UART ([`uart`]) |
//! | esp-rtos time driver | machine timer ([`time`]) |
//! | Wi-Fi (esp-radio), DHCP | virtio-net ([`net`]), DHCP from QEMU's user network |
//! | hardware RNG | virtio-rng ([`virtio::entropy`]) |
//! | 160 KiB heap (esp-alloc) | the same |
//! | ArduCAM | none: frames only from `POST /hil/frame` |
//! | SD card | a RAM disk ([`ramdisk`]) |
//!
//! and hands them to the same app (`cam-fw-app`, `../app`). Run it with
//! `cam-hil qemu ELF`; the harness's `qemu:ELF` target boots it per
//! scenario.
#![no_std]
#![no_main]
#![recursion_limit = "256"]

extern crate alloc;

mod console;
mod halt;
mod net;
mod plic;
mod ramdisk;
mod time;
mod uart;
mod virtio;

use cam_fw_app::limits::{HEAP_BYTES, SOCKETS};
use cam_fw_app::{Board, Counters, HeapUse};
use embassy_executor::Spawner;
use embassy_net::{Runner, StackResources};
use static_cell::StaticCell;

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    esp_alloc::heap_allocator!(size: HEAP_BYTES);
    cam_fw_app::console::set_output(uart::write);
    cam_fw_app::set_board(Board { name: "qemu-virt", heap, counters });
    cam_fw_app::console::banner();
    time::init();
    let devices = virtio::probe();

    // This boot's number and the network stack's seed, from virtio-rng.
    let Some(rng) = devices.rng else {
        console::missing("rng", &"no virtio-rng device (-device virtio-rng-device)");
        halt::exit(3)
    };
    let mut entropy = [0u8; 12];
    if let Err(e) = virtio::entropy(rng, &mut entropy) {
        console::missing("rng", &e);
        halt::exit(3)
    }
    let boot = u32::from_le_bytes([entropy[0], entropy[1], entropy[2], entropy[3]]);
    let seed = u64::from_le_bytes([
        entropy[4],
        entropy[5],
        entropy[6],
        entropy[7],
        entropy[8],
        entropy[9],
        entropy[10],
        entropy[11],
    ]);
    cam_fw_app::console::boot(boot);
    cam_fw_app::state::init(boot).await;
    cam_fw_app::storage::install(ramdisk::RamDisk::new()).await;

    let Some(found) = devices.net else {
        console::missing("net", &"no virtio-net device (-device virtio-net-device)");
        halt::exit(3)
    };
    let device = match net::VirtioNet::new(found) {
        Ok(d) => d,
        Err(e) => {
            console::missing("net", &e);
            halt::exit(3)
        }
    };
    let mac = device.mac();
    // SAFETY: every interrupt source is set up: the timer and the network.
    unsafe { riscv::interrupt::enable() };
    static RESOURCES: StaticCell<StackResources<SOCKETS>> = StaticCell::new();
    let (stack, runner) = embassy_net::new(
        device,
        embassy_net::Config::dhcpv4(Default::default()),
        RESOURCES.init(StackResources::new()),
        seed,
    );
    spawner.spawn(net_task(runner).expect("task slot"));
    stack.wait_config_up().await;
    console::net_up(mac);
    cam_fw_app::serve(spawner, stack).await;
}

/// The heap's figures (esp-alloc's own statistics).
fn heap() -> HeapUse {
    let stats = esp_alloc::HEAP.stats();
    HeapUse { used: stats.current_usage, peak: stats.max_usage, size: stats.size }
}

/// `mcycle` and `minstret`: exact instruction counts when QEMU runs with
/// `-icount shift=0`, host clock ticks otherwise.
fn counters() -> Option<Counters> {
    Some(Counters { cycles: riscv::register::mcycle::read64(), instret: Some(riscv::register::minstret::read64()) })
}

#[embassy_executor::task]
async fn net_task(mut runner: Runner<'static, net::VirtioNet>) {
    runner.run().await
}
