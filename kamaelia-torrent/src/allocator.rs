//! Settings of the C allocator for a process that streams blocks through memory.
//!
//! A download allocates and frees blocks (16 KiB), socket chunks (up to 64 KiB) and the
//! backlog of blocks waiting for the disk (up to 16 MiB) all the time, on the scheduler's
//! thread and the storage worker's. With glibc's defaults the heap is trimmed (given back
//! with `brk`/`madvise`) whenever 128 KiB at its top are free, and grown again at the next
//! burst: every page then comes back as a fresh page fault with a zeroed page. In a swarm of
//! eight leechers that churn cost more CPU than the peer protocol itself (see
//! `docs/performance.md`). [`tune_for_streaming`] keeps freed memory for reuse instead.
//!
//! The peak resident size does not grow: memory is only kept after it was in use, so the
//! high-water mark is the same; what is kept is at most [`TRIM_THRESHOLD`] above it.

/// Free memory at the top of a heap is given back to the system only beyond this.
pub const TRIM_THRESHOLD: usize = 32 << 20;

/// Allocations from this size up get their own mapping (glibc's default starts at 128 KiB
/// and moves up as large blocks are freed; fixed, it no longer moves).
pub const MMAP_THRESHOLD: usize = 4 << 20;

/// Sets the allocator up for streaming (see the module documentation): true if it took the
/// settings, false where there is nothing to set (not glibc).
///
/// Call it once, at the start of `main`, before threads are started.
///
/// ```
/// // Harmless to call more than once; on glibc it always succeeds.
/// let took = kamaelia_torrent::allocator::tune_for_streaming();
/// assert_eq!(took, cfg!(all(target_os = "linux", target_env = "gnu")));
/// ```
pub fn tune_for_streaming() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `mallopt` only changes glibc's allocator parameters, under the allocator's
        // own lock; both values are in range for a C int.
        unsafe {
            libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD as libc::c_int) == 1
                && libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as libc::c_int) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}
