pub mod pg;
pub mod replay;
pub mod vectors;
