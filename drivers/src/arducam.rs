//! The ArduCAM Mini 2MP: an OV2640 sensor whose JPEG frames land in the
//! ArduChip's FIFO, read over SPI; the sensor itself is configured over
//! SCCB (I2C).
//!
//! ArduChip registers (SPI, mode 0, up to 8 MHz): a register is read with
//! one transfer `[addr, 0]` (the value comes back in the second byte) and
//! written with `[addr | 0x80, value]`. A capture is: clear the FIFO flag,
//! start ([`FIFO_START`]), poll [`REG_TRIG`] for [`CAP_DONE`], read the
//! 23-bit length from [`REG_FIFO_SIZE`], then read the frame in one burst
//! (command [`BURST_READ`]).
//!
//! ```no_run
//! # fn demo<S, I, D>(spi: S, i2c: I, mut delay: D)
//! # where S: embedded_hal::spi::SpiDevice, I: embedded_hal::i2c::I2c, D: embedded_hal::delay::DelayNs {
//! use cam_drivers::arducam::{ArduCam, Config};
//! let mut cam = ArduCam::new(spi, i2c, Config::default());
//! cam.init(&mut delay).unwrap();            // SPI check, sensor id, JPEG at QVGA
//! cam.start_capture().unwrap();
//! while !cam.capture_done().unwrap() { delay.delay_ms(2); }
//! let jpeg: Vec<u8> = cam.read_frame().unwrap();
//! # }
//! ```

use alloc::vec::Vec;
use core::fmt;

use embedded_hal::delay::DelayNs;
use embedded_hal::i2c::I2c;
use embedded_hal::spi::{Operation, SpiDevice};

use crate::ov2640::{self, Resolution, Step};

/// ArduChip test register: what is written reads back (checks the SPI wiring).
pub const REG_TEST: u8 = 0x00;
/// ArduChip FIFO control register.
pub const REG_FIFO: u8 = 0x04;
/// [`REG_FIFO`] bit: clear the capture-done flag.
pub const FIFO_CLEAR: u8 = 0x01;
/// [`REG_FIFO`] bit: start a capture.
pub const FIFO_START: u8 = 0x02;
/// [`REG_FIFO`] bit: reset the FIFO read pointer.
pub const FIFO_RDPTR_RESET: u8 = 0x10;
/// ArduChip CPLD reset register (bit 7 holds the chip in reset).
pub const REG_RESET: u8 = 0x07;
/// ArduChip status register.
pub const REG_TRIG: u8 = 0x41;
/// [`REG_TRIG`] bit: the capture is in the FIFO.
pub const CAP_DONE: u8 = 0x08;
/// ArduChip FIFO length, three registers from low to high byte (23 bits).
pub const REG_FIFO_SIZE: [u8; 3] = [0x42, 0x43, 0x44];
/// ArduChip command: read the FIFO in one burst.
pub const BURST_READ: u8 = 0x3C;
/// The FIFO of the Mini 2MP holds at most this many bytes (8 Mbit).
pub const FIFO_CAPACITY: u32 = 0x5FFFF;

/// Driver settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Frame size.
    pub resolution: Resolution,
    /// JPEG quantisation scale ([`ov2640::QS`]).
    pub quality: u8,
    /// Largest frame accepted, in bytes: the one frame-sized buffer the
    /// driver allocates. Larger FIFO contents are refused with
    /// [`Error::FrameTooLarge`] (and the FIFO cleared).
    pub max_frame_bytes: usize,
}

impl Default for Config {
    /// QVGA, quality [`ov2640::DEFAULT_QUALITY`], frames up to 64 KiB (the
    /// same bound as `POST /hil/frame` on the firmware).
    fn default() -> Self {
        Config { resolution: Resolution::Qvga, quality: ov2640::DEFAULT_QUALITY, max_frame_bytes: 64 * 1024 }
    }
}

