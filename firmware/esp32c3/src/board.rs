//! The camera module and the SD card (feature `arducam`): an ArduCAM Mini
//! 2MP and an SD card share the C3's SPI2; the OV2640 is on I2C0. The
//! drivers are `camhil-drivers` (tested on the host against emulated chips);
//! this module only wires pins and clocks.
//!
//! | signal | pin |
//! |---|---|
//! | SPI SCK / MISO / MOSI | GPIO4 / GPIO5 / GPIO6 |
//! | camera CS / SD card CS | GPIO7 / GPIO10 |
//! | I2C SDA / SCL (OV2640 SCCB) | GPIO0 / GPIO1 |

use core::sync::atomic::{AtomicBool, Ordering};

use cam_drivers::arducam::{self, ArduCam};
use cam_drivers::capture::{CaptureLoop, Clock, Pacing};
use cam_drivers::sdcard::{Recovery, SdStorage, UnixClock};
use embedded_hal::spi::{ErrorType, SpiBus};
use embedded_hal_bus::spi::AtomicDevice;
use embedded_hal_bus::util::AtomicCell;
use embedded_sdmmc::SdCard;
use esp_hal::Blocking;
use esp_hal::delay::Delay;
use esp_hal::gpio::{Level, Output, OutputConfig};
use esp_hal::i2c::master::I2c;
use esp_hal::spi::Mode;
use esp_hal::spi::master::{Config as SpiConfig, Spi};
use esp_hal::time::Rate;
use static_cell::StaticCell;

/// SPI clock while an SD card initialises (the SD spec's 400 kHz), in kHz.
const SLOW_KHZ: u32 = 400;
/// SPI clock afterwards (the ArduChip's maximum), in kHz: a 15 KB QVGA
/// frame is read in about 15 ms.
const FAST_KHZ: u32 = 8_000;
/// Set once the SD card is initialised: the bus switches to [`FAST_KHZ`].
static FAST: AtomicBool = AtomicBool::new(false);

/// SPI2, which switches to [`FAST_KHZ`] before its first transfer after
/// the SD card's initialisation.
pub struct Bus {
    spi: Spi<'static, Blocking>,
    fast: bool,
}

impl Bus {
    fn switch(&mut self) {
        if !self.fast && FAST.load(Ordering::Relaxed) {
            let config = SpiConfig::default().with_frequency(Rate::from_khz(FAST_KHZ)).with_mode(Mode::_0);
            if self.spi.apply_config(&config).is_ok() {
                self.fast = true;
            }
        }
    }
}

impl ErrorType for Bus {
    type Error = esp_hal::spi::Error;
}

impl SpiBus for Bus {
    fn read(&mut self, words: &mut [u8]) -> Result<(), Self::Error> {
        self.switch();
        SpiBus::read(&mut self.spi, words)
    }
    fn write(&mut self, words: &[u8]) -> Result<(), Self::Error> {
        self.switch();
        SpiBus::write(&mut self.spi, words)
    }
    fn transfer(&mut self, read: &mut [u8], write: &[u8]) -> Result<(), Self::Error> {
        self.switch();
        SpiBus::transfer(&mut self.spi, read, write)
    }
    fn transfer_in_place(&mut self, words: &mut [u8]) -> Result<(), Self::Error> {
        self.switch();
        SpiBus::transfer_in_place(&mut self.spi, words)
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        SpiBus::flush(&mut self.spi)
    }
}

/// One chip on the shared bus. Every user runs on the one executor and no
/// transfer awaits, so the bus is never found busy.
type Device = AtomicDevice<'static, Bus, Output<'static>, Delay>;

/// The board's camera: the ArduCAM through the capture loop.
pub type Camera = CaptureLoop<ArduCam<Device, I2c<'static, Blocking>>, BoardClock>;
/// The board's SD card.
pub type Card = SdStorage<SdCard<Device, Delay>, UnixClock<fn() -> u64>>;

/// The capture loop's clock: embassy time, ms since boot (no wall clock).
pub struct BoardClock;

impl Clock for BoardClock {
    fn now_ms(&mut self) -> u64 {
        embassy_time::Instant::now().as_millis()
    }
    async fn sleep_until(&mut self, deadline_ms: u64) {
        embassy_time::Timer::at(embassy_time::Instant::from_millis(deadline_ms)).await
    }
}

