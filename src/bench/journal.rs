//! `tickgate bench journal`.
