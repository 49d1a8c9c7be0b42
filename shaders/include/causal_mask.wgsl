// causal_mask: which keys a query row sees, shared by the attention kernels. The kernel declares `params` with
// T and causal (1: query tq sees keys 0..=tq; 0: it sees all T keys).

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
