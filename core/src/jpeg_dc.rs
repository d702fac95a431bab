//! The luma grid straight from a baseline JPEG's DC coefficients.
//!
//! An 8 × 8 block's DC coefficient is 8 × (its mean luma − 128), so the
//! mean luma of every 8 × 8 cell of the frame can be read off the entropy-
//! coded data without the inverse DCT, upsampling or a frame-sized buffer:
//! what the detector needs, at a fraction of a full decode's cost (the way
//! libjpeg's 1/8 scaling works). AC coefficients are decoded only to be
//! skipped.
//!
//! Handles baseline Huffman JPEG (SOF0/SOF1, 8-bit) with any sampling and
//! restart intervals; anything else (progressive, arithmetic, 12-bit) is
//! `Ok(None)`, and the caller decodes the frame in full instead.

use alloc::vec;
use alloc::vec::Vec;

use crate::detector::{FrameError, LumaGrid};

fn err(what: &str) -> FrameError {
    FrameError::Decode(what.into())
}

/// A Huffman table as a 9-bit lookup plus the canonical decoding tables for
/// longer codes.
#[derive(Clone)]
struct Huffman {
    /// For each 9-bit prefix: (code length, symbol), length 0 when longer.
    fast: Vec<(u8, u8)>,
    /// For an AC table, for each 9-bit prefix whose code and magnitude bits
    /// both fit in it: (bits to consume, coefficients to advance, with
    /// [`END_OF_BLOCK`] for EOB); (0, 0) when the slow path is needed.
    skip: Vec<(u8, u8)>,
    maxcode: [i32; 18],
    valptr: [i32; 17],
    mincode: [i32; 17],
    values: Vec<u8>,
}

const FAST_BITS: u32 = 10;
/// [`Huffman::skip`]'s mark for an end-of-block code.
const END_OF_BLOCK: u8 = 255;

impl Huffman {
    fn new(counts: &[u8; 16], values: &[u8]) -> Result<Self, FrameError> {
        let mut fast = vec![(0u8, 0u8); 1 << FAST_BITS];
        let (mut maxcode, mut valptr, mut mincode) = ([-1i32; 18], [0i32; 17], [0i32; 17]);
        let (mut code, mut k) = (0i32, 0usize);
        for len in 1..=16usize {
            let n = usize::from(counts[len - 1]);
            valptr[len] = k as i32;
            mincode[len] = code;
            for _ in 0..n {
                let symbol = *values.get(k).ok_or_else(|| err("Huffman table shorter than its counts"))?;
                if len as u32 <= FAST_BITS {
                    let shift = FAST_BITS - len as u32;
                    let base = (code as usize) << shift;
                    for slot in fast.get_mut(base..base + (1 << shift)).ok_or_else(|| err("bad Huffman table"))? {
                        *slot = (len as u8, symbol);
                    }
                }
                code += 1;
                k += 1;
            }
            maxcode[len] = if n > 0 { code - 1 } else { -1 };
            code <<= 1;
        }
        maxcode[17] = i32::MAX;
        let skip = fast
            .iter()
            .map(|&(len, rs)| {
                let (run, size) = (rs >> 4, rs & 15);
                match (len, size, run) {
                    (0, _, _) => (0, 0),
                    (_, 0, 15) => (len, 16),
                    (_, 0, _) => (len, END_OF_BLOCK),
                    _ if u32::from(len + size) <= FAST_BITS => (len + size, run + 1),
                    _ => (0, 0),
                }
            })
            .collect();
        Ok(Self { fast, skip, maxcode, valptr, mincode, values: values.to_vec() })
    }
}

