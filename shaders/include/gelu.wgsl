// gelu: the constants of GELU's tanh approximation, gelu(x) = 0.5 x (1 + tanh(GELU_SCALE (x + GELU_CUBE x^3))),
// and a tanh that every driver rounds the same way; shared by gelu_forward and gelu_backward so both differentiate
// the same function.

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
