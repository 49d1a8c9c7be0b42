//! One error type for the crate. Every message is a sentence a person can act on: it says what was
//! wrong and, where possible, what to change. The wasm bindings turn these into JavaScript `Error`s.

/// Everything that can go wrong in the core.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No WebGPU / Vulkan / Metal / DX12 adapter could be found or opened.
    #[error("no GPU adapter is available: {0}")]
    NoAdapter(String),
    /// The GPU refused a request (device creation, buffer mapping, a lost device).
    #[error("GPU error: {0}")]
    Gpu(String),
    /// Arguments whose shapes or values do not fit together.
    #[error("{0}")]
    InvalidInput(String),
    /// A file (tokenizer.json, safetensors, config) that cannot be read as what it claims to be.
    #[error("{0}")]
    Format(String),
    /// Training produced a NaN or infinite loss or gradient; the weights of the last good step are kept.
    #[error("{0}")]
    Diverged(String),
    /// A long task (tokenizer or model training) that was cancelled by its caller.
    #[error("cancelled")]
    Cancelled,
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `Err(Error::InvalidInput(..))` with a formatted message, returned from the current function.
#[macro_export]
macro_rules! invalid_input {
    ($($arg:tt)*) => {
        return Err($crate::Error::InvalidInput(format!($($arg)*)))
    };
}
