//! The process's memory allocator: mimalloc, for Rust and for tree-sitter's C code.

use libmimalloc_sys::{mi_free, mi_malloc, mi_option_t, mi_realloc, mi_zalloc};
use std::ffi::c_void;

// The analysis allocates many small, short-lived nodes, maps and strings per keystroke and per
// file: mimalloc serves those faster than glibc's malloc (see README, Performance). Built
// `no_thp`: its arenas asking for transparent huge pages cost ~25 MiB of RSS with 200 open
// documents, for no speed measured here.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// tree-sitter's C allocations (parse stacks, subtrees, query cursors) go to mimalloc too.
// Like tree-sitter's own defaults, these abort rather than return null.
fn non_null(pointer: *mut c_void, size: usize) -> *mut c_void {
    if pointer.is_null() && size > 0 {
        eprintln!("keras-lsp: out of memory allocating {size} bytes for the parser");
        std::process::abort();
    }
    pointer
}

unsafe extern "C" fn malloc(size: usize) -> *mut c_void {
    non_null(unsafe { mi_malloc(size) }, size)
}

unsafe extern "C" fn calloc(count: usize, size: usize) -> *mut c_void {
    let total = count.saturating_mul(size);
    non_null(unsafe { mi_zalloc(total) }, total)
}

unsafe extern "C" fn realloc(pointer: *mut c_void, size: usize) -> *mut c_void {
    non_null(unsafe { mi_realloc(pointer, size) }, size)
}

unsafe extern "C" fn free(pointer: *mut c_void) {
    unsafe { mi_free(pointer) }
}

/// `mi_option_purge_delay` in mimalloc.h (the crate names no constant for it).
const MI_OPTION_PURGE_DELAY: mi_option_t = 15;

/// Has mimalloc return freed memory to the system at once instead of after a second: with the
/// delay, what one analysis freed stayed resident while the server idled (~5 MiB more RSS
/// with 200 open documents).
pub fn purge_at_once() {
    // SAFETY: sets one integer option; mimalloc reads it on each purge.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
}

/// Has tree-sitter allocate with the functions above. Called first in `main`, before any tree-sitter call and before
/// any other thread exists, as `set_allocator` requires.
pub fn install_for_parser() {
    // SAFETY: one allocator family, never null for a non-zero size (abort instead), malloc's
    // alignment (mimalloc's guarantee), installed before any tree-sitter object exists and
    // while only this thread runs.
    unsafe {
        tree_sitter::set_allocator(Some(tree_sitter::Allocator {
            malloc,
            calloc,
            realloc,
            free,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purge_delay_option_is_the_one_set() {
        // mimalloc's default purge delay is 1,000 ms: the index names that option.
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(
                unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) },
                1000
            );
        }
        purge_at_once();
        assert_eq!(
            unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) },
            0
        );
    }
}
