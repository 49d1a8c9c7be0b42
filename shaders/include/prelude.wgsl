// prelude: the names every kernel shares (each kernel includes it, directly or through another piece).
//
//   elem    the element type of the tensors: storage buffers, workgroup tiles and register blocks are written
//           array<elem>, vec4<elem>. f32 today; an f16 build of a kernel will set it (with `enable f16;`), and
//           then the arithmetic that mixes tensor values with f32 uniforms needs its conversions.
//   LOWEST  below every finite f32 score: the start of a max. Written in hex: browsers (Tint) reject a decimal
//           literal that rounds past the lowest finite f32.

alias elem = f32;

const LOWEST: f32 = -0x1.fffffep+127f;
