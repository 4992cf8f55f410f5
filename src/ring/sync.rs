//! The atomics the ring protocols use, swapped for loom's under `cfg(loom)` so the
//! index and commit protocols can be model-checked (crossbeam's `primitive` shim).

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU32, AtomicU64, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
