//! `mllab sample SAVE`: fresh samples from a finished run's weights: a `.npy` file of digits
//! or points, or lines of text (next-token). The save is read here and the output written here; drawing the samples is the family's (through
//! the registry), and a family that cannot is named with those that can.

use std::path::Path;

use crate::models::{SampleRequest, Samples, kinds_that_sample};
use crate::saves;

pub use crate::models::WEIGHTS_FILE;

/// Where `mllab sample` puts what it drew.
#[derive(Clone, Debug, Default)]
pub struct SampleOut {
    /// `--out FILE`: a `.npy` for arrays; a text file (one sample a line) for text.
    pub file: Option<std::path::PathBuf>,
    /// `--json`: text samples as one JSON array of strings on standard output.
    pub json: bool,
}

impl SampleOut {
    /// Written to `file`.
    pub fn to(file: impl Into<std::path::PathBuf>) -> SampleOut {
        SampleOut {
            file: Some(file.into()),
            json: false,
        }
    }
}

/// Draws `request.n` samples from the run saved in `save` and writes them as `out` says;
/// returns what was written, for the closing message.
pub fn sample_save(
    save: &Path,
    request: &SampleRequest,
    out: &SampleOut,
) -> Result<String, String> {
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
    match model
        .sample(&weights, request)
        .unwrap_or_else(|| Err(cannot()))?
    {
        Samples::Array { values, shape } => write_array(save, request, out, values, shape),
        Samples::Text(texts) => write_text(out, texts),
    }
}

fn write_array(
    save: &Path,
    request: &SampleRequest,
    out: &SampleOut,
    values: Vec<f32>,
    shape: Vec<usize>,
) -> Result<String, String> {
    let Some(file) = &out.file else {
        return Err(format!(
            "{} draws numbers, written as a .npy file: give --out FILE.npy",
            save.display()
        ));
    };
    if out.json {
        return Err("--json is for text samples (next-token saves); this save draws numbers, written to --out".into());
    }
    let per_sample = shape.iter().skip(1).product::<usize>().max(1);
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(format!(
            "sample {} of {} turned NaN or infinite while being drawn from {}; nothing was written",
            i / per_sample + 1,
            request.n,
            save.display()
        ));
    }
    let arr = ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&shape), values)
        .map_err(|e| e.to_string())?;
    ndarray_npy::write_npy(file, &arr)
        .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    Ok(format!("wrote {} samples to {}", request.n, file.display()))
}

/// Text samples one a line (a newline inside a sample shown as ⏎), or as JSON.
fn write_text(out: &SampleOut, texts: Vec<String>) -> Result<String, String> {
    let body = if out.json {
        serde_json::to_string(&texts).map_err(|e| e.to_string())? + "\n"
    } else {
        texts
            .iter()
            .map(|t| t.replace('\n', "⏎") + "\n")
            .collect::<String>()
    };
    match &out.file {
        Some(file) => {
            std::fs::write(file, body)
                .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
            Ok(format!(
                "wrote {} samples to {}",
                texts.len(),
                file.display()
            ))
        }
        None => {
            use std::io::Write;
            std::io::stdout()
                .write_all(body.as_bytes())
                .map_err(|e| format!("cannot write the samples: {e}"))?;
            Ok(format!("wrote {} samples", texts.len()))
        }
    }
}
