//! The primitive ops, one family per file, each op's forward and backward side by side. Every
//! op is a method of `Graph`; every file opens with its table of derivative rules.

pub mod arith;
pub mod attention;
pub mod conv;
pub mod linalg;
pub mod loss;
pub mod norm;
mod patches;
pub mod reduce;
pub mod shape_ops;
pub mod softmax;
pub mod unary;
