// cross_attention_params: the uniform and the layout of the cross-attention kernels (cross_attention_forward,
// cross_attention_backward, cross_attention_backward_dkv): queries from one sequence (Tq positions), keys and
// values from another (Tk positions), no mask (every query sees every key).
//
//   params  binding 0
//   q buffers    (B, Tq, C)      q, out, dout, dq; head h owns channels h*hs..(h+1)*hs
//   kv buffers   (B, Tk, 2C)     k then v per source position
//   maps         (B, NH, Tq, Tk) preatt, att, dropout: one row of Tk keys per query row

#include "include/prelude.wgsl"

struct Params {
    B: u32,
    Tq: u32,
    Tk: u32,
    C: u32,
    NH: u32,
    has_dropout: u32,
    scale: f32,        // 1 / sqrt(hs), computed on the CPU exactly as the CPU reference computes it
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;

// The index of head h's first channel at query position (b, t) of a q buffer.
fn q_at(b: u32, t: u32, h: u32) -> u32 {
    return (b * params.Tq + t) * params.C + h * (params.C / params.NH);
}

// The index of head h's first channel at source position (b, t) of a kv buffer, in its k (part 0) or v (1) half.
fn kv_at(b: u32, t: u32, h: u32, part: u32) -> u32 {
    return (b * params.Tk + t) * (2u * params.C) + part * params.C + h * (params.C / params.NH);
}

// Where query row (b, h, t) starts in a map.
fn map_row(b: u32, h: u32, t: u32) -> u32 {
    return ((b * params.NH + h) * params.Tq + t) * params.Tk;
}
