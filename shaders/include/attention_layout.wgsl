// attention_layout: where the attention kernels find a head's values and which keys a query row sees. The kernel
// declares `params` with T, C, NH (C = NH * hs) and causal (1: query tq sees keys 0..=tq; 0: it sees all T keys).
//
//   qkv buffers     (B, T, 3C)      q, k, v side by side per position; head h owns channels h*hs..(h+1)*hs of each
//   head buffers    (B, T, C)       out, dout: the heads' values concatenated
//   statistics      (B, NH, T)      lse, delta: one value per query row
//   maps            (B, NH, T, T)   preatt, att, dropout: one row of T keys per query row

// The index of head h's first channel at position (b, t) of a qkv buffer, in its q (part 0), k (1) or v (2) third.
fn qkv_at(b: u32, t: u32, h: u32, part: u32) -> u32 {
    return (b * params.T + t) * (3u * params.C) + part * params.C + h * (params.C / params.NH);
}

// The index of head h's first channel at position (b, t) of a head buffer.
fn head_at(b: u32, t: u32, h: u32) -> u32 {
    return (b * params.T + t) * params.C + h * (params.C / params.NH);
}

// The index of query row (b, h, t) in a statistic; times T, where that row starts in a map.
fn query_row(b: u32, h: u32, t: u32) -> u32 {
    return (b * params.NH + h) * params.T + t;
}

// The number of keys query row tq sees: they are keys 0 .. keys_visible(tq).
fn keys_visible(tq: u32) -> u32 {
    if (params.causal != 0u) {
        return tq + 1u;
    }
    return params.T;
}

// The number of keys a block of `rows` query rows from q_first needs: those its last row sees.
fn keys_needed(q_first: u32, rows: u32) -> u32 {
    return min(params.T, keys_visible(q_first + rows - 1u));
}

// The first query row that sees key tk.
fn first_query_seeing(tk: u32) -> u32 {
    return select(0u, tk, params.causal != 0u);
}
