//! The IDX file format of MNIST, Fashion-MNIST, KMNIST and EMNIST: images and labels, raw or
//! gzip-compressed.
//!
//! Layout: a big-endian magic number `0x0000 TT DD` (TT = 0x08 for unsigned bytes, DD = number
//! of dimensions), then DD big-endian u32 sizes, then the data. Images are 3-D
//! (count × rows × cols), labels 1-D. Every check names the file and what was found, and the
//! sizes are checked against the file's length before anything large is allocated.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest file accepted, decompressed (EMNIST "byclass" is about 0.6 GB).
const MAX_BYTES: u64 = 2 << 30;

/// A problem with an IDX file.
#[derive(Clone, Debug, PartialEq)]
pub struct IdxError {
    pub file: PathBuf,
    pub message: String,
}

impl fmt::Display for IdxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.message)
    }
}

impl std::error::Error for IdxError {}

/// Images from an IDX file, as bytes 0–255, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct IdxImages {
    pub count: usize,
    pub rows: usize,
    pub cols: usize,
    pub pixels: Vec<u8>,
}

impl IdxImages {
    /// Image `i` as floats in [0, 1].
    pub fn image_f32(&self, i: usize) -> Vec<f32> {
        let n = self.rows * self.cols;
        self.pixels[i * n..(i + 1) * n]
            .iter()
            .map(|&p| p as f32 / 255.0)
            .collect()
    }
}

