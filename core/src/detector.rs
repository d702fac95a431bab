//! The motion detector: JPEG frame → luma grid → `change` against the
//! previous frame, or against a per-cell background model
//! ([`Background`], opt-in).
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
//! 0 means no cell moved and 1 means every cell did. With
//! [`DetectorConfig::grade_cells`] (the default) each changed cell counts
//! by how far it moved beyond `cell_delta`, in full from twice that.
//! Averaging over cells removes sensor noise and JPEG block artefacts
//! before comparing. With
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
//! object (which shifts the median too) is still seen. A frame in which
//! nearly every cell still changed ([`DetectorConfig::lightswitch`]) is a
//! lighting change, not motion: the cells that changed by any amount
//! beyond their threshold are counted whole, graded or not, in the
//! comparison (raw, compensated, shake removed) that leaves the fewest.
//!
//! The reference is the previous good frame (frame differencing, as in the
//! seed chapter), or with [`DetectorConfig::background`] a per-cell
//! background model ([`Background`]). The first frame, and a frame whose
//! size differs from the reference, has `change = 0` and becomes the
//! reference. A frame that does
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
    /// reference for the cell to count as changed (default 16; the seed's
    /// detector used 12).
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
    /// cells still changed after compensation (and shake removal) is a
    /// lighting change (a light switched, exposure jumped), not motion: it
    /// raises no event and becomes the reference (default 0.9; above 1
    /// disables it). Changed cells count whole here, graded or not.
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
    /// Remove camera shake: when cells changed, estimate the shift of the
    /// whole image against the reference (up to 3/4 of a cell, 6 pixels
    /// with 8-pixel cells) and compare each cell with the reference
    /// sampled where its content came from, keeping the smaller change
    /// ([`LumaGrid::change_against_shaken`]; default on).
    pub tolerate_shake: bool,
    /// Compare each frame with a per-cell background model instead of the
    /// previous frame ([`Background`]; default off).
    pub background: bool,
    /// Background model: frames over which a cell's mean and spread follow
    /// it while it is not foreground (a learning rate of 1 / this, 1–64;
    /// default 8).
    pub learn_frames: u32,
    /// Background model: frames a foreground cell must hold still, after
    /// the frame it arrived on, before it becomes background, so an object
    /// left behind or a person sitting still stops being motion (default
    /// 10). With 0 a cell holding still is background at once: only cells
    /// that moved since the previous frame (by more than their own noise
    /// threshold) are foreground.
    pub absorb_frames: u32,
    /// Background model: a cell is foreground when it is further from its
    /// mean than the larger of [`DetectorConfig::cell_delta`] and this many
    /// times its spread (mean absolute deviation; default 3).
    pub noise_factor: f64,
    /// Grade each changed cell by how far it moved beyond its threshold
    /// (`cell_delta`, or the background model's per-cell threshold): it
    /// counts in full from twice the threshold, and in proportion below
    /// that, so a cell that barely passes counts little ([`cell_weight`];
    /// default on). A flickering light or monitor, which moves a few cells
    /// a little, then weighs less than a small object moving, which moves
    /// them far. `change` stays a fraction of the cells in `[0, 1]`.
    pub grade_cells: bool,
    /// Motion goes on while `change` stays above `threshold` × this, once
    /// a frame went above `threshold`; 1 or more: no hysteresis (default
    /// 0.3). Used by the cam ([`crate::Cam`]), after detection.
    pub hysteresis: f64,
}

/// The defaults are those chosen on every labelled fixture clip by
/// `cam-hil eval --loco` (`docs/detector.md`, "Choosing the defaults"):
/// frame differencing at 16 grey levels with camera shake removed, cells
/// graded and hysteresis 0.3, with [`crate::protocol::DEFAULT_THRESHOLD`]
/// (0.003).
impl Default for DetectorConfig {
    fn default() -> Self {
        Self {
            cell_px: 8,
            cell_delta: 16,
            max_dimension: 4096,
            compensate_lighting: true,
            lightswitch: 0.9,
            min_motion_frames: 1,
            event_gap_ms: 0,
            tolerate_shake: true,
            background: false,
            learn_frames: 8,
            absorb_frames: 10,
            noise_factor: 3.0,
            grade_cells: true,
            hysteresis: 0.3,
        }
    }
}

