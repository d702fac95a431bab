//! The OV2640 sensor's register settings: JPEG output at QVGA (320×240) or
//! VGA (640×480), as a list of [`Step`]s the driver writes over SCCB (I2C,
//! 7-bit address [`SCCB_ADDRESS`]).
//!
//! The sensor has two register banks, chosen by writing [`BANK_SEL`]: the
//! DSP bank ([`BANK_DSP`]) and the sensor bank ([`BANK_SENSOR`]). Register
//! names follow the OV2640 datasheet (tables 12 and 13). What the datasheet
//! documents (window, zoom, output format, JPEG quality, clocks) is computed
//! here from the output size; the analogue and image-pipeline tuning that
//! OmniVision publishes only as values (their reference initial settings,
//! reproduced by every open OV2640 driver) is [`REFERENCE_TUNING`].

/// The sensor's 7-bit SCCB (I2C) address.
pub const SCCB_ADDRESS: u8 = 0x30;

/// Bank select register (both banks).
pub const BANK_SEL: u8 = 0xFF;
/// [`BANK_SEL`] value for the DSP bank.
pub const BANK_DSP: u8 = 0x00;
/// [`BANK_SEL`] value for the sensor bank.
pub const BANK_SENSOR: u8 = 0x01;

/// Sensor bank: product id, high byte; reads [`PID`].
pub const REG_PID: u8 = 0x0A;
/// Sensor bank: product version; reads one of [`VERSIONS`].
pub const REG_VER: u8 = 0x0B;
/// The OV2640's product id.
pub const PID: u8 = 0x26;
/// Product versions of the OV2640 (`0x41`, `0x42`).
pub const VERSIONS: [u8; 2] = [0x41, 0x42];

/// Sensor bank: clock divider (`CLKRC`).
pub const CLKRC: u8 = 0x11;
/// Sensor bank: `COM7`, system reset and resolution mode.
pub const COM7: u8 = 0x12;
/// [`COM7`] bit: soft reset of every register.
pub const COM7_SRST: u8 = 0x80;
/// [`COM7`] value: SVGA mode (800×600 sensor window).
pub const COM7_SVGA: u8 = 0x40;
/// [`COM7`] value: CIF mode (400×296 sensor window).
pub const COM7_CIF: u8 = 0x20;
const COM1: u8 = 0x03;
const REG32: u8 = 0x32;
const HREFST: u8 = 0x17;
const HREFEND: u8 = 0x18;
const VSTRT: u8 = 0x19;
const VEND: u8 = 0x1A;
const BD50: u8 = 0x4F;
const BD60: u8 = 0x50;

/// DSP bank: bypass the DSP (`R_BYPASS`): 1 while reconfiguring, 0 to run.
pub const R_BYPASS: u8 = 0x05;
/// DSP bank: JPEG quantisation scale (`QS`): lower is better quality and
/// larger frames.
pub const QS: u8 = 0x44;
const CTRLI: u8 = 0x50;
const HSIZE: u8 = 0x51;
const VSIZE: u8 = 0x52;
const XOFFL: u8 = 0x53;
const YOFFL: u8 = 0x54;
const VHYX: u8 = 0x55;
const TEST: u8 = 0x57;
const ZMOW: u8 = 0x5A;
const ZMOH: u8 = 0x5B;
const ZMHH: u8 = 0x5C;
const CTRL2: u8 = 0x86;
const SIZEL: u8 = 0x8C;
const HSIZE8: u8 = 0xC0;
const VSIZE8: u8 = 0xC1;
const R_DVP_SP: u8 = 0xD3;
/// DSP bank: output format (`IMAGE_MODE`).
pub const IMAGE_MODE: u8 = 0xDA;
/// [`IMAGE_MODE`] value: JPEG output, HREF timing.
pub const IMAGE_MODE_JPEG: u8 = 0x10 | 0x02;
const RESET: u8 = 0xE0;
const RESET_JPEG_DVP: u8 = 0x10 | 0x04;

/// One step of a register sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Write `value` to register `reg` of the bank last selected.
    Write {
        /// Register address.
        reg: u8,
        /// Value.
        value: u8,
    },
    /// Wait this many ms (after a reset, before the sensor answers again).
    DelayMs(u32),
}

const fn w(reg: u8, value: u8) -> Step {
    Step::Write { reg, value }
}

