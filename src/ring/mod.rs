//! Rings: how every order and every tick moves between threads and processes.
//!
//! - [`spsc`]: one producer, one consumer; the order path (gateway or algo → core) and
//!   the response path (core → gateway or algo).
//! - [`broadcast`]: one writer, many readers that never slow the writer; market data.
//! - [`shm`]: the memory both live in, private or a file in `/dev/shm` mapped by several
//!   processes, with the `#[repr(C)]` header that a second process validates.

pub mod broadcast;
pub mod shm;
pub mod spsc;
mod sync;

/// Size of one cache line on x86_64, the unit every ring slot is a multiple of.
pub const CACHE_LINE_BYTES: usize = 64;
