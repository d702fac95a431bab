//! The motion detector: JPEG frame → luma grid → `change` against the
//! previous frame.
//!
//! Source: seed chapter "Pushing events to the dashboard" (the detector task
//! compares each new frame with the previous one and fires when the change is
//! above the threshold); `docs/protocol.md` for the `change` field.
//!
//! ## What `change` means
//! The frame's luma (the JPEG's own Y plane, 0–255) is averaged over square
//! cells of [`DetectorConfig::cell_px`] pixels (8 × 8 by default,
//! so a QVGA frame is a 40 × 30 grid). A cell *changed* when its mean luma
//! differs from the same cell of the reference grid by more than
//! [`DetectorConfig::cell_delta`] grey levels. `change` is the number of
//! changed cells divided by the number of cells: a number in `[0, 1]`, where
//! 0 means no cell moved and 1 means every cell did. Averaging over cells
//! removes sensor noise and JPEG block artefacts before comparing. With
//! 8-pixel cells (the default) the cells are the JPEG's own 8 × 8 blocks,
//! and their means are read off the DC coefficients ([`crate::jpeg_dc`]):
//! no inverse DCT and no frame-sized buffer; other cell sizes, and JPEGs
//! that path does not handle (progressive), are decoded in full (zune-jpeg),
//! in builds with the `full-decode` feature (the default). The firmware
//! builds without it: the full decoder is 72 KB of code and its QVGA luma
//! plane 76.8 KB of a 160 KiB heap, so there `cell_px` is 8 and a JPEG the
//! DC path cannot read is a [`FrameError`].
//!
//! Cells are also compared after removing the global brightness shift
//! between the two frames (the difference of their median cell luma), and
//! the smaller of the two changes is kept: a light or the camera's exposure
//! changing the whole scene then does not move every cell, while a large
//! object (which shifts the median too) is still seen. A
//! frame in which nearly every cell still changed
//! ([`DetectorConfig::lightswitch`]) is a lighting change, not motion.
//!
//! The reference is the previous good frame (frame differencing, as in the
//! seed chapter). The first frame, and a frame whose size differs from the
//! reference, has `change = 0` and becomes the reference. A frame that does
//! not decode is a [`FrameError`]: it never becomes the reference.

use alloc::vec::Vec;
use core::fmt;

#[cfg(feature = "full-decode")]
use zune_core::bytestream::ZCursor;
#[cfg(feature = "full-decode")]
use zune_core::colorspace::ColorSpace;
#[cfg(feature = "full-decode")]
use zune_core::options::DecoderOptions;
#[cfg(feature = "full-decode")]
use zune_jpeg::JpegDecoder;

/// Tuning of the [`Detector`]. Defaults suit QVGA (320 × 240) frames.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DetectorConfig {
    /// Side of a grid cell in pixels (default 8). Partial cells at the right
    /// and bottom edges are ignored.
    pub cell_px: u16,
    /// Grey levels (0–255) by which a cell's mean luma must differ from the
    /// reference for the cell to count as changed (default 12).
    pub cell_delta: u8,
    /// Largest accepted frame width and height in pixels (default 4096);
    /// larger frames are refused before any pixel is decoded.
    pub max_dimension: u16,
    /// Also compare cells after removing the global brightness shift between
    /// the two frames (the difference of their median cell luma) and keep the
    /// smaller change, so a light or the camera's exposure changing the whole
    /// scene does not count as motion (default on).
    pub compensate_lighting: bool,
    /// Fraction of cells in `(0, 1]`: a frame in which at least this many
    /// cells still changed after compensation is a lighting change (a light
    /// switched, exposure jumped), not motion: it raises no event and
    /// becomes the reference (default 0.9; above 1 disables it).
    pub lightswitch: f64,
    /// Frames in a row whose `change` must exceed the threshold before they
    /// count as motion (default 1: every such frame). With 3, a one- or
    /// two-frame glitch (sensor noise, a JPEG artefact burst) raises
    /// nothing; a lasting motion raises its first event on its third frame.
    /// Used by the cam ([`crate::Cam`]), after detection. After Motion's
    /// `minimum_motion_frames`.
    pub min_motion_frames: u32,
    /// Capture-time gap in ms: once motion has raised an event, motion
    /// frames less than this long after the previous motion frame belong to
    /// the same episode and raise no further event (default 0: every motion
    /// frame raises one). An owner gets one event per visit, not one per
    /// frame. After Motion's `event_gap`.
    pub event_gap_ms: u64,
    /// Compare each cell with the range of the reference's cell and its
    /// eight neighbours instead of the cell alone, so that camera shake of
    /// up to half a cell (4 pixels with 8-pixel cells) is not motion
    /// ([`LumaGrid::change_against_shaken`]; default off).
    pub tolerate_shake: bool,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        Self {
            cell_px: 8,
            cell_delta: 12,
            max_dimension: 4096,
            compensate_lighting: true,
            lightswitch: 0.9,
            min_motion_frames: 1,
            event_gap_ms: 0,
            tolerate_shake: false,
        }
    }
}

