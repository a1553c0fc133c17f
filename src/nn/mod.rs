//! Neural-network building blocks on the tensor engine: layers (`layers`), composite blocks
//! (`blocks`: MLP, residual, causal attention, transformer block, time embedding), a small
//! U-Net (`unet`), initialization (`init`), optimizers (`optim`), weight averaging (`ema`) and
//! safetensors saves (`io`). (Learning-rate schedules are the lesson's `train.schedule`.)
//!
//! A model is a plain struct of layers holding `ParamId`s into one `ParamStore`; it is `Send`,
//! so it can live on a trainer thread. A training step builds a `Graph`, runs `forward`, calls
//! `backward`, drops the graph and lets the optimizer update the store:
//!
//! ```
//! use mllab::nn::{Activation, Adam, AdamConfig, Mlp, Optimizer};
//! use mllab::tensor::{Graph, ParamStore, tensor};
//! use rand::SeedableRng;
//!
//! // A 2-8-1 MLP learns XOR.
//! let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(7);
//! let mut ps = ParamStore::new();
//! let mlp = Mlp::new(&mut ps, "xor", &[2, 8, 1], Activation::Tanh, &mut rng);
//! let mut opt = Adam::new(AdamConfig::adam(0.05));
//! let x = tensor(&[4, 2], &[0., 0., 0., 1., 1., 0., 1., 1.]);
//! let y = tensor(&[4, 1], &[0., 1., 1., 0.]);
//! let mut loss = f32::MAX;
//! for _ in 0..500 {
//!     let grads = {
//!         let g = Graph::new(&ps);
//!         let logits = mlp.forward(&g, &g.input(x.clone()));
//!         let l = g.mean_all(&g.bce_with_logits(&logits, &g.input(y.clone())));
//!         loss = l.item();
//!         g.backward(&l)
//!     };
//!     opt.step(&mut ps, &grads);
//! }
//! assert!(loss < 0.05, "XOR loss {loss}");
//! // Evaluation builds no graph.
//! let g = Graph::no_grad(&ps);
//! let p = g.sigmoid(&mlp.forward(&g, &g.input(x)));
//! let p = p.value().as_slice().unwrap();
//! assert!(p[0] < 0.5 && p[1] > 0.5 && p[2] > 0.5 && p[3] < 0.5);
//! assert!(g.is_empty());
//! ```

pub mod blocks;
pub mod ema;
pub mod init;
pub mod io;
pub mod layers;
pub mod optim;
pub mod unet;

pub use blocks::{
    CausalSelfAttention, Mlp, ResidualBlock, TransformerBlock, causal_mask, sinusoidal_embedding,
};
pub use ema::Ema;
pub use io::{WeightsError, load, load_into, save, to_bytes};
pub use layers::{Activation, Conv2d, Embedding, GroupNorm, LayerNorm, Linear};
pub use optim::{Adam, AdamConfig, Optimizer, Sgd};
pub use unet::{TinyUnet, UnetConfig};
