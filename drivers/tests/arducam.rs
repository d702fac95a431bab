//! The ArduCAM driver against an emulated ArduCAM Mini 2MP: an ArduChip
//! (SPI registers, capture flag, FIFO with a leading dummy byte and padding)
//! and an OV2640 (SCCB register banks), on a virtual clock. Frames come
//! from the fixtures, go through the capture loop, and end as motion
//! events in the core's `Cam`.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use cam_core::camera::Camera;
use cam_core::{Cam, DetectorConfig};
use cam_drivers::arducam::{self, ArduCam, Config, Error};
use cam_drivers::capture::{CaptureError, CaptureLoop, Clock, Pacing};
use cam_drivers::ov2640::{self, Resolution};
use embedded_hal::delay::DelayNs;
use embedded_hal::i2c::{self, I2c};
use embedded_hal::spi::{self, Operation, SpiDevice};
use futures_executor::block_on;

/// Virtual time in ms, shared by the clock, the delay and the chip.
#[derive(Clone, Default)]
struct Time(Rc<Cell<u64>>);

impl Clock for Time {
    fn now_ms(&mut self) -> u64 {
        self.0.get()
    }
    async fn sleep_until(&mut self, deadline_ms: u64) {
        self.0.set(self.0.get().max(deadline_ms));
    }
}

impl DelayNs for Time {
    fn delay_ns(&mut self, ns: u32) {
        self.0.set(self.0.get() + u64::from(ns).div_ceil(1_000_000));
    }
}

/// What the emulated module does; the defaults are a healthy module.
struct Chip {
    time: Time,
    arduchip: [u8; 256],
    banks: [[u8; 256]; 2],
    bank: usize,
    /// Frames the sensor will capture, in order.
    frames: VecDeque<Vec<u8>>,
    fifo: Vec<u8>,
    capture_started_ms: Option<u64>,
    /// How long a capture takes, in ms.
    capture_ms: u64,
    /// Nothing answers on SPI (MISO floats high).
    spi_dead: bool,
    /// Nothing answers on I2C (NACK).
    sensor_absent: bool,
    /// Cut this many bytes off the end of every frame (a torn capture).
    tear: usize,
    /// Report this FIFO length instead of the real one.
    fake_len: Option<u32>,
    /// Every SCCB write as (bank, register, value).
    sensor_writes: Vec<(usize, u8, u8)>,
    burst_reads: usize,
}

impl Chip {
    fn new(time: Time, frames: Vec<Vec<u8>>) -> Rc<RefCell<Chip>> {
        let mut banks = [[0u8; 256]; 2];
        banks[1][ov2640::REG_PID as usize] = ov2640::PID;
        banks[1][ov2640::REG_VER as usize] = 0x42;
        Rc::new(RefCell::new(Chip {
            time,
            arduchip: [0; 256],
            banks,
            bank: 0,
            frames: frames.into(),
            fifo: Vec::new(),
            capture_started_ms: None,
            capture_ms: 60,
            spi_dead: false,
            sensor_absent: false,
            tear: 0,
            fake_len: None,
            sensor_writes: Vec::new(),
            burst_reads: 0,
        }))
    }

    fn done(&self) -> bool {
        self.capture_started_ms.is_some_and(|t| self.time.0.get() >= t + self.capture_ms)
    }

    fn read_reg(&mut self, reg: u8) -> u8 {
        if self.spi_dead {
            return 0xFF;
        }
        let len = self.fake_len.unwrap_or(self.fifo.len() as u32);
        match reg {
            arducam::REG_TRIG => {
                if self.done() {
                    arducam::CAP_DONE
                } else {
                    0
                }
            }
            0x42 => len as u8,
            0x43 => (len >> 8) as u8,
            0x44 => (len >> 16) as u8 & 0x7F,
            r => self.arduchip[r as usize],
        }
    }

