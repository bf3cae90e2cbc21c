// Ranking by cap, shared by the rank-based market stage (market_rank.wgsl) and top-k
// weights (top_k.wgsl); composed when either is. CPU twin: `sort_keyed` in
// src/numeric/ranking.rs.

// Whether stock a ranks before stock b: larger cap first, ties by index.
fn ranks_before(a: u32, b: u32) -> bool {
    let cap_a = log_cap(a);
    let cap_b = log_cap(b);
    return cap_a > cap_b || (cap_a == cap_b && a < b);
}

// Repairs the order list `list` (stocks, best rank first; `order_entry` in
// path_arrays_*.wgsl) by insertion sort, O(N + shifts), and returns false if a loop
// was cut short. The shift loop has no fixed bound, so the result itself is checked:
// a cut would leave the order unsorted.
fn repair_order(list: u32) -> bool {
    var k = 1u;
    for (; k < N; k++) {
        let stock = order_entry(list, k);
        var j = k;
        loop {
            if (j == 0u || !ranks_before(stock, order_entry(list, j - 1u))) {
                break;
            }
            set_order_entry(list, j, order_entry(list, j - 1u));
            j -= 1u;
        }
        set_order_entry(list, j, stock);
    }
    var sorted = true;
    var v = 1u;
    for (; v < N; v++) {
        if (ranks_before(order_entry(list, v), order_entry(list, v - 1u))) {
            sorted = false;
        }
    }
    return sorted && k == N && v == N;
}
