// gelu_backward: dinp = gelu'(inp) * dout for GELU's tanh approximation (dinp is assigned), the same
// expression as gelu_backward_cpu:
//   th = tanh(s (x + k x^3)),  gelu'(x) = 0.5 (1 + th) + 0.5 x (1 - th^2) s (1 + 3 k x^2).
//
//   dinp (N)  written
//   inp  (N)  the forward's input
//   dout (N)
//
// One invocation owns one element; a workgroup owns WG consecutive elements (2-D folded grid).

struct Params {
    N: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> dinp: array<f32>; // (N)
@group(0) @binding(2) var<storage, read> inp: array<f32>;        // (N)
@group(0) @binding(3) var<storage, read> dout: array<f32>;       // (N)

override WG: u32 = 64u;

const GELU_SCALE: f32 = 0.7978845608028654; // sqrt(2/pi)
const GELU_CUBE: f32 = 0.044715;

// tanh without its traps. Some drivers compute tanh as (e^2u - 1) / (e^2u + 1) and return NaN once e^2u
// overflows (|u| > ~44), so the argument is clamped. And for |u| >= 9, tanh(u) is within half an f32 ulp of
// +-1 (1 - tanh(9) = 3e-8), so a correctly rounded tanh (the CPU's) gives exactly +-1 there: return that,
// rather than a driver's tanh that is 1 ulp short; in gelu_backward, 1 - th*th would turn that ulp into a
// visible error (0.5 x sech^2 s (1 + 3k x^2) is ~2e-4 at x = 30). select() evaluates both sides, hence
// the clamp inside.
fn safe_tanh(u: f32) -> f32 {
    return select(tanh(clamp(u, -9.0, 9.0)), sign(u), abs(u) >= 9.0);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.y * nwg.x + wid.x) * WG + lid;
    if (i >= params.N) {
        return;
    }
    let x = inp[i];
    let th = safe_tanh(GELU_SCALE * (x + GELU_CUBE * x * x * x));
    let sech2 = 1.0 - th * th;
    let local = 0.5 * (1.0 + th) + 0.5 * x * sech2 * GELU_SCALE * (1.0 + 3.0 * GELU_CUBE * x * x);
    dinp[i] = local * dout[i];
}
