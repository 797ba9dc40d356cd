//! Shared code for the benchmarks: corpus generators and the load harness.
