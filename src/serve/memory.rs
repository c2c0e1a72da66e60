//! Memory that comes back after a flood.
//!
//! Request bodies are up to 1 MiB each, and a crowd of uploads allocates hundreds of them at
//! once. glibc's allocator, left to itself, serves such blocks from `mmap` only until the first
//! one is freed: it then raises its mmap threshold to that size, and later megabyte blocks come
//! from the heap, where a few survivors keep the freed pages around them resident (rounds of
//! 400 parked 1 MiB uploads once left well over a gigabyte resident after the clients had gone;
//! `cargo xtask flood` measures it). Two settings fix it without a second allocator to build
//! and audit:
//!
//! * a fixed mmap threshold of [`MMAP_THRESHOLD`]: every body buffer of that size or more is
//!   its own mapping, unmapped the moment it is freed;
//! * `malloc_trim(0)` once a second while connections are closing, for the smaller blocks
//!   (hyper's read buffers, the answers) that do live on the heap.
//!
//! Elsewhere (another C library, another OS) both are no-ops.

use std::sync::atomic::{AtomicU64, Ordering};

/// Blocks of this size or more are mapped on their own and returned to the OS when freed.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 128 * 1024;

/// Connections closed since the process started; the trimmer trims when it moves.
static CLOSED: AtomicU64 = AtomicU64::new(0);

/// Counts a connection as closed when dropped (held by each connection's task).
pub(super) struct ConnectionOpen;

impl ConnectionOpen {
    pub(super) fn new() -> ConnectionOpen {
        ConnectionOpen
    }
}

impl Drop for ConnectionOpen {
    fn drop(&mut self) {
        CLOSED.fetch_add(1, Ordering::Relaxed);
    }
}

/// Fixes the mmap threshold and starts the trimmer thread. Called once, before serving.
pub(super) fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes the allocator's parameters; called before any
        // connection allocates, from the one thread that exists.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        }
        let _ = std::thread::Builder::new().name("malloc-trim".into()).spawn(|| {
            let mut seen = 0;
            loop {
                std::thread::sleep(std::time::Duration::from_secs(1));
                let closed = CLOSED.load(Ordering::Relaxed);
                if closed != seen {
                    seen = closed;
                    // SAFETY: malloc_trim takes the allocator's own locks; callable any time.
                    unsafe {
                        libc::malloc_trim(0);
                    }
                }
            }
        });
    }
}
