// prelude: the names every kernel shares (each kernel includes it, directly or through another piece).
//
//   elem    the element type of the tensors: storage buffers, workgroup tiles and register blocks are written
//           array<elem>, vec4<elem>. f32 here; a kernel with the line `#variants f16` is also built as
//           `<name>_f16` with `enable f16;` and this alias set to f16 (crate/build.rs). Such a kernel does its
//           sums and statistics in explicit f32, converting at loads and stores (`f32(x)`, `elem(y)`: no-ops
//           in the f32 build), so f16 is storage only and accumulation stays f32.
//   LOWEST  below every finite f32 score: the start of a max. Written in hex: browsers (Tint) reject a decimal
//           literal that rounds past the lowest finite f32.

alias elem = f32;

const LOWEST: f32 = -0x1.fffffep+127f;