/// What went wrong talking to the camera.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error<S, I> {
    /// The SPI bus failed.
    Spi(S),
    /// The I2C (SCCB) bus failed, usually a NACK: no sensor at
    /// [`ov2640::SCCB_ADDRESS`].
    I2c(I),
    /// The test register read back `read` after `wrote`: the SPI wiring or
    /// chip select is wrong (`0xFF` or `0x00`: nothing answers).
    SpiCheck {
        /// Written to [`REG_TEST`].
        wrote: u8,
        /// Read back.
        read: u8,
    },
    /// The sensor's product id/version is not an OV2640's.
    WrongSensor {
        /// [`ov2640::REG_PID`].
        pid: u8,
        /// [`ov2640::REG_VER`].
        version: u8,
    },
    /// The FIFO reports an empty frame.
    EmptyFrame,
    /// The FIFO holds `len` bytes, more than [`Config::max_frame_bytes`] or
    /// [`FIFO_CAPACITY`]; nothing was read.
    FrameTooLarge {
        /// Reported length in bytes.
        len: u32,
    },
    /// The FIFO's bytes are not one JPEG (no SOI `FF D8` at the start, or
    /// no EOI `FF D9`): a torn or overflowed capture.
    NotJpeg,
}

impl<S: fmt::Debug, I: fmt::Debug> fmt::Display for Error<S, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Spi(e) => write!(f, "SPI: {e:?}"),
            Error::I2c(e) => write!(f, "I2C (SCCB) to the OV2640: {e:?}"),
            Error::SpiCheck { wrote, read } => {
                write!(f, "ArduChip test register read back {read:#04x} after {wrote:#04x}: check SPI wiring and CS")
            }
            Error::WrongSensor { pid, version } => {
                write!(f, "sensor id {pid:#04x}/{version:#04x} is not an OV2640 (0x26/0x41 or 0x42)")
            }
            Error::EmptyFrame => f.write_str("the FIFO holds an empty frame"),
            Error::FrameTooLarge { len } => write!(f, "the FIFO holds {len} bytes, more than the frame limit"),
            Error::NotJpeg => f.write_str("the FIFO's bytes are not one JPEG (torn capture)"),
        }
    }
}

/// The camera on an SPI device (its chip select) and an I2C bus.
pub struct ArduCam<SPI, I2C> {
    spi: SPI,
    i2c: I2C,
    config: Config,
}

