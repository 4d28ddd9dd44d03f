//! Binary image data sets: bars-and-stripes, the packed MNIST asset, and splits.

use crate::error::{RbmError, Result};
use crate::linalg::Matrix;
use crate::rng;

/// A set of binary images, one per row of `images` (values 0.0 or 1.0), each
/// `image_shape.0` rows by `image_shape.1` columns, read row by row.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    pub images: Matrix,
    pub labels: Option<Vec<u8>>,
    pub image_shape: (usize, usize),
}

/// Largest side for bars-and-stripes: 2^(side+1) - 2 patterns of side² pixels.
pub const MAX_BARS_AND_STRIPES_SIDE: usize = 12;

/// Every distinct side x side bars-and-stripes image: each subset of rows switched
/// on (stripes), then each subset of columns (bars). The all-off and all-on images
/// arise both ways and are kept once, giving 2^(side+1) - 2 images.
pub fn bars_and_stripes(side: usize) -> Result<Dataset> {
    if !(1..=MAX_BARS_AND_STRIPES_SIDE).contains(&side) {
        return Err(RbmError::setting(
            "side",
            side,
            format!("between 1 and {MAX_BARS_AND_STRIPES_SIDE}"),
        ));
    }
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

/// Reads the packed format: `RBMB`, version 1 (u8), image count (u32 LE), rows and
/// columns (u16 LE each), a labels flag (u8: 0 or 1), then one label byte per image
/// when flagged, then each image's pixels row by row, one bit each, most significant
/// bit first, each image padded to a whole byte.
pub fn parse_packed(bytes: &[u8]) -> Result<Dataset> {
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
    let pixels = rows * cols;
    if count == 0 || pixels == 0 {
        return Err(bad(format!("it holds {count} images of {rows} x {cols}")));
    }
    let bytes_per_image = pixels.div_ceil(8);
    let labels_len = if has_labels { count } else { 0 };
    let expected = PACKED_HEADER + labels_len + count * bytes_per_image;
    if bytes.len() != expected {
        return Err(bad(format!(
            "{} bytes, expected {expected} for {count} images of {rows} x {cols}",
            bytes.len()
        )));
    }
    let labels = has_labels.then(|| bytes[PACKED_HEADER..PACKED_HEADER + count].to_vec());
    let body = &bytes[PACKED_HEADER + labels_len..];
    let mut data = Vec::with_capacity(count * pixels);
    for image in body.chunks_exact(bytes_per_image) {
        data.extend((0..pixels).map(|p| f32::from((image[p / 8] >> (7 - p % 8)) & 1)));
    }
    Ok(Dataset {
        images: Matrix::from_vec(count, pixels, data).expect("sizes agree"),
        labels,
        image_shape: (rows, cols),
    })
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
        if first_count > self.len() {
            return Err(RbmError::Data(format!(
                "cannot take {first_count} examples from a set of {}",
                self.len()
            )));
        }
        let mut order: Vec<usize> = (0..self.len()).collect();
        rng::shuffle(&mut rng::seeded(seed), &mut order);
        Ok((
            self.select(&order[..first_count]),
            self.select(&order[first_count..]),
        ))
    }
}

/// MNIST's fixed split: 9,000 training and 1,000 test digits from the 10,000 shipped.
pub const MNIST_TRAIN_COUNT: usize = 9_000;
pub const MNIST_SPLIT_SEED: u64 = 2010;

/// The training and test parts of the packed MNIST asset, by the fixed seeded split.
pub fn mnist_split(bytes: &[u8]) -> Result<(Dataset, Dataset)> {
    parse_packed(bytes)?.split(MNIST_TRAIN_COUNT, MNIST_SPLIT_SEED)
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
