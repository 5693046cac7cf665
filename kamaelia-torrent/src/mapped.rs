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
//! to whatever handled it before (by default: the process ends, as it would have); a `SIGBUS`
//! sent by `kill` is never taken for one of ours.
//!
//! The handler is process-wide: it is installed the first time a window is mapped, keeping
//! the action that was there before for the signals that are not ours. A program that later
//! installs a `SIGBUS` handler of its own replaces ours, and a file cut short while mapped
//! then ends the process again, as with any mapping.
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

    /// An error if part of the window could not be read: the file was cut short while it was
    /// mapped, or a page of it could not be read from the disk.
    pub fn check(&self) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        if self.inner.cut_short() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file was cut short (or could not be read) while it was mapped",
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
    use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
    use std::sync::OnceLock;

    /// How many windows may be mapped at once in the process; more read instead.
    const SLOTS: usize = 64;

    /// Bits of a slot's range word that hold the window's length in pages.
    const LEN_BITS: u32 = 28;
    /// A slot's range word while the slot is free.
    const FREE_RANGE: u64 = 0;
    /// A slot's range word while the slot is being filled or emptied.
    const BUSY: u64 = u64::MAX;

    /// A live window, for the signal handler. Its address range is one word, so that the
    /// handler never pairs the start of one window with the end of another: the first page
    /// number above [`LEN_BITS`] bits, the length in pages below, or [`FREE_RANGE`] or
    /// [`BUSY`].
    struct Slot {
        range: AtomicU64,
        cut_short: AtomicBool,
    }

    #[allow(clippy::declare_interior_mutable_const)]
    const FREE: Slot = Slot {
        range: AtomicU64::new(FREE_RANGE),
        cut_short: AtomicBool::new(false),
    };
    static TABLE: [Slot; SLOTS] = [FREE; SLOTS];
    static PAGE: AtomicUsize = AtomicUsize::new(0);

    /// The range word of `pages` pages from address `base`, if it fits in one.
    fn pack(base: usize, pages: usize, page: usize) -> Option<u64> {
        let first = (base / page) as u64;
        let pages = pages as u64;
        (first < 1 << (64 - LEN_BITS) && pages < 1 << LEN_BITS && first > 0)
            .then_some(first << LEN_BITS | pages)
    }

    /// True if `range` (a live slot's word) holds `addr`.
    fn holds(range: u64, addr: usize, page: usize) -> bool {
        if range == FREE_RANGE || range == BUSY {
            return false;
        }
        let first = (range >> LEN_BITS) as usize;
        let pages = (range & ((1 << LEN_BITS) - 1)) as usize;
        let p = addr / page;
        p >= first && p < first + pages
    }

    /// The `SIGBUS` action in force before ours, called for signals that are not ours.
    struct Previous(libc::sigaction);
    // SAFETY: a plain C struct of a function pointer, flags and a signal mask, written once
    // before it is shared and only read afterwards.
    unsafe impl Send for Previous {}
    unsafe impl Sync for Previous {}
    static PREVIOUS: OnceLock<Previous> = OnceLock::new();
    static INSTALLED: OnceLock<bool> = OnceLock::new();

    /// Our action: `on_sigbus`, with its siginfo, on the alternate stack if there is one.
    fn our_action() -> libc::sigaction {
        // SAFETY: a zeroed sigaction is a valid value to fill in.
        let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
        act.sa_sigaction = on_sigbus as *const () as usize;
        act.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        // SAFETY: the mask is ours to initialise.
        unsafe { libc::sigemptyset(&mut act.sa_mask) };
        act
    }

    /// Installs the handler once per process; false if it could not be. The action in force
    /// before is recorded first, so that a signal arriving meanwhile still finds it.
    fn install() -> bool {
        *INSTALLED.get_or_init(|| {
            // SAFETY: sysconf and sigaction are called with valid arguments; `old` is a
            // zeroed C struct filled in by the kernel.
            unsafe {
                let page = libc::sysconf(libc::_SC_PAGESIZE);
                if page <= 0 {
                    return false;
                }
                PAGE.store(page as usize, Ordering::Release);
                let mut old: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(libc::SIGBUS, ptr::null(), &mut old) != 0 {
                    return false;
                }
                let _ = PREVIOUS.set(Previous(old));
                libc::sigaction(libc::SIGBUS, &our_action(), ptr::null_mut()) == 0
            }
        })
    }

    /// The `SIGBUS` handler. Only async-signal-safe work: atomics, `mmap`, `sigaction`,
    /// `raise`, and the previous handler; `errno` is left as it was found.
    extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, uctx: *mut libc::c_void) {
        // SAFETY: errno is this thread's; the kernel passes a valid siginfo to a SA_SIGINFO
        // handler.
        let (errno, code, addr) = unsafe {
            (
                *libc::__errno_location(),
                (*info).si_code,
                (*info).si_addr() as usize,
            )
        };
        // Only a fault the kernel raised (si_code > 0) has an address worth looking at; a
        // SIGBUS sent by kill or raise is never ours.
        if code > 0 && handle_fault(addr) {
            // SAFETY: restoring this thread's errno.
            unsafe { *libc::__errno_location() = errno };
            return;
        }
        // SAFETY: the previous action is called as the kind of handler its flags say it is;
        // the default action is taken by resetting it and raising the signal again (blocked
        // until this handler returns), as the kernel would have done.
        unsafe {
            if let Some(Previous(old)) = PREVIOUS.get() {
                let h = old.sa_sigaction;
                if h == libc::SIG_IGN {
                    *libc::__errno_location() = errno;
                    return;
                }
                if h != libc::SIG_DFL {
                    if old.sa_flags & libc::SA_SIGINFO != 0 {
                        let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                            std::mem::transmute(h);
                        f(sig, info, uctx);
                    } else {
                        let f: extern "C" fn(libc::c_int) = std::mem::transmute(h);
                        f(sig);
                    }
                    // A sent signal does not come back: if the previous handler reset the
                    // action (as Rust's own does for anything but a stack overflow), arm ours
                    // again. A real fault is left to the action now in force.
                    if code <= 0 {
                        libc::sigaction(libc::SIGBUS, &our_action(), ptr::null_mut());
                    }
                    *libc::__errno_location() = errno;
                    return;
                }
            }
            let mut dfl: libc::sigaction = std::mem::zeroed();
            dfl.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(libc::SIGBUS, &dfl, ptr::null_mut());
            if code <= 0 {
                libc::raise(libc::SIGBUS);
            }
        }
    }

    /// A fault at `addr`: if it lies in a window of ours, put a page of zeros there, mark
    /// the window, and say so.
    fn handle_fault(addr: usize) -> bool {
        let page = PAGE.load(Ordering::Acquire);
        for slot in &TABLE {
            if !holds(slot.range.load(Ordering::Acquire), addr, page) {
                continue;
            }
            // The file ends before this page now (or the page could not be read).
            // SAFETY: the page lies inside a mapping of ours, live while its slot shows it
            // (a window leaves its slot before it is unmapped), so replacing it touches no
            // memory of anyone else.
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
                return true;
            }
        }
        false
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
                s.range
                    .compare_exchange(FREE_RANGE, BUSY, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
            })?;
            let s = &TABLE[slot];
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
            let range = (base != libc::MAP_FAILED)
                .then(|| pack(base as usize, map_len.div_ceil(page), page))
                .flatten();
            let Some(range) = range else {
                if base != libc::MAP_FAILED {
                    // SAFETY: our own mapping, never handed out.
                    unsafe { libc::munmap(base, map_len) };
                }
                s.range.store(FREE_RANGE, Ordering::Release);
                return None;
            };
            // SAFETY: advice on our own mapping; failure is harmless.
            unsafe { libc::madvise(base, map_len, libc::MADV_SEQUENTIAL) };
            s.cut_short.store(false, Ordering::Release);
            s.range.store(range, Ordering::Release);
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
            // past a new end of file read as zeros (see the handler) rather than fault. The
            // bytes can change under this reference if another process writes the file (or
            // cuts it short): the formal aliasing rules do not allow for that, as with every
            // file mapping. The only use is hashing, whose result is then checked (`check`,
            // and the piece hash itself), and no decision relies on the bytes staying put.
            unsafe { std::slice::from_raw_parts(self.base.cast::<u8>().add(self.skip), self.len) }
        }

        pub(super) fn cut_short(&self) -> bool {
            TABLE[self.slot].cut_short.load(Ordering::Acquire)
        }
    }

    impl Drop for Mapping {
        fn drop(&mut self) {
            let s = &TABLE[self.slot];
            // Leave the slot before unmapping: the handler never acts on an unmapped range.
            s.range.store(BUSY, Ordering::Release);
            // SAFETY: unmapping our own mapping, which no reference outlives (`bytes`
            // borrows `self`).
            unsafe { libc::munmap(self.base, self.map_len) };
            s.range.store(FREE_RANGE, Ordering::Release);
        }
    }

    #[cfg(test)]
    pub(super) fn raise_sigbus() {
        // SAFETY: raising a signal in this process.
        unsafe { libc::raise(libc::SIGBUS) };
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

    #[test]
    fn a_sent_sigbus_is_not_taken_for_a_cut_file_and_leaves_the_handler_armed() {
        let data = vec![0x5au8; 64 * 1024];
        let (dir, f) = temp_file("sent", &data);
        let w = Window::map(&f, 0, data.len()).unwrap();
        // Rust's own SIGBUS handler, which ours hands sent signals to, lets the process go
        // on (and resets the action); ours must be armed again afterwards.
        linux::raise_sigbus();
        w.check().unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(dir.join("f"))
            .unwrap()
            .set_len(4096)
            .unwrap();
        assert_eq!(
            w.bytes()[60_000],
            0,
            "a cut-short page still reads as zeros"
        );
        assert!(w.check().is_err());
        drop(w);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