impl DetectorConfig {
    /// The seed chapter's detector, the defaults before they were tuned:
    /// frame differencing at 12 grey levels, no shake removal, no
    /// hysteresis, with [`crate::protocol::SEED_THRESHOLD`] (0.05). What
    /// `cam-hil eval --loco` compares the defaults with.
    pub fn seed() -> Self {
        Self { cell_delta: 12, tolerate_shake: false, grade_cells: false, hysteresis: 1.0, ..Self::default() }
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
    /// grid's level minus `other`'s); with `grade`, each such cell counts
    /// by how far beyond `delta` it is ([`DetectorConfig::grade_cells`]).
    /// `None` when the grids differ in shape.
    pub fn change_against(&self, other: &LumaGrid, delta: u8, offset: i16, grade: bool) -> Option<f64> {
        self.compare(other, delta, offset, grade).map(|c| c.change(self.cells.len()))
    }

    /// [`LumaGrid::change_against`] with the count of changed cells kept
    /// beside the (graded) weight, for the lightswitch rule.
    fn compare(&self, other: &LumaGrid, delta: u8, offset: i16, grade: bool) -> Option<Compared> {
        if self.cols != other.cols || self.rows != other.rows {
            return None;
        }
        let delta = i32::from(delta);
        let distances =
            self.cells.iter().zip(&other.cells).map(|(a, b)| (i32::from(*a) - i32::from(*b) - i32::from(offset)).abs());
        if !grade {
            // Every changed cell weighs 256: one sum gives both.
            let cells: u32 = distances.map(|d| u32::from(d > delta)).sum();
            return Some(Compared { weight: cells * 256, cells });
        }
        Some(distances.fold(Compared::default(), |sum, d| sum.add(d, delta, true)))
    }

    /// Like [`LumaGrid::change_against`], after removing camera shake: the
    /// shift of the whole image from `other` to this grid is estimated
    /// ([`global_shift`], up to 3/4 of a cell) and each cell is compared
    /// with `other` sampled where its content came from (bilinear). Cells
    /// whose content came in over the frame's edge are not counted. An
    /// object moving against a still scene leaves the shift near zero and
    /// is counted as by [`LumaGrid::change_against`]. With `fit_level` the
    /// brightness shift is fitted too, starting from `offset` (lighting
    /// compensation); without, it stays `offset`. With `grade`, as for
    /// [`LumaGrid::change_against`].
    pub fn change_against_shaken(
        &self,
        other: &LumaGrid,
        delta: u8,
        offset: i16,
        fit_level: bool,
        grade: bool,
    ) -> Option<f64> {
        self.compare_shaken(other, delta, offset, fit_level, grade).map(|c| c.change(self.cells.len()))
    }

    /// [`LumaGrid::change_against_shaken`] with the count of changed cells
    /// kept beside the weight.
    fn compare_shaken(
        &self,
        other: &LumaGrid,
        delta: u8,
        offset: i16,
        fit_level: bool,
        grade: bool,
    ) -> Option<Compared> {
        if self.cols != other.cols || self.rows != other.rows {
            return None;
        }
        let shape = (self.cols, self.rows);
        let Some(shake) = global_shift(&other.cells, 1, &self.cells, i32::from(offset), fit_level, shape) else {
            return self.compare(other, delta, offset, grade);
        };
        let delta = i32::from(delta) * 256;
        let compared = (0..self.cells.len()).filter(|&i| on_grid(self.cols, self.rows, i, shake.shift)).fold(
            Compared::default(),
            |sum, i| {
                let shifted = sample(&other.cells, self.cols, self.rows, i, shake.shift);
                let slack = shake_slack(shifted, i32::from(other.cells[i]) * 256);
                let distance = (i32::from(self.cells[i]) * 256 - shifted - shake.level).abs();
                sum.add(distance, delta + slack, grade)
            },
        );
        Some(compared)
    }

    /// The median cell luma (0–255).
    pub fn median(&self) -> u8 {
        median16(self.cells.iter().map(|&c| u16::from(c) * 16)) as u8
    }
}

/// What a cell that is `distance` from its reference counts for, in 1/256
/// of a cell, against the threshold `threshold` (both in the same unit):
/// nothing within the threshold; beyond it, all (256) when not `grade`d,
/// else the excess over the threshold as a share of the threshold, all
/// from twice the threshold ([`DetectorConfig::grade_cells`]).
fn cell_weight(distance: i32, threshold: i32, grade: bool) -> u32 {
    let excess = distance - threshold;
    if excess <= 0 {
        0
    } else if !grade || threshold <= 0 {
        256
    } else {
        (excess.min(threshold) * 256 / threshold) as u32
    }
}

/// What one comparison of a grid with its reference found: the changed
/// cells' weight in 1/256 of a cell ([`cell_weight`]: graded or whole) and
/// how many cells changed at all (for the lightswitch rule, which counts
/// cells whole).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Compared {
    weight: u32,
    cells: u32,
}

impl Compared {
    /// This and a cell `distance` from its reference against `threshold`
    /// (both in the same unit).
    fn add(self, distance: i32, threshold: i32, grade: bool) -> Self {
        Self {
            weight: self.weight + cell_weight(distance, threshold, grade),
            cells: self.cells + u32::from(distance > threshold),
        }
    }

    /// `change`: the weight as a fraction of `n` cells.
    fn change(self, n: usize) -> f64 {
        f64::from(self.weight) / 256.0 / n as f64
    }

    /// The changed cells as a fraction of `n` cells.
    fn changed(self, n: usize) -> f64 {
        f64::from(self.cells) / n as f64
    }

    /// The smaller weight and the smaller count of the two (a comparison
    /// that explains the frame better lowers both; the rule takes the
    /// fewest cells any comparison leaves changed).
    fn min(self, other: Self) -> Self {
        Self { weight: self.weight.min(other.weight), cells: self.cells.min(other.cells) }
    }
}

/// Whether cell `i` of a `cols × rows` grid, moved by `(sx, sy)` cells in
/// 1/256, still lies on the grid: content that came in over the frame's
/// edge cannot be predicted from the reference.
fn on_grid(cols: usize, rows: usize, i: usize, (sx, sy): (i32, i32)) -> bool {
    let (x, y) = ((i % cols) as i32 * 256 + sx, (i / cols) as i32 * 256 + sy);
    x >= 0 && y >= 0 && x <= (cols as i32 - 1) * 256 && y <= (rows as i32 - 1) * 256
}

/// `values` (a `cols × rows` grid, row-major) sampled bilinearly at cell
/// `i` moved by `(sx, sy)` cells in 1/256, clamped to the grid; in 1/256
/// of the values' own unit.
fn sample<T: Copy + Into<u32>>(values: &[T], cols: usize, rows: usize, i: usize, (sx, sy): (i32, i32)) -> i32 {
    let (x, y) = ((i % cols) as i32 * 256 + sx, (i / cols) as i32 * 256 + sy);
    let (x0, y0) = (x >> 8, y >> 8);
    // The fractions, 0..=255, as weights.
    let (fx, fy) = ((x & 255) as u32, (y & 255) as u32);
    let at = |r: i32, c: i32| {
        let (r, c) = (r.clamp(0, rows as i32 - 1) as usize, c.clamp(0, cols as i32 - 1) as usize);
        values[r * cols + c].into()
    };
    // In u32: a value of at most 65,535 times 256 × 256 still fits, and on
    // the C3 (32-bit) that is one multiply, where i64 takes several.
    let top = at(y0, x0) * (256 - fx) + at(y0, x0 + 1) * fx;
    let bottom = at(y0 + 1, x0) * (256 - fx) + at(y0 + 1, x0 + 1) * fx;
    ((top * (256 - fy) + bottom * fy + 128) >> 8) as i32
}

/// How far a cell may be from its shake-shifted reference `shifted` and
/// still be taken as shaken, beyond the usual threshold: half of what the
/// shift itself changed it by (from `unshifted`). Sampling cell means
/// bilinearly is exact for soft edges only; a sharp edge inside a cell
/// moves its mean by up to that much more, while a flat cell, where an
/// object would stand out, gets no slack.
fn shake_slack(shifted: i32, unshifted: i32) -> i32 {
    (shifted - unshifted).abs() / 2
}

