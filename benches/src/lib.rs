//! Shared code for the benchmarks: corpus generators and the load harness.
pub mod dlp_corpus;
