//! Fallible allocation for buffers whose size a user controls (rows, replicates, permutations,
//! draws, n x n weight matrices): memory pressure or an absurd size becomes
//! `Error::OutOfMemory` (Python `MemoryError`) instead of an abort ("memory allocation of N
//! bytes failed") or a `capacity overflow` panic. Buffers of 8 MiB and up are advised to use
//! transparent huge pages on Linux (`advise_huge_pages`).

use crate::error::{Error, Result};

fn oom(what: &str, bytes: u128) -> Error {
    Error::OutOfMemory {
        what: what.to_string(),
        bytes: bytes.min(u64::MAX as u128) as u64,
    }
}

/// `n` copies of `value`, or `Error::OutOfMemory` naming `what`.
pub fn try_vec<T: Clone>(n: usize, value: T, what: &str) -> Result<Vec<T>> {
    let mut v = try_with_capacity(n, what)?;
    v.resize(n, value);
    Ok(v)
}

/// Types whose all-zero bit pattern is a valid value (0, 0.0).
pub trait Zeroable: Copy {}
impl Zeroable for f64 {}
impl Zeroable for u32 {}
impl Zeroable for u64 {}
impl Zeroable for usize {}

/// `n` zeros from the allocator's zeroed memory: for large `n` the pages are mapped lazily, so
/// unlike [`try_vec`] this does not write (and commit) every byte before the caller's loop
/// starts; `Error::OutOfMemory` naming `what` when the memory is not there.
pub fn try_zeros<T: Zeroable>(n: usize, what: &str) -> Result<Vec<T>> {
    let size = std::mem::size_of::<T>();
    if n == 0 {
        return Ok(Vec::new());
    }
    let layout =
        std::alloc::Layout::array::<T>(n).map_err(|_| oom(what, n as u128 * size as u128))?;
    // SAFETY: the layout has non-zero size (n > 0, every `Zeroable` type is non-zero-sized); on success the block holds n values of T whose
    // all-zero bit pattern is valid (`Zeroable`), and it was allocated by the global allocator
    // with exactly the layout `Vec<T>` uses for capacity n, as `from_raw_parts` requires.
    unsafe {
        let ptr = std::alloc::alloc_zeroed(layout) as *mut T;
        if ptr.is_null() {
            return Err(oom(what, layout.size() as u128));
        }
        advise_huge_pages(ptr as *mut u8, layout.size());
        Ok(Vec::from_raw_parts(ptr, n, n))
    }
}

/// Buffers from this size up ask the kernel for transparent huge pages.
const HUGE_PAGE_BYTES: usize = 8 << 20;

/// Asks Linux to back a large fresh buffer with 2 MiB pages (madvise, the mode most
/// distributions ship): filling an 80 MB column then takes 40 page faults instead of 20,000,
/// which at 10M rows was ~0.1 s of a `feols` call (the residuals alone). Advice only: errors
/// are ignored and nothing changes where the kernel says no or on other systems.
fn advise_huge_pages(ptr: *mut u8, bytes: usize) {
    #[cfg(target_os = "linux")]
    if bytes >= HUGE_PAGE_BYTES {
        // the whole 4 KiB pages inside the block (madvise needs a page-aligned start)
        const PAGE: usize = 4096;
        let start = (ptr as usize).div_ceil(PAGE) * PAGE;
        let end = (ptr as usize + bytes) / PAGE * PAGE;
        if end > start {
            // SAFETY: [start, end) lies inside the block just allocated; MADV_HUGEPAGE does not
            // change its contents or validity, only how the kernel backs it.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (ptr, bytes);
}

/// An empty vector with room for `n` elements, or `Error::OutOfMemory` naming `what`.
pub fn try_with_capacity<T>(n: usize, what: &str) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n)
        .map_err(|_| oom(what, n as u128 * std::mem::size_of::<T>().max(1) as u128))?;
    advise_huge_pages(
        v.as_mut_ptr() as *mut u8,
        v.capacity() * std::mem::size_of::<T>(),
    );
    Ok(v)
}

/// A copy of `s`, or `Error::OutOfMemory` naming `what`.
pub fn try_copy<T: Clone>(s: &[T], what: &str) -> Result<Vec<T>> {
    let mut v = try_with_capacity(s.len(), what)?;
    v.extend_from_slice(s);
    Ok(v)
}

/// Collects an exact-size iterator into a vector allocated fallibly.
pub fn try_collect<T>(it: impl ExactSizeIterator<Item = T>, what: &str) -> Result<Vec<T>> {
    let mut v = try_with_capacity(it.len(), what)?;
    v.extend(it);
    Ok(v)
}

/// `n * m` elements (a matrix, or reps x statistics) without overflow: the product, or
/// `Error::OutOfMemory` (an element count beyond the address space cannot be allocated).
pub fn elements(n: usize, m: usize, what: &str) -> Result<usize> {
    n.checked_mul(m)
        .ok_or_else(|| oom(what, n as u128 * m as u128 * 8))
}

/// Checks that `n * m` values of type `T` can be allocated now (reserving and releasing them):
/// used before handing the size to a library (faer, ndarray) that would abort on failure.
pub fn ensure<T>(n: usize, m: usize, what: &str) -> Result<()> {
    let len = elements(n, m, what)?;
    try_with_capacity::<T>(len, what).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Buffers large enough for the huge-page advice are still zeroed and writable.
    #[test]
    fn large_buffers_are_zeroed_and_writable() {
        let n = (HUGE_PAGE_BYTES / 8) * 3 + 5;
        let mut v = try_zeros::<f64>(n, "test").unwrap();
        assert!(v.iter().all(|&x| x == 0.0));
        v.iter_mut().enumerate().for_each(|(i, x)| *x = i as f64);
        assert_eq!(v[n - 1], (n - 1) as f64);
        let mut w: Vec<u64> = try_with_capacity(n, "test").unwrap();
        w.extend(0..n as u64);
        assert_eq!(w.len(), n);
    }

    #[test]
    fn absurd_sizes_are_errors_not_aborts() {
        let e = try_vec(usize::MAX / 2, 0.0f64, "draws").unwrap_err();
        assert!(matches!(e, Error::OutOfMemory { ref what, .. } if what == "draws"));
        assert!(e.to_string().contains("draws"), "{e}");
        assert!(elements(usize::MAX, 3, "W").is_err());
        assert!(ensure::<f64>(1 << 40, 1 << 20, "W").is_err());
        assert_eq!(try_vec(3, 1u8, "x").unwrap(), vec![1, 1, 1]);
        assert!(try_zeros::<f64>(usize::MAX / 4, "draws").is_err());
        assert_eq!(try_zeros::<f64>(3, "x").unwrap(), vec![0.0; 3]);
        assert!(try_zeros::<u32>(0, "x").unwrap().is_empty());
    }
}
