//! Per-thread globals that work with and without `std`.
//!
//! With `std` (native builds, tests, the development build) [`local!`] is `thread_local!`.
//! In the lean wasm build there is one thread and no `std`: it is a plain `static` whose
//! [`Local::with`] has the same shape as `LocalKey::with`, so call sites read the same.

/// A `static` that is `thread_local!` when `std` is there, and single-threaded otherwise.
macro_rules! local {
    ($(#[$m:meta])* $vis:vis static $name:ident: $t:ty = $init:expr;) => {
        #[cfg(any(not(target_arch = "wasm32"), feature = "std"))]
        std::thread_local! { $(#[$m])* $vis static $name: $t = const { $init }; }
        #[cfg(all(target_arch = "wasm32", not(feature = "std")))]
        $(#[$m])* $vis static $name: $crate::local::Local<$t> = $crate::local::Local::new($init);
    };
}

/// A global for a single-threaded program (wasm32 without threads).
#[cfg(all(target_arch = "wasm32", not(feature = "std")))]
pub struct Local<T>(T);

// SAFETY: wasm32-unknown-unknown without the atomics feature has exactly one thread.
#[cfg(all(target_arch = "wasm32", not(feature = "std")))]
unsafe impl<T> Sync for Local<T> {}

#[cfg(all(target_arch = "wasm32", not(feature = "std")))]
impl<T> Local<T> {
    /// Wraps `value`.
    pub const fn new(value: T) -> Self {
        Local(value)
    }

    /// Runs `f` with the value, as `LocalKey::with` does.
    #[inline]
    pub fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        f(&self.0)
    }

    /// Runs `f` with the value, as `LocalKey::try_with` does (a `static` is never destroyed, so
    /// this never fails).
    #[inline]
    #[allow(dead_code)] // used by some features only
    pub fn try_with<R>(&'static self, f: impl FnOnce(&T) -> R) -> Result<R, core::convert::Infallible> {
        Ok(f(&self.0))
    }
}
