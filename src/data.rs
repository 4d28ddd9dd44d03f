//! Binary image data sets: bars-and-stripes, the packed MNIST asset, and splits.

use crate::error::{RbmError, Result};
use crate::linalg::Matrix;
use crate::rng;
use crate::size;

/// A set of binary images, one per row of `images` (values 0.0 or 1.0), each
/// `image_shape.0` rows by `image_shape.1` columns, read row by row.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    pub images: Matrix,
    pub labels: Option<Vec<u8>>,
    pub image_shape: (usize, usize),
}

pub use crate::limits::MAX_BARS_AND_STRIPES_SIDE;

/// Every distinct side x side bars-and-stripes image: each subset of rows switched
/// on (stripes), then each subset of columns (bars). The all-off and all-on images
/// arise both ways and are kept once, giving 2^(side+1) - 2 images.
pub fn bars_and_stripes(side: usize) -> Result<Dataset> {
    crate::limits::check_engine("side", side as f64)?;
    let pixels = side * side;
    let mut data = Vec::new();
    let mut count = 0;
    for columns in [false, true] {
        for mask in 0u32..(1 << side) {
            let all_or_nothing = mask == 0 || mask == (1 << side) - 1;
            if columns && all_or_nothing {
                continue;
            }
            for r in 0..side {
                for c in 0..side {
                    let line = if columns { c } else { r };
                    data.push(if mask & (1 << line) != 0 { 1.0 } else { 0.0 });
                }
            }
            count += 1;
        }
    }
    Ok(Dataset {
        images: Matrix::from_vec(count, pixels, data).expect("sizes agree"),
        labels: None,
        image_shape: (side, side),
    })
}

/// Magic bytes of the packed image format (see the README, "Data asset").
pub const PACKED_MAGIC: &[u8; 4] = b"RBMB";
const PACKED_HEADER: usize = 4 + 1 + 4 + 2 + 2 + 1;

/// Checks a packed image file's header and sizes (see [`parse_packed`]).
fn read_packed(bytes: &[u8]) -> Result<Packed<'_>> {
    let bad = |message: String| RbmError::Data(format!("packed image file: {message}"));
    if bytes.len() < PACKED_HEADER || &bytes[..4] != PACKED_MAGIC {
        return Err(bad("it does not start with the RBMB header".into()));
    }
    if bytes[4] != 1 {
        return Err(bad(format!(
            "version {} is not supported (this build reads 1)",
            bytes[4]
        )));
    }
    let count = u32::from_le_bytes([bytes[5], bytes[6], bytes[7], bytes[8]]) as usize;
    let rows = u16::from_le_bytes([bytes[9], bytes[10]]) as usize;
    let cols = u16::from_le_bytes([bytes[11], bytes[12]]) as usize;
    let has_labels = match bytes[13] {
        0 => false,
        1 => true,
        other => return Err(bad(format!("labels flag is {other}, expected 0 or 1"))),
    };
    if count == 0 || rows == 0 || cols == 0 {
        return Err(bad(format!(
            "it holds {count} {} of {rows} x {cols}",
            plural(count, "image", "images")
        )));
    }
    let too_large = || {
        bad(format!(
            "{count} {} of {rows} x {cols} is more than this engine can hold",
            plural(count, "image", "images")
        ))
    };
    let pixels = size::product(&[rows as u64, cols as u64])
        .filter(|&p| p <= crate::limits::MAX_UNITS)
        .ok_or_else(too_large)?;
    size::product(&[count as u64, pixels as u64])
        .filter(|&v| v <= MAX_DATASET_VALUES)
        .ok_or_else(too_large)?;
    let bytes_per_image = pixels.div_ceil(8);
    let labels_len = if has_labels { count } else { 0 };
    let expected = size::product(&[count as u64, bytes_per_image as u64])
        .and_then(|body| size::sum(&[PACKED_HEADER as u64, labels_len as u64, body as u64]))
        .ok_or_else(too_large)?;
    if bytes.len() != expected {
        return Err(bad(format!(
            "{} bytes, expected {expected} for {count} {} of {rows} x {cols}",
            bytes.len(),
            plural(count, "image", "images")
        )));
    }
    Ok(Packed {
        count,
        shape: (rows, cols),
        pixels,
        bytes_per_image,
        labels: has_labels.then(|| &bytes[PACKED_HEADER..PACKED_HEADER + count]),
        body: &bytes[PACKED_HEADER + labels_len..],
    })
}

