//! Binary snapshots of a run in progress: what the page autosaves so that a reload, or
//! a fresh worker after a crash, continues the run bit for bit.
//!
//! Two record kinds, each `magic (4 bytes), version (u32)` and then fields in order,
//! every number little-endian:
//! - a trainer (`RBMT`): the settings as JSON, the sizes, a fingerprint of the training
//!   data, the update count, the minibatch order and cursor, the generator state, the
//!   parameters, the momentum buffers and the persistent chains' visible states;
//! - a set of chains (`RBMC`): the sizes, the generator state and the four state
//!   matrices of [`GibbsChains`].
//!
//! Snapshots come back from storage that another tab, an older build or a disk error
//! may have touched, so reading checks every size before allocating (through
//! [`crate::size`]), every value's range, and that nothing is left over.

use crate::error::{RbmError, Result};
use crate::linalg::Matrix;
use crate::model::{GibbsChains, Rbm};
use crate::rng::Rng;
use crate::size;
use crate::train::DIVERGENCE_LIMIT;

pub(crate) const TRAINER_MAGIC: &[u8; 4] = b"RBMT";
pub(crate) const CHAINS_MAGIC: &[u8; 4] = b"RBMC";
pub(crate) const VERSION: u32 = 1;

pub(crate) fn bad(message: impl Into<String>) -> RbmError {
    RbmError::Snapshot(message.into())
}

/// Appends fields to a snapshot.
pub(crate) struct Writer {
    bytes: Vec<u8>,
}

impl Writer {
    pub fn new(magic: &[u8; 4]) -> Writer {
        let mut writer = Writer { bytes: Vec::new() };
        writer.bytes.extend_from_slice(magic);
        writer.u32(VERSION);
        writer
    }

    /// A writer that goes on after `bytes` (a header written by another `Writer`).
    pub fn continuing(bytes: Vec<u8>) -> Writer {
        Writer { bytes }
    }

    pub fn u32(&mut self, value: u32) {
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }

    pub fn u64(&mut self, value: u64) {
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }

    /// A length-prefixed byte string.
    pub fn bytes(&mut self, value: &[u8]) {
        self.u64(value.len() as u64);
        self.bytes.extend_from_slice(value);
    }

    /// The values only: their count is known to the reader from sizes written earlier.
    pub fn f32s(&mut self, values: &[f32]) {
        // Grown once and filled in place: a loop the compiler vectorises (a split
        // update sends megabytes of these per update).
        let start = self.bytes.len();
        self.bytes.resize(start + values.len() * 4, 0);
        for (dst, v) in self.bytes[start..].chunks_exact_mut(4).zip(values) {
            dst.copy_from_slice(&v.to_le_bytes());
        }
    }

    pub fn u32s(&mut self, values: impl Iterator<Item = u32>) {
        for v in values {
            self.u32(v);
        }
    }

    pub fn rng(&mut self, rng: &Rng) {
        self.bytes(rng.state_text().as_bytes());
    }

    /// A model's weights, visible bias and hidden bias (its sizes are written apart,
    /// before them: see [`Reader::parameters`]).
    pub fn parameters(&mut self, model: &Rbm) {
        self.f32s(model.weights());
        self.f32s(model.visible_bias());
        self.f32s(model.hidden_bias());
    }

    pub fn finish(self) -> Vec<u8> {
        self.bytes
    }
}

/// The first value for which `ok` is false, if any. The check is one pass with no early
/// exit, so that it vectorises (a split update reads megabytes of values per update);
/// only when it fails does a second pass look for the value to name.
#[inline(always)]
fn first_failing(values: &[f32], ok: impl Fn(f32) -> bool) -> Option<usize> {
    if values.iter().fold(true, |all, &v| all & ok(v)) {
        None
    } else {
        values.iter().position(|&v| !ok(v))
    }
}

