//! The core loop (placeholder, built next).