/// Bits of an entropy-coded segment, with 0xFF00 stuffing removed; stops
/// at the next marker.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    acc: u64,
    count: u32,
    /// A marker was reached: only zero bits follow.
    marker: bool,
    /// Bits loaded from real data, and bits consumed.
    loaded: u64,
    consumed: u64,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8], pos: usize) -> Self {
        Self { data, pos, acc: 0, count: 0, marker: false, loaded: 0, consumed: 0 }
    }

    fn fill(&mut self) {
        // Fast path: the next 8 bytes hold no 0xFF (no stuffing, no marker):
        // take as many whole bytes as fit at once.
        if let Some(next) = self.data.get(self.pos..self.pos + 8) {
            let word = u64::from_be_bytes(next.try_into().expect("8 bytes"));
            let inverted = !word;
            let has_ff = inverted.wrapping_sub(0x0101_0101_0101_0101) & !inverted & 0x8080_8080_8080_8080 != 0;
            if !has_ff && !self.marker {
                let take = (64 - self.count) / 8;
                let bits = 8 * take;
                self.acc |= (word >> (64 - bits)) << (64 - self.count - bits);
                self.count += bits;
                self.pos += take as usize;
                self.loaded += u64::from(bits);
                return;
            }
        }
        while self.count <= 56 {
            let byte = if self.marker || self.pos >= self.data.len() {
                self.marker = true;
                0
            } else {
                let b = self.data[self.pos];
                if b == 0xFF {
                    match self.data.get(self.pos + 1) {
                        Some(0x00) => self.pos += 2,
                        _ => {
                            self.marker = true;
                            continue;
                        }
                    }
                } else {
                    self.pos += 1;
                }
                b
            };
            if !self.marker {
                self.loaded += 8;
            }
            self.acc |= u64::from(byte) << (56 - self.count);
            self.count += 8;
        }
    }

    fn peek(&mut self, n: u32) -> u32 {
        if self.count < n {
            self.fill();
        }
        (self.acc >> (64 - n)) as u32
    }

    fn consume(&mut self, n: u32) {
        self.acc <<= n;
        self.count -= n;
        self.consumed += u64::from(n);
    }

    fn bits(&mut self, n: u32) -> u32 {
        if n == 0 {
            return 0;
        }
        let v = self.peek(n);
        self.consume(n);
        v
    }

    fn decode(&mut self, h: &Huffman) -> Result<u8, FrameError> {
        let (len, symbol) = h.fast[self.peek(FAST_BITS) as usize];
        if len > 0 {
            self.consume(u32::from(len));
            return Ok(symbol);
        }
        let mut code = self.peek(FAST_BITS) as i32;
        let mut len = FAST_BITS as usize;
        self.consume(FAST_BITS);
        while code > h.maxcode[len] {
            code = (code << 1) | self.bits(1) as i32;
            len += 1;
            if len > 16 {
                return Err(err("bad Huffman code"));
            }
        }
        let i = (h.valptr[len] + code - h.mincode[len]) as usize;
        h.values.get(i).copied().ok_or_else(|| err("bad Huffman code"))
    }

    /// Skips to just after the next RSTn marker.
    fn restart(&mut self) -> Result<(), FrameError> {
        let at = self.data[self.pos..].windows(2).position(|w| w[0] == 0xFF && (0xD0..=0xD7).contains(&w[1]));
        let at = at.ok_or_else(|| err("missing restart marker"))?;
        *self = Bits::new(self.data, self.pos + at + 2);
        Ok(())
    }
}

/// Sign-extends a `size`-bit JPEG value.
fn extend(v: u32, size: u32) -> i32 {
    if size == 0 {
        0
    } else if v < (1 << (size - 1)) {
        v as i32 - (1 << size) + 1
    } else {
        v as i32
    }
}

#[derive(Clone, Copy, Default)]
struct Component {
    id: u8,
    h: usize,
    v: usize,
    quant: usize,
    dc_table: usize,
    ac_table: usize,
}

fn be16(d: &[u8], i: usize) -> Result<usize, FrameError> {
    d.get(i..i + 2).map(|b| usize::from(b[0]) << 8 | usize::from(b[1])).ok_or_else(|| err("truncated header"))
}

