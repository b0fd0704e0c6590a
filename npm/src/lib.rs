//! The npm package's WebAssembly module: `canopy-web`'s JavaScript API (its `js-api` exports),
//! linked with a lean runtime in the production build, or with std and
//! `console_error_panic_hook` in the development build (`--features dev`).
//!
//! A separate crate because a panic handler and a global allocator belong to the final
//! artifact, not to a library that Rust apps link into their own std binaries.
#![no_std]

#[cfg(target_arch = "wasm32")]
pub use canopy_web;

#[cfg(all(target_arch = "wasm32", not(feature = "dev")))]
mod runtime;