/// Reads a whole file, un-gzipping it when it starts with the gzip magic bytes.
fn read_bytes(path: &Path) -> Result<Vec<u8>, IdxError> {
    let err = |message: String| IdxError {
        file: path.to_path_buf(),
        message,
    };
    let raw = std::fs::read(path).map_err(|e| err(format!("cannot read the file: {e}")))?;
    if raw.len() >= 2 && raw[0] == 0x1f && raw[1] == 0x8b {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .take(MAX_BYTES + 1)
            .read_to_end(&mut out)
            .map_err(|e| {
                err(format!(
                    "the gzip data is damaged ({e}); download the file again"
                ))
            })?;
        if out.len() as u64 > MAX_BYTES {
            return Err(err(format!(
                "the file decompresses to more than {} GiB",
                MAX_BYTES >> 30
            )));
        }
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// Checks the header: magic, type, dimensions. Returns the sizes and the data offset.
fn header(
    bytes: &[u8],
    path: &Path,
    want_dims: usize,
    what: &str,
) -> Result<(Vec<usize>, usize), IdxError> {
    let err = |message: String| IdxError {
        file: path.to_path_buf(),
        message,
    };
    if bytes.len() < 4 {
        return Err(err(format!(
            "too short for an IDX file ({} bytes)",
            bytes.len()
        )));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(err(format!(
            "not an IDX file: it starts with {:02x} {:02x} {:02x} {:02x}, an IDX file with {what} starts with 00 00 08 0{want_dims}",
            bytes[0], bytes[1], bytes[2], bytes[3]
        )));
    }
    if bytes[2] != 0x08 {
        return Err(err(format!(
            "the data type is 0x{:02x}; only unsigned bytes (0x08) are supported",
            bytes[2]
        )));
    }
    let dims = bytes[3] as usize;
    if dims != want_dims {
        let other = if dims == 1 {
            " (this looks like a labels file)"
        } else if dims == 3 {
            " (this looks like an images file)"
        } else {
            ""
        };
        return Err(err(format!(
            "expected {want_dims} dimension(s) for {what}, found {dims}{other}"
        )));
    }
    let offset = 4 + 4 * dims;
    if bytes.len() < offset {
        return Err(err(format!(
            "the header is cut short: {} bytes, it needs {offset}",
            bytes.len()
        )));
    }
    let sizes: Vec<usize> = (0..dims)
        .map(|d| {
            u32::from_be_bytes([
                bytes[4 + 4 * d],
                bytes[5 + 4 * d],
                bytes[6 + 4 * d],
                bytes[7 + 4 * d],
            ]) as usize
        })
        .collect();
    let need: u64 = sizes.iter().fold(1u64, |a, &s| a.saturating_mul(s as u64));
    let have = (bytes.len() - offset) as u64;
    if have < need {
        return Err(err(format!(
            "the file is truncated: its header promises {need} data bytes ({}) but only {have} follow",
            sizes
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(" × ")
        )));
    }
    Ok((sizes, offset))
}

/// Reads images; `first` keeps only the first N.
pub fn read_images(path: &Path, first: Option<usize>) -> Result<IdxImages, IdxError> {
    parse_images(&read_bytes(path)?, path, first)
}

/// Reads labels; `first` keeps only the first N.
pub fn read_labels(path: &Path, first: Option<usize>) -> Result<Vec<u8>, IdxError> {
    parse_labels(&read_bytes(path)?, path, first)
}

pub fn parse_images(
    bytes: &[u8],
    path: &Path,
    first: Option<usize>,
) -> Result<IdxImages, IdxError> {
    let (sizes, offset) = header(bytes, path, 3, "images")?;
    let (count, rows, cols) = (sizes[0], sizes[1], sizes[2]);
    if rows == 0 || cols == 0 || rows > 1024 || cols > 1024 {
        return Err(IdxError {
            file: path.to_path_buf(),
            message: format!("images of {rows}×{cols} pixels are not supported"),
        });
    }
    let count = first.map_or(count, |f| f.min(count));
    let n = count * rows * cols;
    Ok(IdxImages {
        count,
        rows,
        cols,
        pixels: bytes[offset..offset + n].to_vec(),
    })
}

pub fn parse_labels(bytes: &[u8], path: &Path, first: Option<usize>) -> Result<Vec<u8>, IdxError> {
    let (sizes, offset) = header(bytes, path, 1, "labels")?;
    let count = first.map_or(sizes[0], |f| f.min(sizes[0]));
    Ok(bytes[offset..offset + count].to_vec())
}

/// Reads an images file and its labels file and checks that they agree.
pub fn read_pair(
    images: &Path,
    labels: &Path,
    first: Option<usize>,
) -> Result<(IdxImages, Vec<u8>), IdxError> {
    let im = read_images(images, first)?;
    let lb = read_labels(labels, first)?;
    if im.count != lb.len() {
        return Err(IdxError {
            file: labels.to_path_buf(),
            message: format!(
                "{} labels for {} images in {}; the two files do not belong together",
                lb.len(),
                im.count,
                images.display()
            ),
        });
    }
    if let Some((i, l)) = lb.iter().enumerate().find(|(_, l)| **l > 61) {
        return Err(IdxError {
            file: labels.to_path_buf(),
            message: format!("label {l} at record {i} is out of range (0–61)"),
        });
    }
    Ok((im, lb))
}

/// Encodes images as IDX bytes (tests and tools; real data comes from files).
pub fn encode_images(count: usize, rows: usize, cols: usize, pixels: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 8, 3];
    for s in [count, rows, cols] {
        out.extend_from_slice(&(s as u32).to_be_bytes());
    }
    out.extend_from_slice(pixels);
    out
}

/// Encodes labels as IDX bytes.
pub fn encode_labels(labels: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 8, 1];
    out.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    out.extend_from_slice(labels);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn p() -> &'static Path {
        Path::new("digits.idx")
    }

    #[test]
    fn images_round_trip_through_the_format() {
        let pixels: Vec<u8> = (0..2 * 3 * 4).map(|i| i as u8).collect();
        let im = parse_images(&encode_images(2, 3, 4, &pixels), p(), None).unwrap();
        assert_eq!((im.count, im.rows, im.cols), (2, 3, 4));
        assert_eq!(im.pixels, pixels);
        assert_eq!(im.image_f32(1)[0], 12.0 / 255.0);
    }

    #[test]
    fn first_keeps_only_the_first_records() {
        let im = parse_images(&encode_images(5, 2, 2, &[7; 20]), p(), Some(3)).unwrap();
        assert_eq!((im.count, im.pixels.len()), (3, 12));
        assert_eq!(
            parse_labels(&encode_labels(&[1, 2, 3]), p(), Some(2)).unwrap(),
            vec![1, 2]
        );
    }

    #[test]
    fn a_wrong_magic_number_is_named() {
        let e = parse_images(b"PK\x03\x04rest", p(), None).unwrap_err();
        assert!(
            e.message.contains("not an IDX file") && e.message.contains("50 4b 03 04"),
            "{e}"
        );
    }

    #[test]
    fn a_labels_file_given_as_images_is_recognised() {
        let e = parse_images(&encode_labels(&[1, 2]), p(), None).unwrap_err();
        assert!(
            e.message.contains("found 1") && e.message.contains("labels file"),
            "{e}"
        );
    }

    #[test]
    fn a_truncated_file_says_how_much_is_missing() {
        let mut bytes = encode_images(10, 28, 28, &vec![0; 10 * 784]);
        bytes.truncate(bytes.len() - 100);
        let e = parse_images(&bytes, p(), None).unwrap_err();
        assert!(
            e.message.contains("truncated")
                && e.message.contains("7840")
                && e.message.contains("7740"),
            "{e}"
        );
    }

    #[test]
    fn a_non_byte_data_type_is_refused() {
        let e = parse_labels(&[0, 0, 0x0d, 1, 0, 0, 0, 0], p(), None).unwrap_err();
        assert!(e.message.contains("0x0d"), "{e}");
    }

    #[test]
    fn a_cut_header_is_refused() {
        let e = parse_images(&[0, 0, 8, 3, 0, 0], p(), None).unwrap_err();
        assert!(e.message.contains("header is cut short"), "{e}");
    }

    #[test]
    fn gzip_files_are_read_like_raw_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.gz");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&encode_labels(&[3, 1, 4, 1, 5])).unwrap();
        std::fs::write(&path, gz.finish().unwrap()).unwrap();
        assert_eq!(read_labels(&path, None).unwrap(), vec![3, 1, 4, 1, 5]);
    }

    #[test]
    fn damaged_gzip_data_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.gz");
        std::fs::write(&path, [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3]).unwrap();
        let e = read_labels(&path, None).unwrap_err();
        assert!(e.message.contains("gzip data is damaged"), "{e}");
    }

    #[test]
    fn images_and_labels_that_do_not_match_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (im, lb) = (dir.path().join("i"), dir.path().join("l"));
        std::fs::write(&im, encode_images(3, 2, 2, &[0; 12])).unwrap();
        std::fs::write(&lb, encode_labels(&[1, 2])).unwrap();
        let e = read_pair(&im, &lb, None).unwrap_err();
        assert!(e.message.contains("2 labels for 3 images"), "{e}");
    }

    /// Checks the reader on real MNIST where the course data is present (it is not shipped).
    #[test]
    fn the_real_mnist_test_set_reads_when_it_is_present() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/mnist");
        let (im, lb) = (
            dir.join("t10k-images-idx3-ubyte.gz"),
            dir.join("t10k-labels-idx1-ubyte.gz"),
        );
        if !im.exists() {
            eprintln!("real MNIST not present: checked only on synthetic files");
            return;
        }
        let (images, labels) = read_pair(&im, &lb, None).unwrap();
        assert_eq!((images.count, images.rows, images.cols), (10_000, 28, 28));
        assert_eq!(&labels[..5], &[7, 2, 1, 0, 4]);
        let mean = images.pixels.iter().map(|&p| p as f64).sum::<f64>()
            / images.pixels.len() as f64
            / 255.0;
        assert!((mean - 0.1325).abs() < 0.005, "mean intensity {mean}");
    }
}

