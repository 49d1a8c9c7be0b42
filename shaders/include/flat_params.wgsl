// flat_params: the uniform of an elementwise kernel over N elements that needs nothing else (16 bytes, padded),
// and its element_count() for include/elementwise.wgsl.
//
//   params  binding 0: N, the number of elements

struct Params {
    N: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;

fn element_count() -> u32 {
    return params.N;
}