/// The JPEG frame size the sensor produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Resolution {
    /// 320×240, zoomed from the CIF window; a 10–20 KB JPEG at the default
    /// quality. What the cam's detector is tuned on.
    #[default]
    Qvga,
    /// 640×480, zoomed from the SVGA window; a 30–60 KB JPEG.
    Vga,
}

impl Resolution {
    /// Width and height in pixels.
    pub fn size(self) -> (u16, u16) {
        match self {
            Resolution::Qvga => (320, 240),
            Resolution::Vga => (640, 480),
        }
    }

    /// The sensor window this size is scaled from: (COM7 mode, width, height).
    fn window(self) -> (u8, u16, u16) {
        match self {
            Resolution::Qvga => (COM7_CIF, 400, 296),
            Resolution::Vga => (COM7_SVGA, 800, 600),
        }
    }
}

/// The JPEG quality scale the cam uses ([`QS`]; 0x0C is about 75 % quality).
pub const DEFAULT_QUALITY: u8 = 0x0C;

/// The whole sequence after power-up: soft reset, reference tuning, the
/// sensor window for `resolution`, the DSP scaler, JPEG output at
/// `quality` ([`QS`]), DSP on.
pub fn init_sequence(resolution: Resolution, quality: u8) -> impl Iterator<Item = Step> {
    let reset = [w(BANK_SEL, BANK_SENSOR), w(COM7, COM7_SRST), Step::DelayMs(10)];
    reset
        .into_iter()
        .chain(REFERENCE_TUNING.iter().copied())
        .chain(window_sequence(resolution))
        .chain(jpeg_sequence(quality))
}

/// Switches the sensor window and the DSP scaler to `resolution` (the DSP
/// is bypassed meanwhile). Shapes: sensor window in [`Resolution::window`];
/// `HSIZE8/VSIZE8` are its size / 8, `HSIZE/VSIZE` its size / 4, and
/// `ZMOW/ZMOH` the output size / 4 with the ninth and tenth bits in `ZMHH`.
pub fn window_sequence(resolution: Resolution) -> impl Iterator<Item = Step> {
    let (mode, win_w, win_h) = resolution.window();
    let (out_w, out_h) = resolution.size();
    let (vstop, reg32) = if mode == COM7_CIF { (0x25, 0x89) } else { (0x4B, 0x09) };
    let sensor = [
        w(BANK_SEL, BANK_DSP),
        w(R_BYPASS, 0x01),
        w(BANK_SEL, BANK_SENSOR),
        w(COM7, mode),
        w(COM1, 0x0A),
        w(REG32, reg32),
        w(HREFST, 0x11),
        w(HREFEND, 0x43),
        w(VSTRT, 0x00),
        w(VEND, vstop),
        w(BD50, 0xCA),
        w(BD60, 0xA8),
        w(CLKRC, 0x00),
    ];
    let dsp = [
        w(BANK_SEL, BANK_DSP),
        w(RESET, 0x04),
        w(HSIZE8, (win_w / 8) as u8),
        w(VSIZE8, (win_h / 8) as u8),
        w(SIZEL, 0x00),
        w(HSIZE, (win_w / 4) as u8),
        w(VSIZE, (win_h / 4) as u8),
        w(XOFFL, 0x00),
        w(YOFFL, 0x00),
        w(VHYX, (((win_h / 4) >> 8) as u8 & 1) << 7 | (((win_w / 4) >> 8) as u8 & 1) << 3),
        w(TEST, (((win_w / 4) >> 9) as u8 & 1) << 7),
        w(CTRL2, 0x20 | 0x1D),
        w(CTRLI, 0x80),
        w(ZMOW, (out_w / 4) as u8),
        w(ZMOH, (out_h / 4) as u8),
        w(ZMHH, ((out_w / 4) >> 8) as u8 & 0x03 | (((out_h / 4) >> 8) as u8 & 0x01) << 2),
        w(R_DVP_SP, 0x08),
        w(RESET, 0x00),
    ];
    sensor.into_iter().chain(dsp)
}

