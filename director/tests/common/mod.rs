pub mod pg;
pub mod vectors;