/// Largest camera shift [`global_shift`] accepts between two frames: 3/4
/// of a cell (6 pixels with 8-pixel cells).
const MAX_SHIFT: i32 = 192;

/// Smallest shift component [`global_shift`] reports: 1/8 cell.
const MIN_SHIFT: i32 = 32;

/// Gauss–Newton steps [`global_shift`] takes at most.
const STEPS: usize = 4;

/// A Gauss–Newton step that moves the shift by less than this along both
/// axes (1/32 cell, a quarter pixel) ends [`global_shift`]'s fit: it has
/// converged. A frame without shake usually stops after one or two steps;
/// each step samples the reference five times per cell, the fit's main
/// cost on the C3.
const CONVERGED: i32 = 8;

/// Camera shake between a reference and a frame, as [`global_shift`]
/// estimates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Shake {
    /// Where each cell's content was in the reference: `(x, y)` in 1/256
    /// cell.
    shift: (i32, i32),
    /// What the frame's level is above the reference's once shifted, in
    /// 1/256 of the reference's unit.
    level: i32,
}

/// The shake of the whole image from the reference `from` to the grid
/// `to`, both `cols × rows`: the shift and level for which `to[i]` best
/// matches `from` sampled at cell `i` moved by the shift, plus the level
/// (least squares, up to [`STEPS`] Gauss–Newton steps, until one moves the
/// shift by less than [`CONVERGED`], from no shift and the level
/// `offset`, in integer sums). `from` is in 1/`scale` grey levels (1 for a
/// frame's cells, 16 for the background model's means); `to` and `offset`
/// in grey levels. Without `fit_level` (lighting compensation off) the
/// level stays `offset` and only the shift is fitted. `None` when the scene
/// has no texture to tell a shift by, or the fit goes beyond [`MAX_SHIFT`].
fn global_shift<T: Copy + Into<u32>>(
    from: &[T],
    scale: i32,
    to: &[u8],
    offset: i32,
    fit_level: bool,
    (cols, rows): (usize, usize),
) -> Option<Shake> {
    let mut shake = Shake { shift: (0, 0), level: offset * scale * 256 };
    for _ in 0..STEPS {
        // The normal equations of the residual against (x, y, level), from
        // sums over the cells of the gradients (x, y), the residual and
        // their products, in i64 (the products reach 10^12); the level's
        // gradient is the constant 256.
        let (mut xx, mut xy, mut yy, mut sx, mut sy) = (0i64, 0i64, 0i64, 0i64, 0i64);
        let (mut xr, mut yr, mut sr) = (0i64, 0i64, 0i64);
        for (i, &v) in to.iter().enumerate() {
            let at = |dx: i32, dy: i32| sample(from, cols, rows, i, (shake.shift.0 + dx, shake.shift.1 + dy));
            // Gradients over one cell, so in the values' unit per cell.
            let (gx, gy) = (i64::from(at(128, 0) - at(-128, 0)), i64::from(at(0, 128) - at(0, -128)));
            let r = i64::from(i32::from(v) * scale * 256 - at(0, 0) - shake.level);
            (xx, xy, yy, sx, sy) = (xx + gx * gx, xy + gx * gy, yy + gy * gy, sx + gx, sy + gy);
            (xr, yr, sr) = (xr + gx * r, yr + gy * r, sr + r);
        }
        let m = if fit_level {
            [[xx, xy, 256 * sx], [xy, yy, 256 * sy], [256 * sx, 256 * sy, 65_536 * to.len() as i64]]
        } else {
            // The level's row and column are all 0: make its step 0.
            [[xx, xy, 0], [xy, yy, 0], [0, 0, 1]]
        };
        let b = [xr, yr, if fit_level { 256 * sr } else { 0 }];
        // Solved once per step in floating point (Cramer's rule): the sums
        // reach 10^15.
        let m = m.map(|row| row.map(|x| x as f64));
        let b = b.map(|x| x as f64);
        let det3 = |c0: [f64; 3], c1: [f64; 3], c2: [f64; 3]| {
            c0[0] * (c1[1] * c2[2] - c1[2] * c2[1]) - c1[0] * (c0[1] * c2[2] - c0[2] * c2[1])
                + c2[0] * (c0[1] * c1[2] - c0[2] * c1[1])
        };
        let col = |k: usize| [m[0][k], m[1][k], m[2][k]];
        let det = det3(col(0), col(1), col(2));
        if det.abs() < 1.0 {
            return None;
        }
        let step = |k: usize| {
            let mut cols = [col(0), col(1), col(2)];
            cols[k] = b;
            det3(cols[0], cols[1], cols[2]) / det
        };
        let (dx, dy) = ((step(0) * 256.0) as i32, (step(1) * 256.0) as i32);
        shake.shift.0 += dx;
        shake.shift.1 += dy;
        shake.level += (step(2) * 256.0) as i32;
        if shake.shift.0.abs() > MAX_SHIFT || shake.shift.1.abs() > MAX_SHIFT {
            return None;
        }
        if dx.abs() < CONVERGED && dy.abs() < CONVERGED {
            break;
        }
    }
    // Less than a pixel (1/8 cell) along an axis is no shift: the fit is
    // that uncertain, and a cell compared with a neighbour's range it
    // did not move towards would miss small movements.
    let settle = |s: i32| if s.abs() < MIN_SHIFT { 0 } else { s };
    shake.shift = (settle(shake.shift.0), settle(shake.shift.1));
    Some(shake)
}

/// The integer type of [`Background::judge_cells`]' per-cell arithmetic,
/// whose values all fit in i16 (see there): i16 where the compiler packs it
/// eight to a vector (x86-64's SSE2, AArch64's NEON), i32 on a core without
/// vectors (the C3's riscv32imc), where every i16 step costs a sign
/// extension. The two give the same results; riscv32 instruction counts in
/// `docs/benchmarks.md`.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
type Lane = i16;
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
type Lane = i32;

/// No earlier background kept for a cell ([`Background`]'s `prior`).
const NO_PRIOR: u16 = u16::MAX;

/// The median of grey levels (0–255) given as 1/16 levels.
fn median16(values: impl Iterator<Item = u16>) -> i32 {
    let mut histogram = [0usize; 256];
    let mut n = 0usize;
    for v in values {
        histogram[usize::from((v + 8) / 16).min(255)] += 1;
        n += 1;
    }
    let (half, mut seen) = (n.div_ceil(2), 0);
    for (level, count) in histogram.iter().enumerate() {
        seen += count;
        if seen >= half {
            return level as i32;
        }
    }
    255
}