impl<SPI: SpiDevice, I2C: I2c> ArduCam<SPI, I2C> {
    /// A driver; nothing is sent until [`ArduCam::init`].
    pub fn new(spi: SPI, i2c: I2C, config: Config) -> Self {
        ArduCam { spi, i2c, config }
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Gives the buses back.
    pub fn release(self) -> (SPI, I2C) {
        (self.spi, self.i2c)
    }

    /// Resets the ArduChip, checks the SPI wiring through the test register,
    /// checks the sensor id, and configures JPEG output (about 220 ms).
    ///
    /// # Errors
    /// [`Error::SpiCheck`], [`Error::WrongSensor`], or a bus error.
    pub fn init(&mut self, delay: &mut impl DelayNs) -> Result<(), Error<SPI::Error, I2C::Error>> {
        self.write_reg(REG_RESET, 0x80)?;
        delay.delay_ms(100);
        self.write_reg(REG_RESET, 0x00)?;
        delay.delay_ms(100);
        for wrote in [0x55, 0xAA] {
            self.write_reg(REG_TEST, wrote)?;
            let read = self.read_reg(REG_TEST)?;
            if read != wrote {
                return Err(Error::SpiCheck { wrote, read });
            }
        }
        self.sensor_write(ov2640::BANK_SEL, ov2640::BANK_SENSOR)?;
        let pid = self.sensor_read(ov2640::REG_PID)?;
        let version = self.sensor_read(ov2640::REG_VER)?;
        if pid != ov2640::PID || !ov2640::VERSIONS.contains(&version) {
            return Err(Error::WrongSensor { pid, version });
        }
        for step in ov2640::init_sequence(self.config.resolution, self.config.quality) {
            match step {
                Step::Write { reg, value } => self.sensor_write(reg, value)?,
                Step::DelayMs(ms) => delay.delay_ms(ms),
            }
        }
        self.write_reg(REG_FIFO, FIFO_CLEAR)
    }

    /// Starts one capture into the FIFO (clears the previous one first).
    ///
    /// # Errors
    /// A bus error.
    pub fn start_capture(&mut self) -> Result<(), Error<SPI::Error, I2C::Error>> {
        self.write_reg(REG_FIFO, FIFO_CLEAR)?;
        self.write_reg(REG_FIFO, FIFO_START)
    }

    /// Whether the capture started last is complete in the FIFO.
    ///
    /// # Errors
    /// A bus error.
    pub fn capture_done(&mut self) -> Result<bool, Error<SPI::Error, I2C::Error>> {
        Ok(self.read_reg(REG_TRIG)? & CAP_DONE != 0)
    }

    /// The frame length the FIFO reports, in bytes.
    ///
    /// # Errors
    /// A bus error.
    pub fn fifo_len(&mut self) -> Result<u32, Error<SPI::Error, I2C::Error>> {
        let [lo, mid, hi] = REG_FIFO_SIZE;
        let (lo, mid, hi) = (self.read_reg(lo)?, self.read_reg(mid)?, self.read_reg(hi)? & 0x7F);
        Ok(u32::from(hi) << 16 | u32::from(mid) << 8 | u32::from(lo))
    }

    /// Reads the completed capture in one burst and returns the JPEG: from
    /// its SOI to its EOI (the FIFO length includes a leading dummy byte on
    /// some modules and padding after the EOI; both are cut). The FIFO flag
    /// is cleared afterwards, also on error.
    ///
    /// # Errors
    /// [`Error::EmptyFrame`], [`Error::FrameTooLarge`], [`Error::NotJpeg`],
    /// or a bus error.
    pub fn read_frame(&mut self) -> Result<Vec<u8>, Error<SPI::Error, I2C::Error>> {
        let result = self.read_fifo();
        self.write_reg(REG_FIFO, FIFO_CLEAR)?;
        result
    }

    fn read_fifo(&mut self) -> Result<Vec<u8>, Error<SPI::Error, I2C::Error>> {
        let len = self.fifo_len()?;
        if len == 0 {
            return Err(Error::EmptyFrame);
        }
        if len > FIFO_CAPACITY || len as usize > self.config.max_frame_bytes {
            return Err(Error::FrameTooLarge { len });
        }
        let mut buf = alloc::vec![0u8; len as usize];
        self.spi.transaction(&mut [Operation::Write(&[BURST_READ]), Operation::Read(&mut buf)]).map_err(Error::Spi)?;
        let (start, end) = jpeg_bounds(&buf).ok_or(Error::NotJpeg)?;
        buf.truncate(end);
        buf.drain(..start);
        Ok(buf)
    }

    fn write_reg(&mut self, reg: u8, value: u8) -> Result<(), Error<SPI::Error, I2C::Error>> {
        self.spi.write(&[reg | 0x80, value]).map_err(Error::Spi)
    }

    fn read_reg(&mut self, reg: u8) -> Result<u8, Error<SPI::Error, I2C::Error>> {
        let mut buf = [reg & 0x7F, 0];
        self.spi.transfer_in_place(&mut buf).map_err(Error::Spi)?;
        Ok(buf[1])
    }

    fn sensor_write(&mut self, reg: u8, value: u8) -> Result<(), Error<SPI::Error, I2C::Error>> {
        self.i2c.write(ov2640::SCCB_ADDRESS, &[reg, value]).map_err(Error::I2c)
    }

    fn sensor_read(&mut self, reg: u8) -> Result<u8, Error<SPI::Error, I2C::Error>> {
        let mut value = [0];
        self.i2c.write_read(ov2640::SCCB_ADDRESS, &[reg], &mut value).map_err(Error::I2c)?;
        Ok(value[0])
    }
}

/// Where the JPEG lies in a FIFO read: the SOI within the first 8 bytes, and
/// the end just after the last EOI. `None` when either is missing.
fn jpeg_bounds(buf: &[u8]) -> Option<(usize, usize)> {
    let start = buf.windows(2).take(8).position(|w| w == [0xFF, 0xD8])?;
    let end = buf.windows(2).rposition(|w| w == [0xFF, 0xD9])? + 2;
    (end > start + 2).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::jpeg_bounds;

    #[test]
    fn bounds_skip_a_dummy_byte_and_padding() {
        assert_eq!(jpeg_bounds(&[0x00, 0xFF, 0xD8, 1, 2, 0xFF, 0xD9, 0, 0, 0]), Some((1, 7)));
        assert_eq!(jpeg_bounds(&[0xFF, 0xD8, 1, 0xFF, 0xD9]), Some((0, 5)));
        assert_eq!(jpeg_bounds(&[0xFF, 0xD8, 1, 2, 3]), None, "no EOI: torn");
        assert_eq!(jpeg_bounds(&[0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xD8, 0xFF, 0xD9]), None, "SOI too late");
    }
}
