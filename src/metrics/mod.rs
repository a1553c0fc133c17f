//! Measures of what a generative model produced: a digit judge that mllab trains itself, and
//! the Fréchet distance of its features ("FID (judge)").

pub mod frechet;
pub mod judge;