/// A per-cell background model on the cell grid, in the manner of the
/// Motion project's reference frame and of MOG: for every cell a running
/// mean and spread (mean absolute deviation) of its luma, in 1/16 grey
/// levels.
///
/// - A cell is *foreground* when it is further from its mean than the
///   larger of `cell_delta` and `noise_factor` × its spread (the noise is
///   estimated per cell, so a swaying tree needs more than a wall), or
///   when it moved that much since the previous frame (what frame
///   differencing sees, the model sees too).
/// - Cells that are not foreground update their mean and spread at a rate
///   of 1 / `learn_frames` (selective update: an object passing does not
///   smear into the background; a slow light change is followed).
/// - A foreground cell that holds still (within its threshold of the frame
///   before) for `absorb_frames` frames after the one it arrived on becomes
///   background: an object left behind, a person sitting still. Its old mean is kept, and when the
///   scene behind comes back (the object is taken away again) the cell
///   returns to it at once instead of leaving a ghost.
/// - A lighting change ([`DetectorConfig::lightswitch`]) makes the frame
///   the background.
///
/// For a 40 × 30 grid it holds 1,200 cells × 13 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Background {
    cols: usize,
    rows: usize,
    /// Mean luma per cell, in 1/16 grey levels.
    mean: Vec<u16>,
    /// Mean absolute deviation from `mean` while not foreground, in 1/16
    /// grey levels.
    spread: Vec<u16>,
    /// The foreground threshold that follows from it, in 1/16 grey levels:
    /// the larger of `cell_delta` and `noise_factor` × `spread`.
    threshold: Vec<u16>,
    /// Frames a foreground cell has held still.
    still: Vec<u16>,
    /// The mean before the cell absorbed what covers it, or [`NO_PRIOR`].
    prior: Vec<u16>,
    /// How many cells have a `prior`: without any, judging skips them.
    priors: usize,
    /// The previous frame's cells.
    prev: Vec<u8>,
    /// Their median (0–255).
    prev_median: u8,
    /// The last [`Background::judge`]'s findings per cell, one array per
    /// pair (raw, compensated): bit 0 close, 1 uncovered, 2 moved.
    judged: [Vec<u8>; 2],
}

impl Background {
    /// A model of `grid` alone: its cells as means, no spread yet, so every
    /// cell's threshold starts at `cfg.cell_delta` (× 16: thresholds,
    /// means and spreads are kept in 1/16 grey levels).
    pub fn new(grid: &LumaGrid, cfg: &DetectorConfig) -> Self {
        let n = grid.cells.len();
        Self {
            cols: grid.cols,
            rows: grid.rows,
            mean: grid.cells.iter().map(|&v| u16::from(v) * 16).collect(),
            spread: alloc::vec![0; n],
            threshold: alloc::vec![u16::from(cfg.cell_delta) * 16; n],
            still: alloc::vec![0; n],
            prior: alloc::vec![NO_PRIOR; n],
            priors: 0,
            prev: grid.cells.clone(),
            prev_median: grid.median(),
            judged: [alloc::vec![0; n], alloc::vec![0; n]],
        }
    }

    /// Whether `grid` has this model's shape.
    pub fn fits(&self, grid: &LumaGrid) -> bool {
        self.cols == grid.cols && self.rows == grid.rows
    }

    /// The median of the cells' means (0–255).
    pub fn median(&self) -> u8 {
        median16(self.mean.iter().copied()) as u8
    }

    /// Judges every cell of `grid` under the `(offset, prev_offset)` pair
    /// `k` (0: raw, 1: compensated): the grid's brightness shift against
    /// the model and against the previous frame. A cell is
    /// - *close* when it is within its threshold of the model (the larger
    ///   of `cell_delta` and `noise_factor` × its spread),
    /// - *uncovered* when, not close, it is back within it of what an
    ///   absorbed object covered,
    /// - *moved* when it moved more than its threshold since the previous
    ///   frame,
    ///
    /// and foreground when neither close nor uncovered, or moved. Returns
    /// the foreground in 1/256 of a cell (each foreground cell counts 256,
    /// or with [`DetectorConfig::grade_cells`] by how far beyond its
    /// threshold it is, [`cell_weight`]) and the foreground cells counted
    /// whole; the judgements stay for [`Background::learn`], in the pair's
    /// own array. One pass, integer arithmetic.
    fn judge(
        &mut self,
        grid: &LumaGrid,
        k: usize,
        (offset, prev_offset): (i32, i32),
        cfg: &DetectorConfig,
    ) -> Compared {
        // With `absorb_frames` 0 a cell away from the model but holding
        // still is background at once: only what moved is foreground.
        let still_counts = u32::from(cfg.absorb_frames > 0);
        let grade = cfg.grade_cells;
        let count = self.judge_cells_as(grid, k, offset, prev_offset, still_counts, grade);
        if !cfg.tolerate_shake || count.weight == 0 {
            return count;
        }
        // Camera shake: judged again with the model and the previous frame
        // sampled where each cell's content came from, and the smaller
        // count kept.
        let shape = (self.cols, self.rows);
        let (Some(to_model), Some(to_prev)) = (
            global_shift(&self.mean, 16, &grid.cells, offset, cfg.compensate_lighting, shape),
            global_shift(&self.prev, 1, &grid.cells, prev_offset, cfg.compensate_lighting, shape),
        ) else {
            return count;
        };
        let shaken = self.judge_shaken(grid, k, (offset, prev_offset), (to_model, to_prev), still_counts, grade);
        // The judgements kept are those of the pass with the smaller weight.
        if shaken.weight < count.weight {
            shaken.min(count)
        } else {
            self.judge_cells_as(grid, k, offset, prev_offset, still_counts, grade).min(shaken)
        }
    }