/// The grid of 8 × 8 cell means of `jpeg`'s luma, from DC coefficients;
/// `Ok(None)` for a JPEG this path does not handle (decode it in full).
/// `max_dimension` bounds width and height as in the full decode.
///
/// # Errors
/// [`FrameError`] for data that is not a sound JPEG.
pub fn luma_grid(jpeg: &[u8], max_dimension: usize) -> Result<Option<LumaGrid>, FrameError> {
    if jpeg.len() < 4 || jpeg[0] != 0xFF || jpeg[1] != 0xD8 {
        return Err(err("no JPEG start marker"));
    }
    let mut quant0 = [1u16; 4];
    let (mut dc_tables, mut ac_tables): ([Option<Huffman>; 4], [Option<Huffman>; 4]) = Default::default();
    let (mut width, mut height) = (0usize, 0usize);
    let mut comps: Vec<Component> = Vec::new();
    let mut restart_interval = 0usize;
    let mut i = 2;
    loop {
        while jpeg.get(i) == Some(&0xFF) && jpeg.get(i + 1) == Some(&0xFF) {
            i += 1;
        }
        let (Some(&0xFF), Some(&marker)) = (jpeg.get(i), jpeg.get(i + 1)) else {
            return Err(err("expected a marker"));
        };
        let len = be16(jpeg, i + 2)?;
        let seg = jpeg.get(i + 4..i + 2 + len).ok_or_else(|| err("truncated segment"))?;
        match marker {
            0xC0 | 0xC1 => {
                if seg.len() < 6 || seg[0] != 8 {
                    return Ok(None);
                }
                height = be16(seg, 1)?;
                width = be16(seg, 3)?;
                let n = usize::from(seg[5]);
                for c in 0..n {
                    let b = seg.get(6 + 3 * c..9 + 3 * c).ok_or_else(|| err("truncated frame header"))?;
                    let (h, v) = (usize::from(b[1] >> 4), usize::from(b[1] & 15));
                    if !(1..=4).contains(&h) || !(1..=4).contains(&v) || b[2] > 3 {
                        return Err(err("bad sampling factors"));
                    }
                    comps.push(Component { id: b[0], h, v, quant: usize::from(b[2]), ..Default::default() });
                }
            }
            0xC2..=0xCF if marker != 0xC4 && marker != 0xC8 && marker != 0xCC => return Ok(None),
            0xDB => {
                let mut p = 0;
                while p < seg.len() {
                    let (precision, id) = (seg[p] >> 4, usize::from(seg[p] & 3));
                    quant0[id] = if precision == 0 {
                        u16::from(*seg.get(p + 1).ok_or_else(|| err("truncated quantisation table"))?)
                    } else {
                        be16(seg, p + 1)? as u16
                    };
                    p += 1 + 64 * (1 + usize::from(precision));
                }
            }
            0xC4 => {
                let mut p = 0;
                while p < seg.len() {
                    let (class, id) = (seg[p] >> 4, usize::from(seg[p] & 3));
                    let counts: [u8; 16] = seg
                        .get(p + 1..p + 17)
                        .ok_or_else(|| err("truncated Huffman table"))?
                        .try_into()
                        .expect("16 bytes");
                    let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
                    let values = seg.get(p + 17..p + 17 + total).ok_or_else(|| err("truncated Huffman table"))?;
                    let table = Some(Huffman::new(&counts, values)?);
                    if class == 0 {
                        dc_tables[id] = table
                    } else {
                        ac_tables[id] = table
                    }
                    p += 17 + total;
                }
            }
            0xDD => restart_interval = be16(seg, 0)?,
            0xDA => {
                let n = usize::from(*seg.first().ok_or_else(|| err("truncated scan header"))?);
                if n != comps.len() || width == 0 || height == 0 {
                    return Ok(None); // non-interleaved scans: leave to the full decoder
                }
                for s in 0..n {
                    let b = seg.get(1 + 2 * s..3 + 2 * s).ok_or_else(|| err("truncated scan header"))?;
                    let c = comps
                        .iter_mut()
                        .find(|c| c.id == b[0])
                        .ok_or_else(|| err("scan names an unknown component"))?;
                    (c.dc_table, c.ac_table) = (usize::from(b[1] >> 4) & 3, usize::from(b[1] & 3));
                }
                if width > max_dimension || height > max_dimension {
                    return Err(FrameError::BadSize(width, height));
                }
                return decode_scan(
                    jpeg,
                    i + 2 + len,
                    width,
                    height,
                    &comps,
                    &quant0,
                    &dc_tables,
                    &ac_tables,
                    restart_interval,
                );
            }
            0xD9 => return Err(err("no scan before the end of the image")),
            _ => {}
        }
        i += 2 + len;
    }
}

