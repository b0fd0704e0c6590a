//! What `std`'s prelude would give every module; the crate is `no_std` so that the npm build
//! links neither std's panic machinery nor `core::fmt`.
#![allow(unused_imports)]

pub use alloc::borrow::ToOwned;
pub use alloc::boxed::Box;
pub use alloc::string::{String, ToString};
pub use alloc::vec::Vec;
pub use alloc::{format, vec};
