//! The `portcullis` binary.

/// glibc's allocator trims and re-grows its heap top around the per-request
/// buffers of a busy proxy, so a quarter of the CPU went to zeroing freshly
/// faulted pages; mimalloc keeps per-thread free lists and does not thrash.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    portcullis::cli::main()
}
