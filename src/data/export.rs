//! `mllab data NAME`: a built-in data set written as NumPy `.npy` files, so that learners can
//! look at it in Python (`np.load("digits.npy")`).

use std::path::Path;

use ndarray::{Array1, ArrayD, IxDyn};

use super::digits;
use super::toys::{TOYS, Toy};

/// The names `mllab data` knows.
pub fn names() -> Vec<&'static str> {
    std::iter::once("digits")
        .chain(TOYS.iter().map(|(n, _)| *n))
        .collect()
}

/// `n` examples of the named set: the examples (digits n×28×28 in [0, 1], toys n×2) and labels.
pub fn dataset(name: &str, n: usize, seed: u64) -> Result<(ArrayD<f32>, Array1<u8>), String> {
    if name == "digits" {
        let (pixels, labels) = digits::generate(n, seed);
        let x = ArrayD::from_shape_vec(IxDyn(&[n, 28, 28]), pixels).map_err(|e| e.to_string())?;
        return Ok((x, Array1::from(labels)));
    }
    let toy = Toy::from_name(name).ok_or_else(|| {
        let hint = crate::config::parse::did_you_mean(
            name,
            &names().iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
        .map(|b| format!(" Did you mean `{b}`?"))
        .unwrap_or_default();
        format!(
            "there is no data set `{name}`.{hint} Known: {}",
            names().join(", ")
        )
    })?;
    let (points, labels) = toy.sample(n, seed);
    let flat: Vec<f32> = points.iter().flat_map(|p| [p[0], p[1]]).collect();
    let x = ArrayD::from_shape_vec(IxDyn(&[n, 2]), flat).map_err(|e| e.to_string())?;
    Ok((x, Array1::from(labels)))
}

/// Writes the examples (and, if asked, the labels) as `.npy` files.
pub fn write(
    name: &str,
    n: usize,
    seed: u64,
    out: &Path,
    labels: Option<&Path>,
) -> Result<(), String> {
    let (x, y) = dataset(name, n, seed)?;
    ndarray_npy::write_npy(out, &x).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    if let Some(path) = labels {
        ndarray_npy::write_npy(path, &y)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toys_and_digits_have_their_shapes() {
        let (x, y) = dataset("moons", 50, 1).unwrap();
        assert_eq!((x.shape(), y.len()), (&[50usize, 2][..], 50));
        let (x, y) = dataset("digits", 20, 1).unwrap();
        assert_eq!((x.shape(), y.len()), (&[20usize, 28, 28][..], 20));
    }

    #[test]
    fn an_unknown_name_gets_a_suggestion() {
        let err = dataset("moon", 5, 0).unwrap_err();
        assert!(
            err.contains("did you mean `moons`") || err.contains("Did you mean `moons`"),
            "{err}"
        );
    }

    #[test]
    fn the_npy_files_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let (xp, yp) = (dir.path().join("x.npy"), dir.path().join("y.npy"));
        write("spiral", 10, 3, &xp, Some(&yp)).unwrap();
        let x: ArrayD<f32> = ndarray_npy::read_npy(&xp).unwrap();
        let y: Array1<u8> = ndarray_npy::read_npy(&yp).unwrap();
        assert_eq!(x, dataset("spiral", 10, 3).unwrap().0);
        assert_eq!(y.len(), 10);
    }
}
