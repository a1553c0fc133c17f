//! Reference-model training-step benchmark.
