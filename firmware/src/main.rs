//! The cam on an ESP32-C3: the camhil core (`../core`) behind Wi-Fi
//! (esp-radio, station, DHCP), embassy-net and picoserve, serving
//! `docs/protocol.md`. See `README.md` for building and flashing.
#![no_std]
#![no_main]
#![recursion_limit = "256"]

extern crate alloc;

mod app;
#[cfg(feature = "arducam")]
mod board;
mod console;
mod state;
mod storage;

use embassy_executor::Spawner;
use embassy_net::{Runner, Stack, StackResources};
use esp_backtrace as _;
use esp_hal::clock::CpuClock;
use esp_hal::rng::Rng;
use esp_hal::timer::timg::TimerGroup;
use esp_radio::wifi::sta::StationConfig;
use esp_radio::wifi::{AuthenticationMethodConfig, Config, ControllerConfig, Interface, WifiController};
use static_cell::StaticCell;

esp_bootloader_esp_idf::esp_app_desc!();

/// Wi-Fi network, set at build time (`CAM_SSID=…`).
const SSID: &str = match option_env!("CAM_SSID") {
    Some(s) => s,
    None => "camhil",
};
/// Wi-Fi password, set at build time (`CAM_PASSWORD=…`).
const PASSWORD: &str = match option_env!("CAM_PASSWORD") {
    Some(s) => s,
    None => "",
};
/// HTTP port.
const PORT: u16 = 80;
/// HTTP connections served at once: each holds TCP buffers and, while it is
/// a WebSocket, a 16 KiB message buffer.
const WEB_TASKS: usize = 4;
/// TCP receive and send buffer of each connection, in bytes.
const TCP_BUFFER: usize = 2048;
/// picoserve's request buffer of each connection, in bytes.
const HTTP_BUFFER: usize = 2048;

#[esp_rtos::main]
async fn main(spawner: Spawner) -> ! {
    let peripherals = esp_hal::init(esp_hal::Config::default().with_cpu_clock(CpuClock::max()));
    esp_alloc::heap_allocator!(#[esp_hal::ram(reclaimed)] size: 64 * 1024);
    esp_alloc::heap_allocator!(size: 96 * 1024);
    let timg0 = TimerGroup::new(peripherals.TIMG0);
    esp_rtos::start(timg0.timer0, peripherals.FROM_CPU_INTR0);
    console::banner();
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
    console::boot(boot);
    state::init(boot).await;
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
            *storage::STORAGE.lock().await = storage::BoardStorage::Card(card);
        }
        if let Some(camera) = camera {
            spawner.spawn(capture_task(camera).expect("task slot"));
        }
    }

    let seed = u64::from(rng.random()) << 32 | u64::from(rng.random());
    static RESOURCES: StaticCell<StackResources<{ WEB_TASKS + 1 }>> = StaticCell::new();
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
    for id in 0..WEB_TASKS {
        spawner.spawn(web_task(id, stack).expect("task slot"));
    }
    if let Some(config) = stack.config_v4() {
        console::listening(config.address.address(), PORT);
    }
    loop {
        embassy_time::Timer::after_secs(3600).await;
    }
}

/// Keeps the station connected: reconnects after every disconnection.
#[embassy_executor::task]
async fn wifi_task(mut controller: WifiController<'static>) {
    loop {
        match controller.connect_async().await {
            Ok(_) => {
                let _ = controller.wait_for_disconnect_async().await;
                esp_println::println!("cam-fw: wifi: disconnected");
            }
            Err(e) => esp_println::println!("cam-fw: wifi: connect failed: {e:?}"),
        }
        embassy_time::Timer::after_secs(2).await;
    }
}

/// The capture loop: every frame from the camera through the detector. After
/// three failed captures in a row it waits a second before the next.
#[cfg(feature = "arducam")]
#[embassy_executor::task]
async fn capture_task(mut camera: board::Camera) {
    use cam_core::camera::Camera;
    let mut failures = 0u32;
    loop {
        match camera.capture().await {
            Ok(Some(frame)) => {
                failures = 0;
                // A refused frame is printed by process_frame; the loop goes on.
                let _ = state::process_frame(frame.jpeg, frame.ts_ms).await;
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

#[embassy_executor::task(pool_size = WEB_TASKS)]
async fn web_task(id: usize, stack: Stack<'static>) -> ! {
    static CONFIG: picoserve::Config = picoserve::Config::const_default().keep_connection_alive();
    let app = app::router();
    let (mut rx, mut tx, mut http) = ([0u8; TCP_BUFFER], [0u8; TCP_BUFFER], [0u8; HTTP_BUFFER]);
    picoserve::Server::new(&app, &CONFIG, &mut http)
        .listen_and_serve(id, stack, PORT, &mut rx, &mut tx)
        .await
        .into_never()
}