#[allow(clippy::too_many_arguments)]
fn decode_scan(
    jpeg: &[u8],
    start: usize,
    width: usize,
    height: usize,
    comps: &[Component],
    quant0: &[u16; 4],
    dc_tables: &[Option<Huffman>; 4],
    ac_tables: &[Option<Huffman>; 4],
    restart_interval: usize,
) -> Result<Option<LumaGrid>, FrameError> {
    let (hmax, vmax) = (comps.iter().map(|c| c.h).max().unwrap_or(1), comps.iter().map(|c| c.v).max().unwrap_or(1));
    let (mcus_x, mcus_y) = (width.div_ceil(8 * hmax), height.div_ceil(8 * vmax));
    let (cols, rows) = (width / 8, height / 8);
    if cols == 0 || rows == 0 {
        return Err(FrameError::BadSize(width, height));
    }
    let luma = comps[0];
    let q = i32::from(quant0[luma.quant]);
    let tables: Vec<(&Huffman, &Huffman)> = comps
        .iter()
        .map(|c| match (&dc_tables[c.dc_table], &ac_tables[c.ac_table]) {
            (Some(dc), Some(ac)) => Ok((dc, ac)),
            _ => Err(err("scan uses an undefined Huffman table")),
        })
        .collect::<Result<_, _>>()?;
    let mut cells = vec![0u8; cols * rows];
    let mut pred = vec![0i32; comps.len()];
    let mut bits = Bits::new(jpeg, start);
    for mcu in 0..mcus_x * mcus_y {
        if restart_interval > 0 && mcu > 0 && mcu % restart_interval == 0 {
            bits.restart()?;
            pred.iter_mut().for_each(|p| *p = 0);
        }
        let (mx, my) = (mcu % mcus_x, mcu / mcus_x);
        for (ci, c) in comps.iter().enumerate() {
            let (dc, ac) = tables[ci];
            for by in 0..c.v {
                for bx in 0..c.h {
                    let size = u32::from(bits.decode(dc)?);
                    if size > 11 {
                        return Err(err("bad DC coefficient"));
                    }
                    pred[ci] += extend(bits.bits(size), size);
                    let mut k = 1;
                    while k < 64 {
                        let (n, advance) = ac.skip[bits.peek(FAST_BITS) as usize];
                        if n > 0 {
                            bits.consume(u32::from(n));
                            if advance == END_OF_BLOCK {
                                break;
                            }
                            k += usize::from(advance);
                            continue;
                        }
                        let rs = bits.decode(ac)?;
                        let (r, s) = (usize::from(rs >> 4), u32::from(rs & 15));
                        if s == 0 {
                            if r != 15 {
                                break;
                            }
                            k += 16;
                        } else {
                            k += r;
                            let _ = bits.bits(s);
                            k += 1;
                        }
                    }
                    if k > 64 {
                        return Err(err("bad AC run"));
                    }
                    if bits.consumed > bits.loaded {
                        return Err(err("entropy-coded data ends early"));
                    }
                    if ci == 0 {
                        let (x, y) = (mx * c.h + bx, my * c.v + by);
                        if x < cols && y < rows {
                            // mean = DC / 8 + 128, rounded half up.
                            let mean = (pred[ci] * q + 4).div_euclid(8) + 128;
                            cells[y * cols + x] = mean.clamp(0, 255) as u8;
                        }
                    }
                }
            }
        }
    }
    Ok(Some(LumaGrid { cols, rows, cells }))
}