/// `data: {source: idx, images: FILE, labels: FILE, first: N}`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdxSpec {
    /// The images file (`…-images-idx3-ubyte`, raw or `.gz`); relative to the lesson file.
    pub images: PathBuf,
    /// The labels file (`…-labels-idx1-ubyte`, raw or `.gz`).
    pub labels: PathBuf,
    /// Keep only the first N records for training; the next ones (up to 2,000) are held out for
    /// scoring. Default: train on all, and hold out the last 2,000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first: Option<usize>,
}

impl IdxSpec {
    /// Reads both files; splits them into training and held-out images in [0, 1].
    pub fn load(&self) -> Result<super::ImageSet, String> {
        let (im, lb) = read_pair(&self.images, &self.labels, None).map_err(|e| e.to_string())?;
        if im.rows != 28 || im.cols != 28 {
            return Err(format!(
                "{}: the images are {}×{}; the digit lessons need 28×28",
                self.images.display(),
                im.rows,
                im.cols
            ));
        }
        let total = im.count;
        let (train_n, test_range) = match self.first {
            Some(f) if f < total => (f, f..(f + 2000).min(total)),
            Some(_) | None if total > 2000 => (
                total.saturating_sub(2000).max(1),
                total.saturating_sub(2000)..total,
            ),
            _ => (total, 0..total),
        };
        let floats = |r: std::ops::Range<usize>| -> Vec<f32> {
            im.pixels[r.start * 784..r.end * 784]
                .iter()
                .map(|&p| p as f32 / 255.0)
                .collect()
        };
        let first_part = if self.first.is_some_and(|f| f >= total) {
            total
        } else {
            train_n
        };
        let stem = self
            .images
            .file_name()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        Ok(super::ImageSet {
            train: floats(0..first_part),
            train_labels: lb[..first_part].to_vec(),
            test: floats(test_range.clone()),
            test_labels: lb[test_range].to_vec(),
            key: format!("idx-{stem}-{first_part}"),
        })
    }
}
