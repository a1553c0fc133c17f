pub fn hello() {}

pub mod bench;
pub mod nn;
pub mod tensor;
