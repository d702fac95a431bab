//! Board `esp32c3`: the cam on an ESP32-C3. Brings up the chip (esp-hal,
//! esp-rtos), the heap, a watchdog, Wi-Fi (esp-radio, station, DHCP), the
//! camera and the SD card (`board.rs`), then hands them to the firmware app
//! (`cam-fw-app`, `../app`). See `../README.md` for building and flashing.
#![no_std]
#![no_main]
#![recursion_limit = "256"]

extern crate alloc;

#[cfg(feature = "arducam")]
mod board;
mod console;

use cam_fw_app::limits::{HEAP_BYTES, SOCKETS};
use cam_fw_app::{Board, Counters, HeapUse};
use embassy_executor::Spawner;
use embassy_net::{Runner, StackResources};
use esp_backtrace as _;
use esp_hal::clock::CpuClock;
use esp_hal::peripherals::TIMG1;
use esp_hal::rng::Rng;
use esp_hal::time::Duration;
use esp_hal::timer::timg::{MwdtStage, TimerGroup, Wdt};
use esp_radio::wifi::sta::StationConfig;
use esp_radio::wifi::{AuthenticationMethodConfig, Config, ControllerConfig, Interface, WifiController};
use static_cell::StaticCell;

esp_bootloader_esp_idf::esp_app_desc!();

/// Wi-Fi network, set at build time: a build without `CAM_SSID` fails here
/// rather than join whatever open network has a default name.
const SSID: &str =
    env!("CAM_SSID", "set CAM_SSID to the Wi-Fi network the cam joins (and CAM_PASSWORD, empty for an open network)");
/// Wi-Fi password, set at build time (`CAM_PASSWORD=…`); empty: an open
/// network.
const PASSWORD: &str = match option_env!("CAM_PASSWORD") {
    Some(s) => s,
    None => "",
};
/// The watchdog's timeout: a hang of the executor longer than this resets
/// the chip (`rst:0x8 (TG1WDT_SYS_RST)` on the console), in s.
const WATCHDOG_S: u64 = 5;
/// How often the watchdog task feeds it, in ms.
const WATCHDOG_FEED_MS: u64 = 1000;

