//! The matching core: price-time books, orders, and the loop that owns them.

pub mod bench;
