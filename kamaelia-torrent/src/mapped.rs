//! Read-only windows of a file mapped into memory, for hashing without copying, that survive
//! the file being cut short while they are read.
//!
//! Reading a file with `read` copies every byte from the page cache into a buffer; on some
//! machines that copy costs as much as hashing the bytes. A mapping lets the hasher read the
//! page cache directly. Its well-known danger: if another process truncates the file, touching
//! a page past the new end raises `SIGBUS`, which kills the process. Here a `SIGBUS` inside a
//! window of ours is caught: the handler puts a page of zeros where the file's page was, marks
//! the window, and lets the read go on. [`Window::check`] then reports the file as changed, so
//! the caller fails with an error instead of the process dying. A `SIGBUS` anywhere else goes
//! to whatever handled it before (by default: the process ends, as it would have).
//!
//! Linux only; elsewhere [`Window::map`] always returns `None` and callers read instead.

use std::fs::File;
use std::io;

/// A mapped range of a file.
pub(crate) struct Window {
    #[cfg(target_os = "linux")]
    inner: linux::Mapping,
}

impl Window {
    /// Maps `len` bytes of `file` from `offset` (any offset; the mapping starts at the page
    /// below it), or `None` if the file cannot be mapped here (then read it instead).
    pub fn map(file: &File, offset: u64, len: usize) -> Option<Window> {
        #[cfg(target_os = "linux")]
        {
            linux::Mapping::new(file, offset, len).map(|inner| Window { inner })
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = (file, offset, len);
            None
        }
    }

    /// The bytes. If the file was cut short while they were read, the missing part reads as
    /// zeros and [`check`](Window::check) says so.
    pub fn bytes(&self) -> &[u8] {
        #[cfg(target_os = "linux")]
        {
            self.inner.bytes()
        }
        #[cfg(not(target_os = "linux"))]
        {
            unreachable!("no window is made on this platform")
        }
    }