    /// [`Background::judge_cells`] with grading and the uncovering test
    /// chosen once for the pass, not per cell: `grade` from the settings,
    /// the test only while some cell holds a prior.
    #[allow(clippy::too_many_arguments)]
    fn judge_cells_as(
        &mut self,
        grid: &LumaGrid,
        k: usize,
        offset: i32,
        prev_offset: i32,
        still_counts: u32,
        grade: bool,
    ) -> Compared {
        match (grade, self.priors > 0) {
            (true, true) => self.judge_cells::<true, true>(grid, k, offset, prev_offset, still_counts),
            (true, false) => self.judge_cells::<true, false>(grid, k, offset, prev_offset, still_counts),
            (false, true) => self.judge_cells::<false, true>(grid, k, offset, prev_offset, still_counts),
            (false, false) => self.judge_cells::<false, false>(grid, k, offset, prev_offset, still_counts),
        }
    }

    /// One pair of [`Background::judge`] against each cell's own mean:
    /// branch-free without `GRADE`, one pass over the model's columns.
    fn judge_cells<const GRADE: bool, const PRIORS: bool>(
        &mut self,
        grid: &LumaGrid,
        k: usize,
        offset: i32,
        prev_offset: i32,
        still_counts: u32,
    ) -> Compared {
        // Every value fits in i16 ([`Lane`]): a level less an offset is
        // within -255..=510, so ×16 is within -4,080..=8,160 and every
        // difference with a mean (0..=4,080) within ±8,175; thresholds are
        // kept at most i16::MAX. As i16, NO_PRIOR becomes -1, which the test
        // before masks.
        let (offset, prev_offset) = (offset.clamp(-255, 255) as Lane, prev_offset.clamp(-255, 255) as Lane);
        let (mut count, mut cells) = (0u32, 0u32);
        let model = self.threshold.iter().zip(&self.mean).zip(&self.prev).zip(&self.prior);
        for ((&v, (((&t, &m), &p), &prior)), judged) in grid.cells.iter().zip(model).zip(self.judged[k].iter_mut()) {
            let (v, t) = (Lane::from(v), t as Lane);
            let v16 = (v - offset) * 16;
            let (to_model, to_prev) = ((v16 - m as Lane).abs(), ((v - prev_offset - Lane::from(p)) * 16).abs());
            let close = to_model <= t;
            let moved = to_prev > t;
            let uncovered = PRIORS && !close & (prior != NO_PRIOR) & ((v16 - prior as Lane).abs() <= t);
            let bits = u8::from(close) | (u8::from(uncovered) << 1) | (u8::from(moved) << 2);
            *judged = bits;
            let away = u32::from(!close & !uncovered) & still_counts;
            let foreground = away | u32::from(moved);
            count += if GRADE {
                cells += foreground;
                let t = i32::from(t);
                let from_model = if away != 0 { cell_weight(i32::from(to_model), t, true) } else { 0 };
                from_model.max(cell_weight(i32::from(to_prev), t, true))
            } else {
                256 * foreground
            };
        }
        // Ungraded, every foreground cell weighs 256.
        Compared { weight: count, cells: if GRADE { cells } else { count / 256 } }
    }

    /// One pair of [`Background::judge`] with camera shake removed: each
    /// cell against the model's mean and the previous frame sampled where
    /// its content came from (`shifts`: against the model, against the
    /// previous frame; [`global_shift`]). Cells whose content came in over
    /// the frame's edge are not foreground.
    #[allow(clippy::too_many_arguments)]
    fn judge_shaken(
        &mut self,
        grid: &LumaGrid,
        k: usize,
        (offset, _): (i32, i32),
        (to_model, to_prev): (Shake, Shake),
        still_counts: u32,
        grade: bool,
    ) -> Compared {
        let (cols, rows) = (self.cols, self.rows);
        let (mut count, mut cells) = (0, 0);
        for i in 0..grid.cells.len() {
            let (v, t) = (i32::from(grid.cells[i]), i32::from(self.threshold[i]));
            // In 1/256 of 1/16 grey levels, as `sample` gives the means.
            let (v256, t256) = (v * 16 * 256, t * 256);
            // Distance from the model and from the previous frame, each
            // with its threshold; `None` for content from over the edge.
            let from_model = on_grid(cols, rows, i, to_model.shift).then(|| {
                let shifted = sample(&self.mean, cols, rows, i, to_model.shift);
                let slack = shake_slack(shifted, i32::from(self.mean[i]) * 256);
                ((v256 - shifted - to_model.level).abs(), t256 + slack)
            });
            let from_prev = on_grid(cols, rows, i, to_prev.shift).then(|| {
                let shifted = sample(&self.prev, cols, rows, i, to_prev.shift);
                let slack = shake_slack(shifted, i32::from(self.prev[i]) * 256);
                ((v256 - (shifted + to_prev.level) * 16).abs(), t256 + slack * 16)
            });
            let close = from_model.is_none_or(|(d, t)| d <= t);
            let prior = self.prior[i];
            let uncovered = !close & (prior != NO_PRIOR) & (((v - offset) * 16 - i32::from(prior)).abs() <= t);
            let moved = from_prev.is_some_and(|(d, t)| d > t);
            let bits = u8::from(close) | (u8::from(uncovered) << 1) | (u8::from(moved) << 2);
            self.judged[k][i] = bits;
            let away = (u32::from(!close & !uncovered) & still_counts) != 0;
            let weight = |found: Option<(i32, i32)>| found.map_or(0, |(d, t)| cell_weight(d, t, grade));
            let from_model = if away { weight(from_model) } else { 0 };
            count += from_model.max(weight(from_prev));
            cells += u32::from(away | moved);
        }
        Compared { weight: count, cells }
    }

