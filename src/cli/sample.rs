//! `mllab sample SAVE`: fresh samples from a finished run's weights, as a `.npy` file. The
//! save is read here and the file written here; drawing the samples is the family's (through
//! the registry), and a family that cannot is named with those that can.

use std::path::Path;

use crate::models::{SampleRequest, kinds_that_sample};
use crate::saves;

pub use crate::models::WEIGHTS_FILE;

/// Draws `request.n` samples from the run saved in `save` and writes them to `out`.
pub fn sample_save(save: &Path, request: &SampleRequest, out: &Path) -> Result<(), String> {
    let loaded = saves::load(save).map_err(|e| e.to_string())?;
    let model = &loaded.lesson.model;
    let cannot = || {
        format!(
            "{} is a run of `{}`, which cannot draw samples from a save; `mllab sample` works on saves of: {}",
            save.display(),
            model.kind_name(),
            kinds_that_sample().join(", ")
        )
    };
    if !kinds_that_sample().contains(&model.kind_name()) {
        return Err(cannot());
    }
    let file = model.weights_file(request)?;
    let weights = save.join(&file);
    if !weights.is_file() {
        return Err(format!(
            "{} has no {file} (the run did not finish, or is from a lesson that keeps none)",
            save.display()
        ));
    }
    let samples = model
        .sample(&weights, request)
        .unwrap_or_else(|| Err(cannot()))?;
    let per_sample = samples.shape.iter().skip(1).product::<usize>().max(1);
    if let Some(i) = samples.values.iter().position(|v| !v.is_finite()) {
        return Err(format!(
            "sample {} of {} turned NaN or infinite while being drawn from {}; nothing was written",
            i / per_sample + 1,
            request.n,
            save.display()
        ));
    }
    let arr = ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&samples.shape), samples.values)
        .map_err(|e| e.to_string())?;
    ndarray_npy::write_npy(out, &arr).map_err(|e| format!("cannot write {}: {e}", out.display()))
}