/// Reads fields back, refusing anything short, oversized or left over.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8], magic: &[u8; 4], what: &str) -> Result<Reader<'a>> {
        if bytes.len() < 8 || &bytes[..4] != magic {
            return Err(bad(format!("this is not a saved {what}")));
        }
        let mut reader = Reader { bytes, at: 4 };
        let version = reader.u32()?;
        if version != VERSION {
            return Err(bad(format!(
                "saved {what} version {version} is not supported; this build reads {VERSION}"
            )));
        }
        Ok(reader)
    }

    fn take(&mut self, count: usize) -> Result<&'a [u8]> {
        let end = self
            .at
            .checked_add(count)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| bad("it ends too early"))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    pub fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn u64(&mut self) -> Result<u64> {
        let b = self.take(8)?;
        let mut array = [0u8; 8];
        array.copy_from_slice(b);
        Ok(u64::from_le_bytes(array))
    }

    /// A size field, refused above `max`.
    pub fn count(&mut self, what: &str, max: u64) -> Result<usize> {
        let value = self.u64()?;
        if value > max {
            return Err(bad(format!("{what} is {value}, more than {max}")));
        }
        size::fits(value).ok_or_else(|| bad(format!("{what} is {value}")))
    }

    pub fn bytes(&mut self, max: usize) -> Result<&'a [u8]> {
        let len = self.count("a field's length", max as u64)?;
        self.take(len)
    }

    /// `count` finite f32 values whose magnitude is at most `limit`.
    pub fn f32s(&mut self, what: &str, count: usize, limit: f32) -> Result<Vec<f32>> {
        let len =
            size::product(&[count as u64, 4]).ok_or_else(|| bad(format!("{what} is too large")))?;
        let raw = self.take(len)?;
        // Not zeroed first: a split update reads megabytes of these per update.
        let mut values = Vec::with_capacity(count);
        values.extend(
            raw.chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        );
        // (NaN fails the comparison too.)
        if let Some(i) = first_failing(&values, |v| v.abs() <= limit) {
            return Err(bad(format!(
                "{what}[{i}] = {} is not a finite number of magnitude at most {limit}",
                values[i]
            )));
        }
        Ok(values)
    }

    /// `rows x cols` values, each 0 or 1 (a set of binary states).
    pub fn binary_matrix(&mut self, what: &str, rows: usize, cols: usize) -> Result<Matrix> {
        let count = size::product(&[rows as u64, cols as u64])
            .ok_or_else(|| bad(format!("{what} is too large")))?;
        let values = self.f32s(what, count, 1.0)?;
        if let Some(i) = first_failing(&values, |v| v == 0.0 || v == 1.0) {
            return Err(bad(format!("{what}[{i}] = {} is not 0 or 1", values[i])));
        }
        Matrix::from_vec(rows, cols, values)
            .ok_or_else(|| bad(format!("{what} has the wrong size")))
    }

    /// `rows x cols` probabilities in [0, 1].
    pub fn probability_matrix(&mut self, what: &str, rows: usize, cols: usize) -> Result<Matrix> {
        let count = size::product(&[rows as u64, cols as u64])
            .ok_or_else(|| bad(format!("{what} is too large")))?;
        let values = self.f32s(what, count, 1.0)?;
        if let Some(i) = first_failing(&values, |v| v >= 0.0) {
            return Err(bad(format!(
                "{what}[{i}] = {} is not a probability",
                values[i]
            )));
        }
        Matrix::from_vec(rows, cols, values)
            .ok_or_else(|| bad(format!("{what} has the wrong size")))
    }

    pub fn u32s(&mut self, what: &str, count: usize) -> Result<Vec<u32>> {
        let len =
            size::product(&[count as u64, 4]).ok_or_else(|| bad(format!("{what} is too large")))?;
        let raw = self.take(len)?;
        Ok(raw
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }

    pub fn rng(&mut self) -> Result<Rng> {
        Rng::from_state_text(self.bytes(1024)?)
            .ok_or_else(|| bad("the generator state is not four words, not all zero"))
    }

    /// An `m x n` model's parameters as [`Writer::parameters`] wrote them, each value
    /// finite and within training's [`DIVERGENCE_LIMIT`], the sizes checked first.
    pub fn parameters(&mut self, m: usize, n: usize) -> Result<Rbm> {
        let weight_count = size::product(&[m as u64, n as u64])
            .filter(|&c| c <= crate::model::MAX_WEIGHTS)
            .ok_or_else(|| bad(format!("{m} x {n} weights are too many")))?;
        let weights = self.f32s("weights", weight_count, DIVERGENCE_LIMIT)?;
        let visible_bias = self.f32s("visible_bias", m, DIVERGENCE_LIMIT)?;
        let hidden_bias = self.f32s("hidden_bias", n, DIVERGENCE_LIMIT)?;
        // (Each value is within the limit, so finite.)
        Rbm::from_finite_parts(m, n, weights, visible_bias, hidden_bias)
    }

    /// Whether every byte has been read (an optional trailing block is absent).
    pub fn at_end(&self) -> bool {
        self.at == self.bytes.len()
    }

    pub fn finish(self) -> Result<()> {
        if self.at == self.bytes.len() {
            Ok(())
        } else {
            Err(bad(format!(
                "{} unexpected bytes at the end",
                self.bytes.len() - self.at
            )))
        }
    }
}