    fn write_reg(&mut self, reg: u8, value: u8) {
        if reg == arducam::REG_FIFO {
            if value & arducam::FIFO_CLEAR != 0 {
                self.capture_started_ms = None;
            }
            if value & arducam::FIFO_START != 0 {
                let frame = self.frames.pop_front().expect("the test ran out of frames");
                let end = frame.len() - self.tear;
                // Real modules: a dummy byte first, zero padding after the EOI.
                self.fifo = [&[0x00][..], &frame[..end], &[0u8; 7][..]].concat();
                self.capture_started_ms = Some(self.time.0.get());
            }
        }
        self.arduchip[reg as usize] = value;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BusError(&'static str);
impl spi::Error for BusError {
    fn kind(&self) -> spi::ErrorKind {
        spi::ErrorKind::Other
    }
}

struct EmuSpi(Rc<RefCell<Chip>>);
impl spi::ErrorType for EmuSpi {
    type Error = BusError;
}
impl SpiDevice for EmuSpi {
    fn transaction(&mut self, ops: &mut [Operation<'_, u8>]) -> Result<(), BusError> {
        let mut chip = self.0.borrow_mut();
        match ops {
            [Operation::Write([reg, value])] if *reg & 0x80 != 0 => chip.write_reg(*reg & 0x7F, *value),
            [Operation::TransferInPlace([reg, out])] => *out = chip.read_reg(*reg),
            [Operation::Write([arducam::BURST_READ]), Operation::Read(buf)] => {
                if !chip.done() {
                    return Err(BusError("burst read before the capture is done"));
                }
                chip.burst_reads += 1;
                let fifo = chip.fifo.clone();
                for (i, b) in buf.iter_mut().enumerate() {
                    *b = fifo.get(i).copied().unwrap_or(0xFF);
                }
            }
            other => return Err(BusError(Box::leak(format!("unexpected SPI transaction {other:?}").into_boxed_str()))),
        }
        Ok(())
    }
}

struct EmuI2c(Rc<RefCell<Chip>>);
impl i2c::ErrorType for EmuI2c {
    type Error = i2c::ErrorKind;
}
impl I2c for EmuI2c {
    fn transaction(&mut self, address: u8, ops: &mut [i2c::Operation<'_>]) -> Result<(), i2c::ErrorKind> {
        let mut chip = self.0.borrow_mut();
        if chip.sensor_absent || address != ov2640::SCCB_ADDRESS {
            return Err(i2c::ErrorKind::NoAcknowledge(i2c::NoAcknowledgeSource::Address));
        }
        let mut reg = None;
        for op in ops {
            match op {
                i2c::Operation::Write([r, value]) => {
                    if *r == ov2640::BANK_SEL {
                        chip.bank = usize::from(*value & 1);
                    } else {
                        let bank = chip.bank;
                        chip.banks[bank][*r as usize] = *value;
                    }
                    let bank = chip.bank;
                    chip.sensor_writes.push((bank, *r, *value));
                }
                i2c::Operation::Write([r]) => reg = Some(*r),
                i2c::Operation::Read([out]) => {
                    let bank = chip.bank;
                    *out = chip.banks[bank][reg.expect("register before read") as usize];
                }
                _ => return Err(i2c::ErrorKind::Other),
            }
        }
        Ok(())
    }
}

fn fixture(dir: &str, range: std::ops::Range<usize>) -> Vec<Vec<u8>> {
    range
        .map(|i| {
            let path = format!("{}/../fixtures/{dir}/frame_{i:05}.jpg", env!("CARGO_MANIFEST_DIR"));
            std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
        })
        .collect()
}

fn module(frames: Vec<Vec<u8>>) -> (Rc<RefCell<Chip>>, ArduCam<EmuSpi, EmuI2c>, Time) {
    let time = Time::default();
    let chip = Chip::new(time.clone(), frames);
    let cam = ArduCam::new(EmuSpi(chip.clone()), EmuI2c(chip.clone()), Config::default());
    (chip, cam, time)
}

#[test]
fn init_resets_the_sensor_then_configures_jpeg_at_qvga() {
    let (chip, mut cam, mut time) = module(vec![]);
    cam.init(&mut time).unwrap();
    let chip = chip.borrow();
    let first = chip.sensor_writes.iter().find(|(_, reg, _)| *reg != ov2640::BANK_SEL);
    assert_eq!(first, Some(&(1, ov2640::COM7, ov2640::COM7_SRST)), "soft reset before any setting");
    let dsp = &chip.banks[0];
    assert_eq!(dsp[ov2640::IMAGE_MODE as usize], ov2640::IMAGE_MODE_JPEG);
    assert_eq!(dsp[ov2640::QS as usize], ov2640::DEFAULT_QUALITY);
    assert_eq!(dsp[ov2640::R_BYPASS as usize], 0, "DSP running");
    assert_eq!((dsp[0x5A], dsp[0x5B]), (80, 60), "zoom output = 320×240 / 4");
    assert_eq!(chip.banks[1][ov2640::COM7 as usize], ov2640::COM7_CIF);
    assert!(time.0.get() >= 200, "the ArduChip reset waits 2 × 100 ms");
}

#[test]
fn vga_selects_the_svga_window() {
    let time = Time::default();
    let chip = Chip::new(time.clone(), vec![]);
    let config = Config { resolution: Resolution::Vga, ..Config::default() };
    let mut cam = ArduCam::new(EmuSpi(chip.clone()), EmuI2c(chip.clone()), config);
    cam.init(&mut time.clone()).unwrap();
    let chip = chip.borrow();
    assert_eq!(chip.banks[1][ov2640::COM7 as usize], ov2640::COM7_SVGA);
    assert_eq!((chip.banks[0][0x5A], chip.banks[0][0x5B]), (160, 120), "640×480 / 4");
}

#[test]
fn the_capture_loop_delivers_fixture_frames_on_the_tick_and_the_cam_sees_the_motion() {
    let frames = fixture("synthetic_bright_square", 0..12);
    let (_chip, mut cam, mut time) = module(frames.clone());
    cam.init(&mut time).unwrap();
    let start = time.0.get();
    let mut camera = CaptureLoop::new(cam, time.clone(), Pacing::default());
    let mut dut = Cam::new(DetectorConfig::default(), 16, 0);
    let mut events = Vec::new();
    for (i, want) in frames.iter().enumerate() {
        let got = block_on(camera.capture()).unwrap().expect("a sensor never ends");
        assert!(&got.jpeg == want, "frame {i}: {} bytes, want {}", got.jpeg.len(), want.len());
        assert_eq!(got.ts_ms, start + 200 * i as u64, "frame {i} captured on its tick");
        if let Some(e) = dut.process_frame(got.jpeg, got.ts_ms).unwrap().event {
            events.push(e.frame);
        }
    }
    assert_eq!(camera.skipped(), 0);
    assert!(!events.is_empty(), "the bright square is motion");
    let truth =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/synthetic_bright_square/labels.csv"))
            .unwrap();
    let first_motion = truth.lines().skip(1).position(|l| l.ends_with(",1")).expect("labelled motion") as u64 + 1;
    assert_eq!(events[0], first_motion, "first event on the first labelled frame (frames count from 1)");
}

#[test]
fn a_slow_capture_skips_ticks_instead_of_bursting() {
    let frames = fixture("synthetic_bright_square", 0..4);
    let (chip, mut cam, mut time) = module(frames);
    cam.init(&mut time).unwrap();
    chip.borrow_mut().capture_ms = 450; // longer than two intervals
    let start = time.0.get();
    let mut camera = CaptureLoop::new(cam, time.clone(), Pacing::default());
    let stamps: Vec<u64> = (0..3).map(|_| block_on(camera.capture()).unwrap().unwrap().ts_ms - start).collect();
    // Due at 200: starts late at 450 (tick 400 skipped); due at 600: starts
    // at 900 (tick 800 skipped). No burst of back-to-back catch-up captures.
    assert_eq!(stamps, [0, 450, 900]);
    assert_eq!(camera.skipped(), 2);
}

#[test]
fn a_capture_that_never_completes_times_out() {
    let (chip, mut cam, mut time) = module(fixture("synthetic_bright_square", 0..1));
    cam.init(&mut time).unwrap();
    chip.borrow_mut().capture_ms = u64::MAX / 2;
    let mut camera = CaptureLoop::new(cam, time.clone(), Pacing::default());
    match block_on(camera.capture()) {
        Err(CaptureError::Timeout { waited_ms }) => assert!((1000..1010).contains(&waited_ms), "{waited_ms}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_torn_frame_is_an_error_and_the_next_one_is_fine() {
    let frames = fixture("synthetic_bright_square", 0..2);
    let (chip, mut cam, mut time) = module(frames.clone());
    cam.init(&mut time).unwrap();
    chip.borrow_mut().tear = 100;
    let mut camera = CaptureLoop::new(cam, time.clone(), Pacing::default());
    assert_eq!(block_on(camera.capture()).unwrap_err(), CaptureError::Source(Error::NotJpeg));
    assert_eq!(chip.borrow().capture_started_ms, None, "FIFO flag cleared after the error");
    chip.borrow_mut().tear = 0;
    assert!(block_on(camera.capture()).unwrap().unwrap().jpeg == frames[1]);
}

#[test]
fn an_oversize_fifo_is_refused_without_reading_it() {
    let (chip, mut cam, mut time) = module(fixture("synthetic_bright_square", 0..1));
    cam.init(&mut time).unwrap();
    chip.borrow_mut().fake_len = Some(0x7F_FFFF);
    cam.start_capture().unwrap();
    time.delay_ms(100);
    assert!(cam.capture_done().unwrap());
    assert_eq!(cam.read_frame().unwrap_err(), Error::FrameTooLarge { len: 0x7F_FFFF });
    assert_eq!(chip.borrow().burst_reads, 0);
}

#[test]
fn an_empty_fifo_is_an_error() {
    let (chip, mut cam, mut time) = module(fixture("synthetic_bright_square", 0..1));
    cam.init(&mut time).unwrap();
    chip.borrow_mut().fake_len = Some(0);
    cam.start_capture().unwrap();
    time.delay_ms(100);
    assert_eq!(cam.read_frame().unwrap_err(), Error::EmptyFrame);
}

#[test]
fn wiring_faults_are_named() {
    let (chip, mut cam, mut time) = module(vec![]);
    chip.borrow_mut().spi_dead = true;
    assert_eq!(cam.init(&mut time).unwrap_err(), Error::SpiCheck { wrote: 0x55, read: 0xFF });

    let (chip, mut cam, mut time) = module(vec![]);
    chip.borrow_mut().sensor_absent = true;
    let err = cam.init(&mut time).unwrap_err();
    assert!(matches!(err, Error::I2c(i2c::ErrorKind::NoAcknowledge(_))), "{err:?}");
    assert!(err.to_string().contains("OV2640"), "{err}");

    let (chip, mut cam, mut time) = module(vec![]);
    chip.borrow_mut().banks[1][ov2640::REG_PID as usize] = 0x56; // an OV5640's id
    assert_eq!(cam.init(&mut time).unwrap_err(), Error::WrongSensor { pid: 0x56, version: 0x42 });
}