/// Why a frame could not be used. The frame is not counted and does not
/// become the reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// Empty body: no bytes at all.
    Empty,
    /// The bytes are not a decodable baseline/progressive JPEG; the text is
    /// the decoder's own message.
    Decode(alloc::string::String),
    /// The frame is smaller than one grid cell or larger than
    /// [`DetectorConfig::max_dimension`]; `(width, height)` in pixels.
    BadSize(usize, usize),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Empty => write!(f, "empty frame"),
            FrameError::Decode(e) => write!(f, "not a decodable JPEG: {e}"),
            FrameError::BadSize(w, h) => write!(f, "unsupported frame size {w}x{h}"),
        }
    }
}

impl core::error::Error for FrameError {}

/// Mean luma per cell of one frame: `cols × rows` cells, row-major, 0–255.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LumaGrid {
    /// Cells per row.
    pub cols: usize,
    /// Rows of cells.
    pub rows: usize,
    /// `cols * rows` mean luma values, row-major.
    pub cells: Vec<u8>,
}

impl LumaGrid {
    /// Decodes `jpeg` to luma and averages it into cells of `cfg.cell_px`
    /// pixels.
    ///
    /// # Errors
    /// [`FrameError`] when the bytes are empty, do not decode, or the frame
    /// is smaller than one cell or larger than `cfg.max_dimension`.
    pub fn from_jpeg(jpeg: &[u8], cfg: &DetectorConfig) -> Result<Self, FrameError> {
        if jpeg.is_empty() {
            return Err(FrameError::Empty);
        }
        // 8-pixel cells are the JPEG's own blocks: read their means off the
        // DC coefficients (`jpeg_dc`), no full decode needed.
        if cfg.cell_px == 8
            && let Some(grid) = crate::jpeg_dc::luma_grid(jpeg, usize::from(cfg.max_dimension))?
        {
            return Ok(grid);
        }
        Self::decoded(jpeg, cfg)
    }

    /// The full decode (zune-jpeg) to a luma plane, then cells.
    #[cfg(feature = "full-decode")]
    fn decoded(jpeg: &[u8], cfg: &DetectorConfig) -> Result<Self, FrameError> {
        let max = usize::from(cfg.max_dimension);
        let options =
            DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::Luma).set_max_width(max).set_max_height(max);
        let mut decoder = JpegDecoder::new_with_options(ZCursor::new(jpeg), options);
        let luma = decoder.decode().map_err(|e| FrameError::Decode(alloc::format!("{e:?}")))?;
        let (width, height) = decoder.dimensions().ok_or(FrameError::BadSize(0, 0))?;
        if luma.len() < width * height {
            return Err(FrameError::Decode("short pixel buffer".into()));
        }
        Self::from_luma(&luma, width, height, cfg.cell_px)
    }

    /// Without the full decoder: what the DC path could not read is refused.
    #[cfg(not(feature = "full-decode"))]
    fn decoded(_jpeg: &[u8], cfg: &DetectorConfig) -> Result<Self, FrameError> {
        Err(FrameError::Decode(if cfg.cell_px == 8 {
            "not a baseline JPEG (this build reads baseline JPEGs only)".into()
        } else {
            alloc::format!("{}-pixel cells need the full decoder, not in this build", cfg.cell_px)
        }))
    }

    /// Averages a `width × height` luma plane (row-major, one byte per pixel)
    /// into cells of `cell_px` pixels.
    ///
    /// # Errors
    /// [`FrameError::BadSize`] when the plane holds less than one cell.
    pub fn from_luma(luma: &[u8], width: usize, height: usize, cell_px: u16) -> Result<Self, FrameError> {
        let cell = usize::from(cell_px.max(1));
        let (cols, rows) = (width / cell, height / cell);
        if cols == 0 || rows == 0 || luma.len() < width * height {
            return Err(FrameError::BadSize(width, height));
        }
        let mut sums = alloc::vec![0u32; cols];
        let mut cells = Vec::with_capacity(cols * rows);
        let area = (cell * cell) as u32;
        for row in 0..rows {
            sums.iter_mut().for_each(|s| *s = 0);
            for y in row * cell..(row + 1) * cell {
                let line = &luma[y * width..y * width + cols * cell];
                for (sum, px) in sums.iter_mut().zip(line.chunks_exact(cell)) {
                    *sum += px.iter().map(|&p| u32::from(p)).sum::<u32>();
                }
            }
            cells.extend(sums.iter().map(|&s| ((s + area / 2) / area) as u8));
        }
        Ok(Self { cols, rows, cells })
    }

    /// Fraction of cells whose mean luma differs from `other`'s by more than
    /// `delta` grey levels, in `[0, 1]`, after removing `offset` (this
    /// grid's level minus `other`'s). `None` when the grids differ in shape.
    pub fn change_against(&self, other: &LumaGrid, delta: u8, offset: i16) -> Option<f64> {
        if self.cols != other.cols || self.rows != other.rows {
            return None;
        }
        let delta = i16::from(delta);
        let changed = self
            .cells
            .iter()
            .zip(&other.cells)
            .filter(|(a, b)| (i16::from(**a) - i16::from(**b) - offset).abs() > delta)
            .count();
        Some(changed as f64 / self.cells.len() as f64)
    }

    /// Like [`LumaGrid::change_against`], but a cell counts as changed only
    /// when it is more than `delta` outside the range (min to max) of
    /// `other`'s cell and its eight neighbours: a shift of the whole image
    /// by up to half a cell (camera shake) blends a cell with its
    /// neighbours and stays inside that range, while an object of its own
    /// brightness leaves it.
    pub fn change_against_shaken(&self, other: &LumaGrid, delta: u8, offset: i16) -> Option<f64> {
        if self.cols != other.cols || self.rows != other.rows {
            return None;
        }
        let (cols, rows, delta) = (self.cols, self.rows, i16::from(delta));
        let mut changed = 0usize;
        for row in 0..rows {
            for col in 0..cols {
                let (mut lo, mut hi) = (u8::MAX, u8::MIN);
                for r in row.saturating_sub(1)..=(row + 1).min(rows - 1) {
                    for c in col.saturating_sub(1)..=(col + 1).min(cols - 1) {
                        let v = other.cells[r * cols + c];
                        lo = lo.min(v);
                        hi = hi.max(v);
                    }
                }
                let v = i16::from(self.cells[row * cols + col]) - offset;
                if v < i16::from(lo) - delta || v > i16::from(hi) + delta {
                    changed += 1;
                }
            }
        }
        Some(changed as f64 / self.cells.len() as f64)
    }

    /// The median cell luma (0–255).
    pub fn median(&self) -> u8 {
        let mut histogram = [0usize; 256];
        for &c in &self.cells {
            histogram[usize::from(c)] += 1;
        }
        let half = self.cells.len().div_ceil(2);
        let mut seen = 0;
        for (level, n) in histogram.iter().enumerate() {
            seen += n;
            if seen >= half {
                return level as u8;
            }
        }
        255
    }
}