/// The peripherals this module takes.
pub struct Pins {
    /// SPI2.
    pub spi: esp_hal::peripherals::SPI2<'static>,
    /// I2C0.
    pub i2c: esp_hal::peripherals::I2C0<'static>,
    /// SCK, MISO, MOSI, camera CS, SD CS, SDA, SCL.
    pub gpio: (
        esp_hal::peripherals::GPIO4<'static>,
        esp_hal::peripherals::GPIO5<'static>,
        esp_hal::peripherals::GPIO6<'static>,
        esp_hal::peripherals::GPIO7<'static>,
        esp_hal::peripherals::GPIO10<'static>,
        esp_hal::peripherals::GPIO0<'static>,
        esp_hal::peripherals::GPIO1<'static>,
    ),
}

/// Brings up the SD card, then the camera; either may be absent (its error
/// is printed on the console, and the cam runs without it).
pub fn init(pins: Pins) -> (Option<Camera>, Option<Card>) {
    let (sck, miso, mosi, cam_cs, sd_cs, sda, scl) = pins.gpio;
    let slow = SpiConfig::default().with_frequency(Rate::from_khz(SLOW_KHZ)).with_mode(Mode::_0);
    let spi = match Spi::new(pins.spi, slow) {
        Ok(spi) => spi.with_sck(sck).with_miso(miso).with_mosi(mosi),
        Err(e) => {
            crate::console::hardware("spi", &e);
            return (None, None);
        }
    };
    static BUS: StaticCell<AtomicCell<Bus>> = StaticCell::new();
    let bus: &'static AtomicCell<Bus> = BUS.init(AtomicCell::new(Bus { spi, fast: false }));
    // Both chip selects high before either chip hears the clock.
    let cam_cs = Output::new(cam_cs, Level::High, OutputConfig::default());
    let sd_cs = Output::new(sd_cs, Level::High, OutputConfig::default());

    let Ok(sd_dev) = AtomicDevice::new(bus, sd_cs, Delay::new());
    let card = mount(SdCard::new(sd_dev, Delay::new()));
    FAST.store(true, Ordering::Relaxed);
    let Ok(cam_dev) = AtomicDevice::new(bus, cam_cs, Delay::new());
    (camera(pins.i2c, sda, scl, cam_dev), card)
}

/// Initialises the card at the slow clock, then mounts it (replaying or
/// dropping a journal); `None` when there is no card or no FAT on it.
fn mount(sd: SdCard<Device, Delay>) -> Option<Card> {
    let size = sd.num_bytes();
    FAST.store(true, Ordering::Relaxed);
    if let Err(e) = size {
        crate::console::hardware("sd", &e);
        return None;
    }
    let clock: fn() -> u64 = || embassy_time::Instant::now().as_millis();
    match SdStorage::open(sd, UnixClock(clock)) {
        Ok((card, recovery)) => {
            crate::console::sd_mounted(&recovery);
            Some(card)
        }
        Err(e) => {
            crate::console::hardware("sd", &e);
            None
        }
    }
}

/// Checks and configures the ArduCAM; `None` when it does not answer.
fn camera(
    i2c: esp_hal::peripherals::I2C0<'static>,
    sda: esp_hal::peripherals::GPIO0<'static>,
    scl: esp_hal::peripherals::GPIO1<'static>,
    dev: Device,
) -> Option<Camera> {
    let config = esp_hal::i2c::master::Config::default().with_frequency(Rate::from_khz(100));
    let i2c = match I2c::new(i2c, config) {
        Ok(i2c) => i2c.with_sda(sda).with_scl(scl),
        Err(e) => {
            crate::console::hardware("i2c", &e);
            return None;
        }
    };
    let mut cam = ArduCam::new(dev, i2c, arducam::Config::default());
    match cam.init(&mut Delay::new()) {
        Ok(()) => {
            crate::console::camera_ready(cam.config());
            Some(CaptureLoop::new(cam, BoardClock, Pacing::default()))
        }
        Err(e) => {
            crate::console::hardware("camera", &e);
            None
        }
    }
}

/// What the journal replay at mount did, for the console.
pub fn describe(recovery: &Recovery) -> &str {
    match recovery {
        Recovery::Clean => "clean",
        Recovery::Replayed(path) => path,
        Recovery::Dropped => "dropped an unfinished write",
    }
}