/// JPEG output at `quality` ([`QS`]), then the DSP back on.
pub fn jpeg_sequence(quality: u8) -> impl Iterator<Item = Step> {
    [
        w(BANK_SEL, BANK_DSP),
        w(RESET, RESET_JPEG_DVP),
        w(IMAGE_MODE, IMAGE_MODE_JPEG),
        w(0xD7, 0x03),
        w(0xE1, 0x77),
        w(0xE5, 0x1F),
        w(0xD9, 0x10),
        w(0xDF, 0x80),
        w(0x33, 0x80),
        w(0x3C, 0x10),
        w(0xEB, 0x30),
        w(0xDD, 0x7F),
        w(QS, quality),
        w(RESET, 0x00),
        w(R_BYPASS, 0x00),
        Step::DelayMs(5),
    ]
    .into_iter()
}

/// OmniVision's reference initial settings for the OV2640: analogue timing,
/// exposure and gain control targets, the DSP's gamma curve, colour matrix
/// and white balance. The datasheet does not document these registers; the
/// values are the vendor's, as reproduced in every open driver (Linux,
/// OpenMV, ArduCAM, Espressif). Written once after the soft reset.
pub const REFERENCE_TUNING: &[Step] = &[
    w(BANK_SEL, BANK_DSP),
    w(0x2C, 0xFF),
    w(0x2E, 0xDF),
    w(BANK_SEL, BANK_SENSOR),
    w(0x3C, 0x32),
    w(CLKRC, 0x01),
    w(0x09, 0x02), // COM2: 3× output drive
    w(0x04, 0x28), // REG04: no mirror or flip
    w(0x13, 0xE5), // COM8: banding filter, auto gain, auto exposure
    w(0x14, 0x08), // COM9: gain ceiling 2×
    w(0x2C, 0x0C),
    w(0x33, 0x78),
    w(0x3A, 0x33),
    w(0x3B, 0xFB),
    w(0x3E, 0x00),
    w(0x43, 0x11),
    w(0x16, 0x10),
    w(0x39, 0x92),
    w(0x35, 0xDA),
    w(0x22, 0x1A),
    w(0x37, 0xC3),
    w(0x23, 0x00),
    w(0x34, 0xC0),
    w(0x06, 0x88),
    w(0x07, 0xC0),
    w(0x0D, 0x87),
    w(0x0E, 0x41),
    w(0x4C, 0x00),
    w(0x4A, 0x81),
    w(0x21, 0x99),
    w(0x24, 0x40), // AEW: exposure upper target
    w(0x25, 0x38), // AEB: exposure lower target
    w(0x26, 0x82), // VV: fast-mode thresholds
    w(0x5C, 0x00),
    w(0x63, 0x00),
    w(0x61, 0x70), // histogram low
    w(0x62, 0x80), // histogram high
    w(0x7C, 0x05),
    w(0x20, 0x80),
    w(0x28, 0x30),
    w(0x6C, 0x00),
    w(0x6D, 0x80),
    w(0x6E, 0x00),
    w(0x70, 0x02),
    w(0x71, 0x94),
    w(0x73, 0xC1),
    w(0x3D, 0x34),
    w(0x5A, 0x57),
    w(BANK_SEL, BANK_DSP),
    w(0xE5, 0x7F),
    w(0xF9, 0xC0), // MC_BIST: microcontroller reset, boot ROM
    w(0x41, 0x24),
    w(RESET, RESET_JPEG_DVP),
    w(0x76, 0xFF),
    w(0x33, 0xA0),
    w(0x42, 0x20),
    w(0x43, 0x18),
    w(0x4C, 0x00),
    w(0x87, 0x50), // CTRL3: white pixel correction
    w(0x88, 0x3F),
    w(0xD7, 0x03),
    w(0xD9, 0x10),
    w(R_DVP_SP, 0x82),
    w(0xC8, 0x08),
    w(0xC9, 0x80),
    // SDE (special digital effects) off, saturation, brightness, contrast.
    w(0x7C, 0x00),
    w(0x7D, 0x00),
    w(0x7C, 0x03),
    w(0x7D, 0x48),
    w(0x7D, 0x48),
    w(0x7C, 0x08),
    w(0x7D, 0x20),
    w(0x7D, 0x10),
    w(0x7D, 0x0E),
    // Gamma curve.
    w(0x90, 0x00),
    w(0x91, 0x0E),
    w(0x91, 0x1A),
    w(0x91, 0x31),
    w(0x91, 0x5A),
    w(0x91, 0x69),
    w(0x91, 0x75),
    w(0x91, 0x7E),
    w(0x91, 0x88),
    w(0x91, 0x8F),
    w(0x91, 0x96),
    w(0x91, 0xA3),
    w(0x91, 0xAF),
    w(0x91, 0xC4),
    w(0x91, 0xD7),
    w(0x91, 0xE8),
    w(0x91, 0x20),
    // Colour matrix.
    w(0x92, 0x00),
    w(0x93, 0x06),
    w(0x93, 0xE3),
    w(0x93, 0x05),
    w(0x93, 0x05),
    w(0x93, 0x00),
    w(0x93, 0x04),
    w(0x93, 0x00),
    w(0x93, 0x00),
    w(0x93, 0x00),
    w(0x93, 0x00),
    w(0x93, 0x00),
    w(0x93, 0x00),
    w(0x93, 0x00),
    w(0x96, 0x00),
    w(0x97, 0x08),
    w(0x97, 0x19),
    w(0x97, 0x02),
    w(0x97, 0x0C),
    w(0x97, 0x24),
    w(0x97, 0x30),
    w(0x97, 0x28),
    w(0x97, 0x26),
    w(0x97, 0x02),
    w(0x97, 0x98),
    w(0x97, 0x80),
    w(0x97, 0x00),
    w(0x97, 0x00),
    // White balance.
    w(0xA4, 0x00),
    w(0xA8, 0x00),
    w(0xC5, 0x11),
    w(0xC6, 0x51),
    w(0xBF, 0x80),
    w(0xC7, 0x10),
    w(0xB6, 0x66),
    w(0xB8, 0xA5),
    w(0xB7, 0x64),
    w(0xB9, 0x7C),
    w(0xB3, 0xAF),
    w(0xB4, 0x97),
    w(0xB5, 0xFF),
    w(0xB0, 0xC5),
    w(0xB1, 0x94),
    w(0xB2, 0x0F),
    w(0xC4, 0x5C),
    w(0xC3, 0xFF), // CTRL1: every DSP block on
    w(0x7F, 0x00),
    w(0xE5, 0x1F),
    w(0xE1, 0x67),
    w(0xDD, 0x7F),
    w(IMAGE_MODE, 0x00),
    w(RESET, 0x00),
    w(R_BYPASS, 0x00),
];

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn dsp_value(steps: &[Step], reg: u8) -> Option<u8> {
        let mut bank = None;
        let mut found = None;
        for s in steps {
            if let Step::Write { reg: r, value } = *s {
                if r == BANK_SEL {
                    bank = Some(value);
                } else if r == reg && bank == Some(BANK_DSP) {
                    found = Some(value);
                }
            }
        }
        found
    }

    #[test]
    fn zoom_registers_give_the_output_size() {
        for res in [Resolution::Qvga, Resolution::Vga] {
            let steps: Vec<Step> = init_sequence(res, DEFAULT_QUALITY).collect();
            let zmhh = dsp_value(&steps, ZMHH).unwrap();
            let width = (u16::from(dsp_value(&steps, ZMOW).unwrap()) | u16::from(zmhh & 0x03) << 8) * 4;
            let height = (u16::from(dsp_value(&steps, ZMOH).unwrap()) | u16::from(zmhh >> 2 & 1) << 8) * 4;
            assert_eq!((width, height), res.size());
            // The scaler input (HSIZE, VSIZE) is at least the output.
            let (_, win_w, win_h) = res.window();
            assert_eq!(u16::from(dsp_value(&steps, HSIZE).unwrap()) * 4, win_w);
            assert_eq!(u16::from(dsp_value(&steps, VSIZE).unwrap()) * 4, win_h);
            assert!(win_w >= width && win_h >= height);
        }
    }

    #[test]
    fn the_sequence_ends_in_jpeg_with_the_dsp_running() {
        let steps: Vec<Step> = init_sequence(Resolution::Qvga, 0x20).collect();
        assert_eq!(steps[..2], [w(BANK_SEL, BANK_SENSOR), w(COM7, COM7_SRST)]);
        assert_eq!(dsp_value(&steps, IMAGE_MODE), Some(IMAGE_MODE_JPEG));
        assert_eq!(dsp_value(&steps, QS), Some(0x20));
        assert_eq!(dsp_value(&steps, R_BYPASS), Some(0x00));
    }
}