/// A packed image file whose header has been checked.
struct Packed<'a> {
    count: usize,
    shape: (usize, usize),
    pixels: usize,
    bytes_per_image: usize,
    labels: Option<&'a [u8]>,
    body: &'a [u8],
}

impl Packed<'_> {
    /// The images at `indices`, in that order, unpacked straight into one matrix.
    fn select(&self, indices: &[usize]) -> Dataset {
        let pixels = self.pixels;
        let mut data = vec![0.0f32; indices.len() * pixels];
        for (row, &i) in data.chunks_exact_mut(pixels).zip(indices) {
            let image = &self.body[i * self.bytes_per_image..(i + 1) * self.bytes_per_image];
            let mut eights = row.chunks_exact_mut(8);
            for (out, &byte) in (&mut eights).zip(image) {
                for (k, value) in out.iter_mut().enumerate() {
                    *value = f32::from((byte >> (7 - k)) & 1);
                }
            }
            let rest = eights.into_remainder();
            let last = image[pixels / 8..].first().copied().unwrap_or(0);
            for (k, value) in rest.iter_mut().enumerate() {
                *value = f32::from((last >> (7 - k)) & 1);
            }
        }
        Dataset {
            images: Matrix::from_vec(indices.len(), pixels, data).expect("sizes agree"),
            labels: self.labels.map(|l| indices.iter().map(|&i| l[i]).collect()),
            image_shape: self.shape,
        }
    }
}

/// Reads the packed format: `RBMB`, version 1 (u8), image count (u32 LE), rows and
/// columns (u16 LE each), a labels flag (u8: 0 or 1), then one label byte per image
/// when flagged, then each image's pixels row by row, one bit each, most significant
/// bit first, each image padded to a whole byte.
pub fn parse_packed(bytes: &[u8]) -> Result<Dataset> {
    let packed = read_packed(bytes)?;
    let all: Vec<usize> = (0..packed.count).collect();
    Ok(packed.select(&all))
}

/// The word for `count` things: `one` for 1, else `many`.
pub fn plural<'a>(count: usize, one: &'a str, many: &'a str) -> &'a str {
    if count == 1 {
        one
    } else {
        many
    }
}

/// Most pixel values a data set may hold (256 MiB as f32; MNIST's 10,000 digits are 7.8 million).
pub const MAX_DATASET_VALUES: usize = 1 << 26;

/// Images of `rows x cols` pixels from a flat list of 0/1 values (`count * rows * cols`
/// of them, image by image, each row by row).
pub fn from_pixels(pixels: &[f32], rows: u64, cols: u64) -> Result<Dataset> {
    let per_image = size::product(&[rows, cols])
        .filter(|&p| p > 0)
        .ok_or_else(|| {
            RbmError::Data(format!("images of {rows} x {cols} pixels are not allowed"))
        })?;
    if pixels.len() > MAX_DATASET_VALUES {
        return Err(RbmError::Data(format!(
            "{} pixel values are more than the {MAX_DATASET_VALUES} a data set may hold",
            pixels.len()
        )));
    }
    if pixels.is_empty() || !pixels.len().is_multiple_of(per_image) {
        return Err(RbmError::Data(format!(
            "{} pixel values do not make whole {rows} x {cols} images",
            pixels.len()
        )));
    }
    if let Some(i) = pixels.iter().position(|&p| p != 0.0 && p != 1.0) {
        return Err(RbmError::Data(format!(
            "pixel {i} is {}, expected 0 or 1",
            pixels[i]
        )));
    }
    let images = Matrix::from_vec(pixels.len() / per_image, per_image, pixels.to_vec())
        .ok_or_else(|| RbmError::Data("pixel count mismatch".into()))?;
    Ok(Dataset {
        images,
        labels: None,
        image_shape: (rows as usize, cols as usize),
    })
}

/// Most rows a CSV file may hold (images, one per line).
pub const MAX_CSV_ROWS: usize = 100_000;

