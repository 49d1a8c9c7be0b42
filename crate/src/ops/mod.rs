//! One module per layer and pass, llm.c style: outputs first, then inputs, then sizes.
//!
//! Each module holds the op's CPU reference (`<op>_cpu`, the readable spec), the dispatch of its WGSL kernel
//! (`<op>_gpu`, source in `shaders/<op>.wgsl`) and the tests that check one against the other.
//! Size letters follow llm.c: B batch, T time, C channels, OC output channels, NH heads, hs head size, V vocab.

pub mod matmul_forward;