/// What the detector made of one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measurement {
    /// Fraction of grid cells that changed, in `[0, 1]`.
    pub change: f64,
    /// The change is a lighting change (at least
    /// [`DetectorConfig::lightswitch`] of the cells), not motion.
    pub lighting: bool,
}

/// Frame-differencing motion detector. Holds the reference grid (the
/// previous good frame); no clock, no I/O.
#[derive(Debug, Clone, Default)]
pub struct Detector {
    config: DetectorConfig,
    reference: Option<LumaGrid>,
}

impl Detector {
    /// A detector with no reference frame yet.
    pub fn new(config: DetectorConfig) -> Self {
        Self { config, reference: None }
    }

    /// Its configuration.
    pub fn config(&self) -> &DetectorConfig {
        &self.config
    }

    /// Compares `jpeg` with the reference and makes it the new reference.
    /// Returns its `change` in `[0, 1]` (see the module docs; 0 for the first
    /// frame or a frame of a new size) and whether it is a lighting change.
    ///
    /// # Errors
    /// [`FrameError`] for a frame that does not decode; the reference is
    /// left as it was.
    pub fn process(&mut self, jpeg: &[u8]) -> Result<Measurement, FrameError> {
        let grid = LumaGrid::from_jpeg(jpeg, &self.config)?;
        let measurement = match &self.reference {
            Some(r) => {
                let delta = self.config.cell_delta;
                let compare = |offset: i16| {
                    if self.config.tolerate_shake {
                        grid.change_against_shaken(r, delta, offset)
                    } else {
                        grid.change_against(r, delta, offset)
                    }
                };
                let raw = compare(0).unwrap_or(0.0);
                // Compensation only when it explains the frame better: a
                // large object entering also moves the median, and then the
                // raw comparison is the right one.
                let change = if self.config.compensate_lighting {
                    let offset = i16::from(grid.median()) - i16::from(r.median());
                    raw.min(compare(offset).unwrap_or(raw))
                } else {
                    raw
                };
                Measurement { change, lighting: change >= self.config.lightswitch }
            }
            None => Measurement { change: 0.0, lighting: false },
        };
        self.reference = Some(grid);
        Ok(measurement)
    }

    /// Forgets the reference frame; the next frame has `change = 0`.
    pub fn reset(&mut self) {
        self.reference = None;
    }
}