/// A CSV (or whitespace- or semicolon-separated) text of 0/1 rows, one image of
/// `rows x cols` pixels per line, read row by row. Blank lines and lines starting with
/// `#` are skipped. The first problem is named with its line and value number.
pub fn parse_csv(text: &str, rows: u64, cols: u64) -> Result<Dataset> {
    let bad = |message: String| RbmError::Data(format!("CSV: {message}"));
    let per_image = size::product(&[rows, cols])
        .filter(|&p| p > 0 && p <= crate::limits::MAX_UNITS)
        .ok_or_else(|| {
            bad(format!(
                "images of {rows} x {cols} pixels are not allowed (at most {} pixels)",
                crate::limits::MAX_UNITS
            ))
        })?;
    let mut pixels: Vec<f32> = Vec::new();
    let mut images = 0usize;
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if images == MAX_CSV_ROWS {
            return Err(bad(format!("more than {MAX_CSV_ROWS} images; use fewer")));
        }
        let start = pixels.len();
        for (k, cell) in line
            .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
            .filter(|c| !c.is_empty())
            .enumerate()
        {
            if pixels.len() == MAX_DATASET_VALUES {
                return Err(bad(format!(
                    "more than {MAX_DATASET_VALUES} pixel values; use fewer or smaller images"
                )));
            }
            if k == per_image {
                return Err(bad(format!(
                    "line {} has more than {per_image} values; a {rows} x {cols} image needs {per_image}",
                    number + 1
                )));
            }
            pixels.push(match cell {
                "0" => 0.0,
                "1" => 1.0,
                other => {
                    let shown: String = other.chars().take(20).collect();
                    return Err(bad(format!(
                        "line {}, value {} is \"{shown}\"; only 0 and 1 are allowed",
                        number + 1,
                        k + 1
                    )));
                }
            });
        }
        let got = pixels.len() - start;
        if got != per_image {
            return Err(bad(format!(
                "line {} has {got} {}; a {rows} x {cols} image needs {per_image}",
                number + 1,
                plural(got, "value", "values")
            )));
        }
        images += 1;
    }
    if images == 0 {
        return Err(bad("the file has no rows of pixels".into()));
    }
    from_pixels(&pixels, rows, cols)
}

/// Writes the packed format read by [`parse_packed`]; pixels are on when >= 0.5.
pub fn to_packed(dataset: &Dataset) -> Vec<u8> {
    let (rows, cols) = dataset.image_shape;
    let count = dataset.images.rows();
    let mut out = Vec::new();
    out.extend_from_slice(PACKED_MAGIC);
    out.push(1);
    out.extend_from_slice(&(count as u32).to_le_bytes());
    out.extend_from_slice(&(rows as u16).to_le_bytes());
    out.extend_from_slice(&(cols as u16).to_le_bytes());
    out.push(u8::from(dataset.labels.is_some()));
    if let Some(labels) = &dataset.labels {
        out.extend_from_slice(labels);
    }
    for r in 0..count {
        let mut packed = vec![0u8; (rows * cols).div_ceil(8)];
        for (p, &v) in dataset.images.row(r).iter().enumerate() {
            if v >= 0.5 {
                packed[p / 8] |= 1 << (7 - p % 8);
            }
        }
        out.extend_from_slice(&packed);
    }
    out
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.images.rows()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The rows at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Dataset {
        let cols = self.images.cols();
        let mut data = Vec::with_capacity(indices.len() * cols);
        for &i in indices {
            data.extend_from_slice(self.images.row(i));
        }
        Dataset {
            images: Matrix::from_vec(indices.len(), cols, data).expect("sizes agree"),
            labels: self
                .labels
                .as_ref()
                .map(|l| indices.iter().map(|&i| l[i]).collect()),
            image_shape: self.image_shape,
        }
    }

    /// A seeded random split: the first `first_count` of a shuffled order, and the rest.
    pub fn split(&self, first_count: usize, seed: u64) -> Result<(Dataset, Dataset)> {
        let order = split_order(self.len(), first_count, seed)?;
        Ok((
            self.select(&order[..first_count]),
            self.select(&order[first_count..]),
        ))
    }
}

/// MNIST's fixed split: 9,000 training and 1,000 test digits from the 10,000 shipped.
pub const MNIST_TRAIN_COUNT: usize = 9_000;
pub const MNIST_SPLIT_SEED: u64 = 2010;

/// The training and test parts of the packed MNIST asset, by the fixed seeded split:
/// `parse_packed(bytes)?.split(MNIST_TRAIN_COUNT, MNIST_SPLIT_SEED)`, with each image
/// unpacked once, straight into its part (the page's first model waited on this: a
/// whole set unpacked and then copied touched twice the fresh memory).
pub fn mnist_split(bytes: &[u8]) -> Result<(Dataset, Dataset)> {
    let packed = read_packed(bytes)?;
    let order = split_order(packed.count, MNIST_TRAIN_COUNT, MNIST_SPLIT_SEED)?;
    let (first, rest) = order.split_at(MNIST_TRAIN_COUNT);
    Ok((packed.select(first), packed.select(rest)))
}