    /// Learns `grid` (whose median is `median`) under pair `k` of the last
    /// [`Background::judge`], whose brightness shift against the model was
    /// `offset`.
    fn learn(&mut self, grid: &LumaGrid, median: u8, k: usize, offset: i32, cfg: &DetectorConfig) {
        // 1 / learn_frames in 1/65,536: a multiply and a shift per cell
        // instead of a division (differences stay under 2^14, so i32),
        // rounded to the nearest 1/16 grey level either way.
        let rate = (65_536 / i32::try_from(cfg.learn_frames.max(1)).unwrap_or(i32::MAX)).max(1);
        let step = |from: i32, to: i32| from + (((to - from) * rate + 32_768) >> 16);
        let offset16 = offset * 16;
        let absorb = u16::try_from(cfg.absorb_frames.max(1)).unwrap_or(u16::MAX);
        let floor = i32::from(cfg.cell_delta) * 16;
        // `noise_factor` in 1/16, so that the threshold needs no float.
        let factor = (cfg.noise_factor * 16.0).clamp(0.0, 65_536.0) as i32;
        let model = self.mean.iter_mut().zip(self.spread.iter_mut()).zip(self.threshold.iter_mut());
        let cells = model.zip(self.still.iter_mut().zip(self.prior.iter_mut()));
        // One pass, branching on the judgement: most cells are close, and
        // the C3 (no vectors) then does no more than their update.
        for ((&v, &bits), (((mean, spread), threshold), (still, prior))) in
            grid.cells.iter().zip(&self.judged[k]).zip(cells)
        {
            if bits & 1 != 0 {
                // Close to the model, moving or not (a flickering leaf):
                // follow the cell, light changes included, and learn how
                // much it varies (`prior` stays: the object absorbed may
                // still go away). No clamping is needed: a step lands
                // between its ends, all within 0..=8,160.
                let m = i32::from(*mean);
                // The way to the cell's level, for the mean; less the shift,
                // its deviation, for the spread.
                let to_v = i32::from(v) * 16 - m;
                let dev = (to_v - offset16).abs();
                let new_spread = step(i32::from(*spread), dev);
                *mean = (m + ((to_v * rate + 32_768) >> 16)) as u16;
                *spread = new_spread as u16;
                *threshold = floor.max((factor * new_spread) >> 4).min(i32::from(i16::MAX)) as u16;
                *still = 0;
            } else if bits & 4 != 0 {
                // Away from the model and moving.
                *still = 0;
            } else if bits & 2 != 0 {
                // What was behind the absorbed object is seen again.
                *mean = *prior;
                *prior = NO_PRIOR;
                *still = 0;
                self.priors -= 1;
            } else {
                // Away from the model, holding still.
                *still = still.saturating_add(1);
                if *still >= absorb {
                    if *prior == NO_PRIOR {
                        *prior = *mean;
                        self.priors += 1;
                    }
                    *mean = u16::from(v) * 16;
                    *still = 0;
                }
            }
        }
        self.prev.copy_from_slice(&grid.cells);
        self.prev_median = median;
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

/// The motion detector. Holds its reference: the previous good frame
/// (frame differencing), or with [`DetectorConfig::background`] a
/// [`Background`] model; no clock, no I/O.
#[derive(Debug, Clone, Default)]
pub struct Detector {
    config: DetectorConfig,
    reference: Option<LumaGrid>,
    background: Option<Background>,
}

impl Detector {
    /// A detector with no reference frame yet.
    pub fn new(config: DetectorConfig) -> Self {
        Self { config, reference: None, background: None }
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
        Ok(self.process_grid(grid))
    }

    /// [`Detector::process`] for a frame already averaged into cells (of
    /// this detector's `cell_px`): `cam-hil eval` decodes each clip once and
    /// runs many configurations over its grids.
    pub fn process_grid(&mut self, grid: LumaGrid) -> Measurement {
        if self.config.background {
            return self.against_background(&grid);
        }
        let measurement = match &self.reference {
            Some(r) => {
                let (delta, grade) = (self.config.cell_delta, self.config.grade_cells);
                let raw = grid.compare(r, delta, 0, grade).unwrap_or_default();
                // Compensation only when it explains the frame better: a
                // large object entering also moves the median, and then the
                // raw comparison is the right one.
                let offset = i16::from(grid.median()) - i16::from(r.median());
                let mut found = raw;
                if self.config.compensate_lighting {
                    found = found.min(grid.compare(r, delta, offset, grade).unwrap_or(raw));
                }
                // Likewise camera shake, removed only when something changed.
                if self.config.tolerate_shake && found.weight > 0 {
                    let fit_level = self.config.compensate_lighting;
                    let offset = if fit_level { offset } else { 0 };
                    found = found.min(grid.compare_shaken(r, delta, offset, fit_level, grade).unwrap_or(found));
                }
                let n = grid.cells.len();
                Measurement { change: found.change(n), lighting: found.changed(n) >= self.config.lightswitch }
            }
            None => Measurement { change: 0.0, lighting: false },
        };
        self.reference = Some(grid);
        measurement
    }

    /// The [`Background`] path of [`Detector::process`]: the fraction of
    /// foreground cells, the smaller of raw and lighting-compensated as for
    /// frame differencing; then the model learns the frame.
    fn against_background(&mut self, grid: &LumaGrid) -> Measurement {
        let cfg = self.config;
        let model = match &mut self.background {
            Some(model) if model.fits(grid) => model,
            _ => {
                self.background = Some(Background::new(grid, &cfg));
                return Measurement { change: 0.0, lighting: false };
            }
        };
        let median = grid.median();
        let raw = model.judge(grid, 0, (0, 0), &cfg);
        // As for frame differencing, the smaller of the raw and the
        // compensated change; compensation can only lower it, so without a
        // raw change or a shift it is not tried (nor the model's median
        // worked out).
        let shifts =
            || (i32::from(median) - i32::from(model.median()), i32::from(median) - i32::from(model.prev_median));
        let (found, k, offset) = match (cfg.compensate_lighting && raw.weight > 0).then(shifts) {
            Some(shifts) if shifts != (0, 0) => {
                let compensated = model.judge(grid, 1, shifts, &cfg);
                if compensated.weight < raw.weight {
                    (compensated.min(raw), 1, shifts.0)
                } else {
                    (raw.min(compensated), 0, 0)
                }
            }
            _ => (raw, 0, 0),
        };
        let n = grid.cells.len();
        let (change, lighting) = (found.change(n), found.changed(n) >= cfg.lightswitch);
        if lighting {
            // A light switched: this frame is the scene now.
            *model = Background::new(grid, &cfg);
        } else {
            model.learn(grid, median, k, offset, &cfg);
        }
        Measurement { change, lighting }
    }

    /// Forgets the reference frame (and the background model); the next
    /// frame has `change = 0`.
    pub fn reset(&mut self) {
        self.reference = None;
        self.background = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 10 × 10 grid at level 100 with the cells in `object` at `level`.
    fn grid(object: &[usize], level: u8) -> LumaGrid {
        let mut cells = alloc::vec![100u8; 100];
        for &i in object {
            cells[i] = level;
        }
        LumaGrid { cols: 10, rows: 10, cells }
    }

    #[test]
    fn graded_cells_count_by_how_far_they_moved() {
        // 21, 40 and 100 grey levels against `cell_delta` 20.
        let rest = grid(&[], 0);
        let mut g = rest.clone();
        (g.cells[0], g.cells[1], g.cells[2]) = (121, 140, 200);
        assert_eq!(g.change_against(&rest, 20, 0, false), Some(0.03), "three cells");
        // Graded: 1/20 of a cell (12/256 in integers), then one, then one.
        assert_eq!(g.change_against(&rest, 20, 0, true), Some((12.0 + 256.0 + 256.0) / 256.0 / 100.0));
        // The background model grades against each cell's threshold.
        for (grade_cells, faint) in [(false, 0.04), (true, 0.02)] {
            let config = DetectorConfig { background: true, absorb_frames: 0, grade_cells, ..DetectorConfig::seed() };
            let mut d = Detector::new(config);
            d.process_grid(grid(&[], 0));
            let object = [11, 12, 21, 22];
            // 18 grey levels from 100 against `cell_delta` 12: half a cell each.
            assert_eq!(d.process_grid(grid(&object, 118)).change, faint, "grade_cells={grade_cells}");
            d.process_grid(grid(&[], 0));
            assert_eq!(d.process_grid(grid(&object, 200)).change, 0.04, "far: in full, grade_cells={grade_cells}");
        }
    }

    /// `sin(2π · p / period)`, by its Taylor series after reducing the
    /// angle to ±π (the core crate has no `std` maths in tests).
    fn wave(p: f64, period: f64) -> f64 {
        let turns = p / period;
        let x = (turns - (turns + 0.5).floor()) * 2.0 * core::f64::consts::PI;
        let (mut term, mut sum) = (x, x);
        for k in 1..12 {
            term *= -x * x / f64::from((2 * k) * (2 * k + 1));
            sum += term;
        }
        sum
    }

    /// A 320 × 240 scene seen by a camera moved `(dx, dy)` pixels: soft
    /// waves along both axes (up to about 6 grey levels a pixel; a lens
    /// renders no edge sharper than its pixels), and where `object` is
    /// given, a 32-pixel square at level 250 with its corner there (in
    /// scene pixels).
    fn shaken_frame(dx: i32, dy: i32, object: Option<(i32, i32)>) -> LumaGrid {
        let (w, h) = (320usize, 240usize);
        let mut luma = alloc::vec![0u8; w * h];
        for y in 0..h {
            for x in 0..w {
                let (sx, sy) = (x as i32 + dx + 16, y as i32 + dy + 16);
                let mut v = (128.0 + 62.0 * wave(f64::from(sx), 72.0) + 62.0 * wave(f64::from(sy), 64.0)) as i32;
                if let Some((ox, oy)) = object
                    && (ox..ox + 32).contains(&sx)
                    && (oy..oy + 32).contains(&sy)
                {
                    v = 250;
                }
                luma[y * w + x] = v as u8;
            }
        }
        LumaGrid::from_luma(&luma, w, h, 8).unwrap()
    }

    #[test]
    fn camera_shake_is_removed_and_what_moves_through_it_is_still_seen() {
        let rest = shaken_frame(0, 0, None);
        for (dx, dy) in [(3, 0), (0, -3), (-4, 2), (3, 3)] {
            let shaken = shaken_frame(dx, dy, None);
            let plain = shaken.change_against(&rest, 12, 0, false).unwrap();
            assert!(plain > 0.05, "{dx},{dy} px moves the waves: {plain}");
            assert_eq!(shaken.change_against_shaken(&rest, 12, 0, true, false), Some(0.0), "{dx},{dy} px");
            // An object crossing the shaken scene: its cells, about
            // 4 × 4 to 5 × 5, are still counted.
            let crossed = shaken_frame(dx, dy, Some((150, 100)));
            let seen = crossed.change_against_shaken(&rest, 12, 0, true, false).unwrap() * 1200.0;
            assert!((16.0..=25.0).contains(&seen), "{dx},{dy} px: {seen} cells");
        }
        // No shake: the object alone, as without the tolerance (the object
        // pulls the fitted shift a little off zero, which may explain one
        // of its edge cells).
        let crossed = shaken_frame(0, 0, Some((150, 100)));
        let (plain, shaken) = (
            crossed.change_against(&rest, 12, 0, false).unwrap(),
            crossed.change_against_shaken(&rest, 12, 0, true, false).unwrap(),
        );
        assert!(plain - shaken <= 1.0 / 1200.0 + 1e-9, "{plain} {shaken}");
        // A light change on top of shake: the level is fitted too.
        let mut brighter = shaken_frame(3, -3, None);
        brighter.cells.iter_mut().for_each(|c| *c = c.saturating_add(20));
        assert_eq!(brighter.change_against_shaken(&rest, 12, 0, true, false), Some(0.0));
        // Without lighting compensation the level is not fitted: the light counts.
        let lit = brighter.change_against_shaken(&rest, 12, 0, false, false).unwrap();
        assert!(lit > 0.4, "{lit}");
    }

    #[test]
    fn the_detector_and_the_background_model_remove_shake_when_asked() {
        for background in [false, true] {
            let config = DetectorConfig { background, absorb_frames: 0, ..DetectorConfig::seed() };
            let shaken = |tolerate_shake: bool| {
                let mut d = Detector::new(DetectorConfig { tolerate_shake, ..config });
                let path = [(0, 0), (3, 1), (-1, 0), (1, -3), (0, 2), (-3, -1)];
                let shake: Vec<f64> =
                    path.iter().map(|&(x, y)| d.process_grid(shaken_frame(x, y, None)).change).collect();
                let object = d.process_grid(shaken_frame(2, 2, Some((100, 60)))).change;
                (shake, object)
            };
            let (plain, _) = shaken(false);
            assert!(plain[1..].iter().all(|&c| c > 0.05), "background={background}: {plain:?}");
            let (tolerant, object) = shaken(true);
            assert_eq!(tolerant, [0.0; 6], "background={background}");
            assert!(object >= 16.0 / 1200.0, "background={background}: {object}");
        }
    }

    fn background(absorb_frames: u32) -> Detector {
        Detector::new(DetectorConfig { background: true, absorb_frames, ..DetectorConfig::seed() })
    }

    #[test]
    fn an_object_left_behind_is_absorbed_and_its_removal_leaves_no_ghost() {
        let mut d = background(5);
        assert_eq!(d.process_grid(grid(&[], 0)).change, 0.0, "the first frame is the model");
        let object = [11, 12, 21, 22];
        // Put down: 4 % foreground, and for as long as it holds still...
        let changes: Vec<f64> = (0..7).map(|_| d.process_grid(grid(&object, 200)).change).collect();
        assert_eq!(changes, [0.04, 0.04, 0.04, 0.04, 0.04, 0.04, 0.0], "absorbed once it held still for 5 frames");
        assert_eq!(d.process_grid(grid(&object, 200)).change, 0.0);
        // Taken away: that moves, and then the scene behind it is known
        // at once, no ghost.
        assert_eq!(d.process_grid(grid(&[], 0)).change, 0.04);
        assert_eq!(d.process_grid(grid(&[], 0)).change, 0.0);
        assert_eq!(d.process_grid(grid(&object, 200)).change, 0.04, "put down again: seen again");
    }

    /// The background model's count of cells with a prior, and the count
    /// found by looking.
    fn priors(d: &Detector) -> (usize, usize) {
        let model = d.background.as_ref().expect("a model");
        (model.priors, model.prior.iter().filter(|&&p| p != NO_PRIOR).count())
    }

    #[test]
    fn the_count_of_cells_with_a_prior_stays_true() {
        // Judging skips the priors when the count says there are none, so
        // a count that drifts would leave a ghost or miss an uncovering.
        let mut d = background(2);
        d.process_grid(grid(&[], 0));
        let object = [11, 12, 21, 22];
        let mut seen = Vec::new();
        for frame in
            [&object[..], &object, &object, &object, &[], &[], &object[..2], &object[..2], &object[..2], &[], &[]]
        {
            d.process_grid(grid(frame, 200));
            let (kept, found) = priors(&d);
            assert_eq!(kept, found);
            seen.push(kept);
        }
        // Absorbed after two still frames; taken away (a frame that moved),
        // uncovered the frame after; half put back and absorbed; uncovered.
        assert_eq!(seen, [0, 0, 4, 4, 4, 0, 0, 0, 2, 2, 0]);
    }

    #[test]
    fn with_absorb_frames_0_only_what_moved_is_foreground() {
        let mut d = background(0);
        d.process_grid(grid(&[], 0));
        let object = [11, 12, 21, 22];
        let changes: Vec<f64> = (0..3).map(|_| d.process_grid(grid(&object, 200)).change).collect();
        assert_eq!(changes, [0.04, 0.0, 0.0], "put down, then background at once");
        assert_eq!(d.process_grid(grid(&[], 0)).change, 0.04, "taken away");
        assert_eq!(d.process_grid(grid(&[], 0)).change, 0.0);
    }

    #[test]
    fn a_slow_mover_is_seen_against_the_background_where_differencing_sees_nothing() {
        // Each frame the cells ahead brighten by 10 grey levels, below
        // `cell_delta` (12) from one frame to the next; the model remembers
        // the scene before.
        let mut bg = background(10);
        let mut diff = Detector::new(DetectorConfig::seed());
        let (mut seen_bg, mut seen_diff) = (0.0f64, 0.0f64);
        for step in 0..6u8 {
            let g = grid(&[44, 45], 100 + 10 * step);
            seen_bg = seen_bg.max(bg.process_grid(g.clone()).change);
            seen_diff = seen_diff.max(diff.process_grid(g).change);
        }
        assert_eq!((seen_bg, seen_diff), (0.02, 0.0));
    }

    #[test]
    fn a_noisy_cell_needs_more_than_a_quiet_one() {
        let mut d = background(1000);
        d.process_grid(grid(&[], 0));
        // Cell 0 flickers by ±10 for a while: its spread grows.
        for k in 0..40 {
            d.process_grid(grid(&[0], if k % 2 == 0 { 110 } else { 90 }));
        }
        d.process_grid(grid(&[0], 110));
        // Now both cells are 20 above their mean: only the quiet one is
        // foreground.
        assert_eq!(d.process_grid(grid(&[0, 55], 120)).change, 0.01);
    }

    #[test]
    fn a_light_ramp_is_followed_and_a_switch_becomes_the_scene() {
        let mut d = Detector::new(DetectorConfig { background: true, lightswitch: 0.5, ..DetectorConfig::seed() });
        d.process_grid(grid(&[], 0));
        for k in 1..=30u8 {
            let mut g = grid(&[], 0);
            g.cells.iter_mut().for_each(|c| *c = 100 + 2 * k);
            assert_eq!(d.process_grid(g).change, 0.0, "frame {k}");
        }
        let mut lit = grid(&[], 0);
        lit.cells.iter_mut().enumerate().for_each(|(i, c)| *c = if i % 2 == 0 { 250 } else { 20 });
        assert!(d.process_grid(lit.clone()).lighting);
        assert_eq!(d.process_grid(lit).change, 0.0, "the lit scene is the model now");
    }

    /// The lightswitch rule counts the cells that changed, whole, as its
    /// docs say: with graded cells a light that moves every cell a little
    /// past `cell_delta` weighs little, yet it is a lighting change, not
    /// motion. Compensation off, so nothing else explains it.
    #[test]
    fn the_lightswitch_rule_counts_changed_cells_whole_when_cells_are_graded() {
        for background in [false, true] {
            let config = DetectorConfig { compensate_lighting: false, background, ..DetectorConfig::default() };
            assert!(config.grade_cells);
            let mut d = Detector::new(config);
            d.process_grid(grid(&[], 0));
            // Every cell 20 grey levels up: graded by (20 - 16) / 16.
            let mut lit = grid(&[], 0);
            lit.cells.iter_mut().for_each(|c| *c = 120);
            let m = d.process_grid(lit);
            assert_eq!(m.change, 0.25, "background {background}");
            assert!(m.lighting, "background {background}: every cell changed");
            // Half the cells: neither counts nor weighs as a lighting change.
            let mut d = Detector::new(config);
            d.process_grid(grid(&[], 0));
            let half: Vec<usize> = (0..50).collect();
            let m = d.process_grid(grid(&half, 120));
            assert_eq!((m.change, m.lighting), (0.125, false), "background {background}");
        }
    }
}
