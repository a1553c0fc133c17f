//! Saving and loading parameters as safetensors (f32, little-endian, PyTorch names and
//! layouts), so a model trained in mllab opens in PyTorch with `safetensors.torch.load_file`
//! and `load_state_dict`, and the other way round. Parameters kept transposed in memory
//! (Linear weights, (in, out)) are written in PyTorch's (out, in) and transposed back on load.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use safetensors::{Dtype, SafeTensors, tensor::TensorView};

use crate::tensor::{ParamStore, Tensor};

/// What can go wrong with a weights file; each variant names the file and what was wrong.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a valid safetensors file: {message}")]
    Format { path: PathBuf, message: String },
    #[error("{path}: tensor `{name}` is {dtype}, expected F32")]
    Dtype {
        path: PathBuf,
        name: String,
        dtype: String,
    },
    #[error("{path}: tensor `{name}` has shape {found:?}, the model expects {expected:?}")]
    Shape {
        path: PathBuf,
        name: String,
        found: Vec<usize>,
        expected: Vec<usize>,
    },
    #[error("{path} has no tensor `{name}` that the model needs")]
    Missing { path: PathBuf, name: String },
}

/// The safetensors bytes of every parameter under its name (`metadata` lands in the header,
/// e.g. lesson and step). Weights kept as (in, out) are written in PyTorch's (out, in) layout.
pub fn to_bytes(
    ps: &ParamStore,
    metadata: Option<HashMap<String, String>>,
) -> Result<Vec<u8>, safetensors::SafeTensorError> {
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = ps
        .iter()
        .map(|(_, p)| {
            let value = if p.saved_transposed {
                p.value.t().as_standard_layout().into_owned()
            } else {
                (*p.value).clone()
            };
            let data: Vec<u8> = value.iter().flat_map(|v| v.to_le_bytes()).collect();
            (p.name.clone(), value.shape().to_vec(), data)
        })
        .collect();
    let views = bytes
        .iter()
        .map(|(name, shape, data)| {
            TensorView::new(Dtype::F32, shape.clone(), data).map(|v| (name.clone(), v))
        })
        .collect::<Result<Vec<_>, _>>()?;
    safetensors::serialize(views, metadata)
}

/// Writes every parameter under its name to `path` (see [`to_bytes`]).
pub fn save(
    ps: &ParamStore,
    path: &Path,
    metadata: Option<HashMap<String, String>>,
) -> Result<(), WeightsError> {
    let bytes = to_bytes(ps, metadata).map_err(|e| WeightsError::Format {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    std::fs::write(path, bytes).map_err(|source| WeightsError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads every tensor of a file into a new store, in the file's layout (names sorted, so ids
/// are reproducible). To load into a model, build it and use `load_into`.
pub fn load(path: &Path) -> Result<ParamStore, WeightsError> {
    let buf = std::fs::read(path).map_err(|source| WeightsError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let st = SafeTensors::deserialize(&buf).map_err(|e| WeightsError::Format {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let mut names: Vec<String> = st.names().into_iter().map(String::from).collect();
    names.sort();
    let mut ps = ParamStore::new();
    for name in names {
        let t = read_tensor(&st, &name, path)?;
        ps.add(name, t);
    }
    Ok(ps)
}

/// Overwrites the parameters of `ps` with the tensors of the same names; every parameter must be
/// present with the same shape (extra tensors in the file are ignored). Nothing is changed
/// unless everything matches.
pub fn load_into(ps: &mut ParamStore, path: &Path) -> Result<(), WeightsError> {
    let buf = std::fs::read(path).map_err(|source| WeightsError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let st = SafeTensors::deserialize(&buf).map_err(|e| WeightsError::Format {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let mut loaded = Vec::with_capacity(ps.len());
    for (id, p) in ps.iter() {
        if st.tensor(&p.name).is_err() {
            return Err(WeightsError::Missing {
                path: path.to_path_buf(),
                name: p.name.clone(),
            });
        }
        let t = read_tensor(&st, &p.name, path)?;
        let mut expected = p.value.shape().to_vec();
        if p.saved_transposed {
            expected.reverse();
        }
        if t.shape() != expected.as_slice() {
            return Err(WeightsError::Shape {
                path: path.to_path_buf(),
                name: p.name.clone(),
                found: t.shape().to_vec(),
                expected,
            });
        }
        let t = if p.saved_transposed {
            t.t().as_standard_layout().into_owned()
        } else {
            t
        };
        loaded.push((id, t));
    }
    for (id, t) in loaded {
        ps.set(id, t);
    }
    Ok(())
}

fn read_tensor(st: &SafeTensors, name: &str, path: &Path) -> Result<Tensor, WeightsError> {
    let view = st.tensor(name).map_err(|_| WeightsError::Missing {
        path: path.to_path_buf(),
        name: name.to_string(),
    })?;
    if view.dtype() != Dtype::F32 {
        return Err(WeightsError::Dtype {
            path: path.to_path_buf(),
            name: name.to_string(),
            dtype: format!("{:?}", view.dtype()),
        });
    }
    let values: Vec<f32> = view
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Tensor::from_shape_vec(ndarray::IxDyn(view.shape()), values).map_err(|e| WeightsError::Format {
        path: path.to_path_buf(),
        message: format!("tensor `{name}`: {e}"),
    })
}