/// The shuffled order of a seeded split of `len` examples, checked to hold `first_count`.
fn split_order(len: usize, first_count: usize, seed: u64) -> Result<Vec<usize>> {
    if first_count > len {
        return Err(RbmError::Data(format!(
            "cannot take {first_count} examples from a set of {len}"
        )));
    }
    let mut order: Vec<usize> = (0..len).collect();
    rng::shuffle(&mut rng::seeded(seed), &mut order);
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_and_stripes_are_distinct_and_counted() {
        for side in 1..=4 {
            let set = bars_and_stripes(side).unwrap();
            assert_eq!(set.len(), (1 << (side + 1)) - 2);
            let mut rows: Vec<Vec<u8>> = (0..set.len())
                .map(|r| set.images.row(r).iter().map(|&v| v as u8).collect())
                .collect();
            rows.sort();
            rows.dedup();
            assert_eq!(rows.len(), set.len(), "side {side} has duplicates");
        }
        let set = bars_and_stripes(3).unwrap();
        // Stripe mask 0b001 switches on the top row; bar mask 0b001 the left column.
        assert_eq!(set.images.row(1), &[1., 1., 1., 0., 0., 0., 0., 0., 0.]);
        assert_eq!(set.images.row(8), &[1., 0., 0., 1., 0., 0., 1., 0., 0.]);
        assert!(bars_and_stripes(0).is_err());
    }

    /// The one-pass split gives the sets the parse-then-split gives, labels and all, for
    /// widths that fill whole bytes and widths that do not.
    #[test]
    fn mnist_split_equals_parsing_then_splitting() {
        for (side, count) in [(28usize, 10_000usize), (5, 9_500)] {
            let mut g = rng::seeded(side as u64);
            let pixels: Vec<f32> = (0..count * side * side)
                .map(|_| f32::from(rand::Rng::random::<bool>(&mut g)))
                .collect();
            let mut set = from_pixels(&pixels, side as u64, side as u64).unwrap();
            set.labels = Some((0..count).map(|i| (i % 10) as u8).collect());
            let bytes = to_packed(&set);
            let (train, test) = mnist_split(&bytes).unwrap();
            let (train_ref, test_ref) = parse_packed(&bytes)
                .unwrap()
                .split(MNIST_TRAIN_COUNT, MNIST_SPLIT_SEED)
                .unwrap();
            assert_eq!(
                (train.len(), test.len()),
                (MNIST_TRAIN_COUNT, count - MNIST_TRAIN_COUNT)
            );
            assert_eq!(train, train_ref);
            assert_eq!(test, test_ref);
        }
        let small = to_packed(&bars_and_stripes(3).unwrap());
        assert!(mnist_split(&small)
            .unwrap_err()
            .to_string()
            .contains("cannot take 9000"));
    }

    #[test]
    fn packed_round_trip_and_rejections() {
        let mut set = bars_and_stripes(3).unwrap();
        set.labels = Some((0..set.len() as u8).collect());
        let bytes = to_packed(&set);
        assert_eq!(parse_packed(&bytes).unwrap(), set);
        let message = |b: &[u8]| parse_packed(b).unwrap_err().to_string();
        assert!(message(b"nope").contains("RBMB header"));
        assert!(message(&bytes[..bytes.len() - 1]).contains("expected"));
        let mut wrong_version = bytes.clone();
        wrong_version[4] = 9;
        assert!(message(&wrong_version).contains("version 9"));
    }

    #[test]
    fn split_is_a_seeded_partition() {
        let set = bars_and_stripes(4).unwrap();
        let (a, b) = set.split(20, 5).unwrap();
        assert_eq!((a.len(), b.len()), (20, 10));
        let (a2, _) = set.split(20, 5).unwrap();
        assert_eq!(a, a2);
        let mut all: Vec<Vec<u8>> = (0..a.len())
            .map(|r| a.images.row(r).iter().map(|&v| v as u8).collect())
            .chain((0..b.len()).map(|r| b.images.row(r).iter().map(|&v| v as u8).collect()))
            .collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 30);
    }
}