/// A 64-bit FNV-1a hash of a matrix's shape and value bits: tells whether a snapshot
/// belongs to this training set.
pub fn fingerprint(matrix: &Matrix) -> u64 {
    fingerprint_words(
        [matrix.rows() as u32, matrix.cols() as u32]
            .into_iter()
            .chain(matrix.as_slice().iter().map(|v| v.to_bits())),
    )
}

/// The 64-bit FNV-1a hash of `words`' little-endian bytes.
pub(crate) fn fingerprint_words(words: impl IntoIterator<Item = u32>) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for word in words {
        for byte in word.to_le_bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// A set of chains and its generator, as bytes.
pub fn chains_to_bytes(chains: &GibbsChains, rng: &Rng) -> Result<Vec<u8>> {
    let mut w = Writer::new(CHAINS_MAGIC);
    w.u64(chains.len() as u64);
    w.u64(chains.visible.cols() as u64);
    w.u64(chains.hidden.cols() as u64);
    w.rng(rng);
    w.f32s(chains.visible.as_slice());
    w.f32s(chains.hidden.as_slice());
    w.f32s(chains.visible_prob.as_slice());
    w.f32s(chains.hidden_prob.as_slice());
    Ok(w.finish())
}

/// Chains saved by [`chains_to_bytes`], for a model of `n_visible x n_hidden` units.
pub fn chains_from_bytes(
    bytes: &[u8],
    n_visible: usize,
    n_hidden: usize,
) -> Result<(GibbsChains, Rng)> {
    let mut r = Reader::new(bytes, CHAINS_MAGIC, "set of chains")?;
    let count = r.count("the chain count", crate::limits::MAX_CHAINS as u64)?;
    let m = r.count("the visible units", crate::limits::MAX_UNITS as u64)?;
    let n = r.count("the hidden units", crate::limits::MAX_UNITS as u64)?;
    if (m, n) != (n_visible, n_hidden) {
        return Err(bad(format!(
            "the saved chains are for {m} x {n} units, the model has {n_visible} x {n_hidden}"
        )));
    }
    if count == 0 {
        return Err(bad("the saved set of chains is empty"));
    }
    let rng = r.rng()?;
    let visible = r.binary_matrix("visible", count, m)?;
    let hidden = r.binary_matrix("hidden", count, n)?;
    let visible_prob = r.probability_matrix("visible_prob", count, m)?;
    let hidden_prob = r.probability_matrix("hidden_prob", count, n)?;
    r.finish()?;
    Ok((
        GibbsChains {
            visible,
            hidden,
            visible_prob,
            hidden_prob,
        },
        rng,
    ))
}
