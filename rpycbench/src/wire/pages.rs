//! Transparent huge pages for large buffers.
//!
//! Fresh memory is faulted in one 4 KiB page at a time: for a 100 MiB buffer, 25,600
//! traps, each with its page-table and LRU bookkeeping, which profiling a 100 MiB
//! download showed costing the server more than copying the bytes. Backed by 2 MiB pages
//! the same buffer takes 50 faults. The kernel zeroes the memory either way.
//!
//! Advice only: where transparent huge pages are off (`never`) nothing changes, and
//! where they are `always` it was done already; the common default, `madvise`, is the
//! case this helps.

/// The size of a huge page on x86-64 and most arm64 kernels.
const HUGE_PAGE: usize = 2 << 20;

/// Asks for huge pages for the whole 2 MiB-aligned pages within `len` bytes at `ptr`,
/// memory this process owns and has not touched yet. Buffers under two huge pages are
/// left alone.
pub(crate) fn advise_huge_pages(ptr: *const u8, len: usize) {
    if len < 2 * HUGE_PAGE {
        return;
    }
    let start = (ptr as usize).next_multiple_of(HUGE_PAGE);
    let end = (ptr as usize).saturating_add(len) / HUGE_PAGE * HUGE_PAGE;
    if end > start {
        // SAFETY: madvise(MADV_HUGEPAGE) reads and writes no memory: it only marks
        // [start, end), which lies inside the caller's allocation, as a candidate for
        // huge pages. A failure (an old kernel, THP compiled out) only loses the advice.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `VmFlags` of the mapping holding `addr`, from /proc/self/smaps.
    fn vm_flags(addr: usize) -> Option<String> {
        let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
        let mut inside = false;
        for line in smaps.lines() {
            if let Some((range, _)) = line.split_once(' ').filter(|(r, _)| r.contains('-') && !r.ends_with(':')) {
                let (lo, hi) = range.split_once('-')?;
                let (lo, hi) = (usize::from_str_radix(lo, 16).ok()?, usize::from_str_radix(hi, 16).ok()?);
                inside = (lo..hi).contains(&addr);
            } else if inside && line.starts_with("VmFlags:") {
                return Some(line.to_owned());
            }
        }
        None
    }

    #[test]
    fn a_large_buffer_is_marked_for_huge_pages() {
        if !std::path::Path::new("/sys/kernel/mm/transparent_hugepage/enabled").exists() {
            eprintln!("skipped: this kernel has no transparent huge pages");
            return;
        }
        // A mapping of its own: a malloc'd buffer may lie in a thread arena's heap that an
        // earlier test's advice already marked.
        const LEN: usize = 16 << 20;
        // SAFETY: a fresh private anonymous mapping, unmapped below; nothing else uses it.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                LEN,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(ptr, libc::MAP_FAILED, "mmap of 16 MiB");
        let middle = ptr as usize + LEN / 2;
        assert!(!vm_flags(middle).expect("the buffer's mapping").contains(" hg"), "not marked before the advice");
        advise_huge_pages(ptr as *const u8, LEN);
        let flags = vm_flags(middle).expect("the buffer's mapping");
        // SAFETY: the mapping made above, of LEN bytes, no longer used.
        unsafe { libc::munmap(ptr, LEN) };
        assert!(flags.contains(" hg"), "the middle of the buffer is not marked: {flags}");
    }
}