    /// An error if the file was cut short while this window was read.
    pub fn check(&self) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        if self.inner.cut_short() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file was cut short while it was read",
            ));
        }
        Ok(())
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::fs::File;
    use std::os::fd::AsRawFd;
    use std::ptr;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::OnceLock;

    /// How many windows may be mapped at once in the process; more read instead.
    const SLOTS: usize = 64;

    /// The address range of a live window, for the signal handler. `start` is 0 when the
    /// slot is free and `usize::MAX` while it is being filled.
    struct Slot {
        start: AtomicUsize,
        end: AtomicUsize,
        cut_short: AtomicBool,
    }

    #[allow(clippy::declare_interior_mutable_const)]
    const FREE: Slot = Slot {
        start: AtomicUsize::new(0),
        end: AtomicUsize::new(0),
        cut_short: AtomicBool::new(false),
    };
    static TABLE: [Slot; SLOTS] = [FREE; SLOTS];
    static PAGE: AtomicUsize = AtomicUsize::new(0);

    /// The `SIGBUS` action in force before ours, called for faults outside our windows.
    struct Previous(libc::sigaction);
    // SAFETY: a plain C struct of a function pointer, flags and a signal mask, written once
    // before it is shared and only read afterwards.
    unsafe impl Send for Previous {}
    unsafe impl Sync for Previous {}
    static PREVIOUS: OnceLock<Option<Previous>> = OnceLock::new();

    /// Installs the handler once per process; false if it could not be.
    fn install() -> bool {
        PREVIOUS
            .get_or_init(|| {
                // SAFETY: sysconf and sigaction are called with valid arguments; the structs
                // are zeroed C structs filled in before use.
                unsafe {
                    let page = libc::sysconf(libc::_SC_PAGESIZE);
                    if page <= 0 {
                        return None;
                    }
                    PAGE.store(page as usize, Ordering::Release);
                    let mut act: libc::sigaction = std::mem::zeroed();
                    act.sa_sigaction = on_sigbus as *const () as usize;
                    act.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
                    libc::sigemptyset(&mut act.sa_mask);
                    let mut old: libc::sigaction = std::mem::zeroed();
                    if libc::sigaction(libc::SIGBUS, &act, &mut old) != 0 {
                        return None;
                    }
                    Some(Previous(old))
                }
            })
            .is_some()
    }

    /// The `SIGBUS` handler. Only async-signal-safe work: atomics, `mmap`, `sigaction`, and
    /// the previous handler.
    extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, uctx: *mut libc::c_void) {
        // SAFETY: the kernel passes a valid siginfo for a SA_SIGINFO handler.
        let addr = unsafe { (*info).si_addr() } as usize;
        let page = PAGE.load(Ordering::Acquire);
        for slot in &TABLE {
            let start = slot.start.load(Ordering::Acquire);
            if start == 0 || start == usize::MAX {
                continue;
            }
            if addr >= start && addr < slot.end.load(Ordering::Acquire) {
                // The file ends before this page now: put zeros in its place and go on.
                // SAFETY: the page lies inside a mapping of ours (checked just above), so
                // replacing it touches no memory of anyone else.
                let p = unsafe {
                    libc::mmap(
                        (addr & !(page - 1)) as *mut libc::c_void,
                        page,
                        libc::PROT_READ,
                        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                        -1,
                        0,
                    )
                };
                if p != libc::MAP_FAILED {
                    slot.cut_short.store(true, Ordering::Release);
                    return;
                }
            }
        }
        // Not one of ours: do what would have been done without us.
        // SAFETY: the previous action is called as the kind of handler its flags say it is;
        // resetting to the default and returning makes the fault happen again, unhandled.
        unsafe {
            if let Some(Some(Previous(old))) = PREVIOUS.get() {
                let h = old.sa_sigaction;
                if h != libc::SIG_DFL && h != libc::SIG_IGN {
                    if old.sa_flags & libc::SA_SIGINFO != 0 {
                        let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                            std::mem::transmute(h);
                        f(sig, info, uctx);
                    } else {
                        let f: extern "C" fn(libc::c_int) = std::mem::transmute(h);
                        f(sig);
                    }
                    return;
                }
            }
            let mut dfl: libc::sigaction = std::mem::zeroed();
            dfl.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(libc::SIGBUS, &dfl, ptr::null_mut());
        }
    }

    pub(super) struct Mapping {
        base: *mut libc::c_void,
        map_len: usize,
        /// Where the bytes asked for start inside the mapping.
        skip: usize,
        len: usize,
        slot: usize,
    }

    // SAFETY: the mapping is private to this value and only read.
    unsafe impl Send for Mapping {}

    impl Mapping {
        pub(super) fn new(file: &File, offset: u64, len: usize) -> Option<Mapping> {
            if len == 0 || !install() {
                return None;
            }
            let page = PAGE.load(Ordering::Acquire);
            let start = offset - offset % page as u64;
            let skip = (offset - start) as usize;
            let map_len = skip.checked_add(len)?;
            let slot = TABLE.iter().position(|s| {
                s.start
                    .compare_exchange(0, usize::MAX, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
            })?;
            // SAFETY: a fresh read-only private mapping chosen by the kernel; the descriptor
            // is valid for the call, and the mapping outlives it as mmap allows.
            let base = unsafe {
                libc::mmap(
                    ptr::null_mut(),
                    map_len,
                    libc::PROT_READ,
                    libc::MAP_PRIVATE,
                    file.as_raw_fd(),
                    start as libc::off_t,
                )
            };
            if base == libc::MAP_FAILED {
                TABLE[slot].start.store(0, Ordering::Release);
                return None;
            }
            // SAFETY: advice on our own mapping; failure is harmless.
            unsafe { libc::madvise(base, map_len, libc::MADV_SEQUENTIAL) };
            let s = &TABLE[slot];
            s.cut_short.store(false, Ordering::Release);
            s.end.store(base as usize + map_len, Ordering::Release);
            s.start.store(base as usize, Ordering::Release);
            Some(Mapping {
                base,
                map_len,
                skip,
                len,
                slot,
            })
        }

        pub(super) fn bytes(&self) -> &[u8] {
            // SAFETY: the mapping is `map_len` readable bytes, alive as long as `self`; pages
            // past a new end of file read as zeros (see the handler) rather than fault.
            unsafe { std::slice::from_raw_parts(self.base.cast::<u8>().add(self.skip), self.len) }
        }

        pub(super) fn cut_short(&self) -> bool {
            TABLE[self.slot].cut_short.load(Ordering::Acquire)
        }
    }

    impl Drop for Mapping {
        fn drop(&mut self) {
            let s = &TABLE[self.slot];
            s.start.store(usize::MAX, Ordering::Release);
            // SAFETY: unmapping our own mapping, which no reference outlives (`bytes`
            // borrows `self`).
            unsafe { libc::munmap(self.base, self.map_len) };
            s.end.store(0, Ordering::Release);
            s.start.store(0, Ordering::Release);
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::io::Write;

    fn temp_file(name: &str, bytes: &[u8]) -> (std::path::PathBuf, File) {
        let dir = std::env::temp_dir().join(format!("mapped-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        std::fs::File::create(&path)
            .unwrap()
            .write_all(bytes)
            .unwrap();
        let f = File::open(&path).unwrap();
        (dir, f)
    }

    #[test]
    fn a_window_reads_the_range_asked_for() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let (dir, f) = temp_file("range", &data);
        let w = Window::map(&f, 12_345, 50_000).expect("maps on Linux");
        assert_eq!(w.bytes(), &data[12_345..62_345]);
        w.check().unwrap();
        assert!(Window::map(&f, 0, 0).is_none());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_file_cut_short_while_mapped_is_an_error_not_a_crash() {
        let data = vec![0xabu8; 64 * 1024];
        let (dir, f) = temp_file("cut", &data);
        let w = Window::map(&f, 0, data.len()).unwrap();
        assert_eq!(w.bytes()[40_000], 0xab);
        // Another writer truncates the file: the pages past the new end are gone.
        std::fs::OpenOptions::new()
            .write(true)
            .open(dir.join("f"))
            .unwrap()
            .set_len(8 * 1024)
            .unwrap();
        let tail: u64 = w.bytes()[16 * 1024..].iter().map(|&b| b as u64).sum();
        assert_eq!(tail, 0, "the lost part reads as zeros");
        let e = w.check().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        assert!(e.to_string().contains("cut short"), "{e}");
        drop(w);
        // A fresh window of the shorter file is fine.
        let w = Window::map(&f, 0, 8 * 1024).unwrap();
        assert!(w.bytes().iter().all(|&b| b == 0xab));
        w.check().unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    }
}