#[esp_rtos::main]
async fn main(spawner: Spawner) -> ! {
    let peripherals = esp_hal::init(esp_hal::Config::default().with_cpu_clock(CpuClock::max()));
    esp_alloc::heap_allocator!(#[esp_hal::ram(reclaimed)] size: 64 * 1024);
    esp_alloc::heap_allocator!(size: HEAP_BYTES - 64 * 1024);
    let timg0 = TimerGroup::new(peripherals.TIMG0);
    esp_rtos::start(timg0.timer0, peripherals.FROM_CPU_INTR0);
    let mut wdt = TimerGroup::new(peripherals.TIMG1).wdt;
    wdt.set_timeout(MwdtStage::Stage0, Duration::from_secs(WATCHDOG_S));
    wdt.enable();
    spawner.spawn(watchdog_task(wdt).expect("task slot"));
    start_cycle_counter();
    cam_fw_app::console::set_output(console::write);
    cam_fw_app::set_board(Board { name: "esp32c3", heap, counters });
    cam_fw_app::console::banner();

    let auth = if PASSWORD.is_empty() {
        AuthenticationMethodConfig::Open
    } else {
        AuthenticationMethodConfig::Wpa2Personal(PASSWORD.try_into().expect("CAM_PASSWORD is at most 64 bytes"))
    };
    let station = StationConfig::default()
        .with_ssid(SSID.try_into().expect("CAM_SSID is at most 32 bytes"))
        .with_authentication(auth);
    let interface = Interface::station();
    let controller = WifiController::new(
        peripherals.WIFI,
        ControllerConfig::default().with_initial_config(Config::Station(station)),
    )
    .expect("Wi-Fi starts");

    // This boot's number, from the hardware RNG, which is a true RNG once
    // the radio runs (esp-hal's `rng` docs): drawn after Wi-Fi starts, and
    // before any frame can raise an event.
    let rng = Rng::new();
    let boot = rng.random();
    cam_fw_app::console::boot(boot);
    cam_fw_app::state::init(boot).await;
    #[cfg(feature = "arducam")]
    {
        let pins = board::Pins {
            spi: peripherals.SPI2,
            i2c: peripherals.I2C0,
            gpio: (
                peripherals.GPIO4,
                peripherals.GPIO5,
                peripherals.GPIO6,
                peripherals.GPIO7,
                peripherals.GPIO10,
                peripherals.GPIO0,
                peripherals.GPIO1,
            ),
        };
        let (camera, card) = board::init(pins);
        if let Some(card) = card {
            cam_fw_app::storage::install(card).await;
        }
        if let Some(camera) = camera {
            spawner.spawn(capture_task(camera).expect("task slot"));
        }
    }

    let seed = u64::from(rng.random()) << 32 | u64::from(rng.random());
    static RESOURCES: StaticCell<StackResources<SOCKETS>> = StaticCell::new();
    let (stack, runner) = embassy_net::new(
        interface,
        embassy_net::Config::dhcpv4(Default::default()),
        RESOURCES.init(StackResources::new()),
        seed,
    );
    spawner.spawn(wifi_task(controller).expect("task slot"));
    spawner.spawn(net_task(runner).expect("task slot"));
    stack.wait_config_up().await;
    console::wifi_connected();
    cam_fw_app::serve(spawner, stack).await;
    loop {
        embassy_time::Timer::after_secs(3600).await;
    }
}

/// The heap's figures (esp-alloc's own statistics).
fn heap() -> HeapUse {
    let stats = esp_alloc::HEAP.stats();
    HeapUse { used: stats.current_usage, peak: stats.max_usage, size: stats.size }
}

/// The C3's machine performance counter (CSR `mpccr`, 0x7E2), counting
/// cycles since [`start_cycle_counter`]. It is 32 bits wide: at 160 MHz it
/// wraps every 26.8 s, far longer than one frame.
fn counters() -> Option<Counters> {
    let cycles: u32;
    // SAFETY: reading a CSR has no side effect.
    unsafe { core::arch::asm!("csrr {0}, 0x7e2", out(reg) cycles) };
    Some(Counters { cycles: u64::from(cycles), instret: None })
}

/// Sets the C3's performance counter to count cycles (`mpcer` = 1) and
/// starts it (`mpcmr` = 1): ESP32-C3 TRM, "Performance Counter".
fn start_cycle_counter() {
    // SAFETY: these CSRs only configure the performance counter.
    unsafe {
        core::arch::asm!("csrw 0x7e0, {0}", in(reg) 1u32);
        core::arch::asm!("csrw 0x7e1, {0}", in(reg) 1u32);
    }
}

/// Feeds the watchdog while the executor runs: a task that never yields
/// stops the feeding, and the chip resets after [`WATCHDOG_S`] s.
#[embassy_executor::task]
async fn watchdog_task(mut wdt: Wdt<TIMG1<'static>>) {
    loop {
        wdt.feed();
        embassy_time::Timer::after_millis(WATCHDOG_FEED_MS).await;
    }
}

/// Keeps the station connected: reconnects after every disconnection.
#[embassy_executor::task]
async fn wifi_task(mut controller: WifiController<'static>) {
    loop {
        match controller.connect_async().await {
            Ok(_) => {
                let _ = controller.wait_for_disconnect_async().await;
                console::wifi_disconnected();
            }
            Err(e) => console::wifi_failed(&e),
        }
        embassy_time::Timer::after_secs(2).await;
    }
}

/// The capture loop: every camera frame to the app, which drops it while
/// HIL frames own the frame source. After three failed captures in a row it
/// waits a second before the next.
#[cfg(feature = "arducam")]
#[embassy_executor::task]
async fn capture_task(mut camera: board::Camera) {
    use cam_core::camera::Camera;
    let mut failures = 0u32;
    loop {
        match camera.capture().await {
            Ok(Some(frame)) => {
                failures = 0;
                // A refused frame is printed by the app; the loop goes on.
                let _ = cam_fw_app::state::camera_frame(frame.jpeg, frame.ts_ms).await;
            }
            Ok(None) => {}
            Err(e) => {
                console::capture_failed(&e);
                failures += 1;
                if failures >= 3 {
                    embassy_time::Timer::after_secs(1).await;
                }
            }
        }
    }
}

#[embassy_executor::task]
async fn net_task(mut runner: Runner<'static, Interface>) {
    runner.run().await
}
