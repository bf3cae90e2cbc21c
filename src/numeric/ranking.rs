//! Rank order: larger cap first, ties by stock index (the tie rule of docs/models.md and of
//! `shaders/market_rank.wgsl`), and the insertion sorts that repair an order that
//! changed little since it was last sorted.

/// Whether stock `a` (log cap `cap_a`) ranks before stock `b`: larger cap first, ties by index.
#[inline(always)]
pub fn ranks_before<R: PartialOrd>(cap_a: R, a: u32, cap_b: R, b: u32) -> bool {
    cap_a > cap_b || (cap_a == cap_b && a < b)
}

/// Repairs `order` (stocks, best rank first) by insertion sort on `cap`; O(n + swaps).
pub fn sort_by_rank<R: PartialOrd + Copy>(order: &mut [u32], cap: impl Fn(usize) -> R) {
    let mut keyed: Vec<(R, u32)> = order.iter().map(|&stock| (cap(stock as usize), stock)).collect();
    sort_keyed(&mut keyed);
    for (slot, (_, stock)) in order.iter_mut().zip(keyed) {
        *slot = stock;
    }
}

/// Insertion sort of (cap, stock) pairs into rank order; O(n + swaps). The pairs sit
/// side by side, so the inner loop reads no cap through the order.
#[inline(always)]
pub fn sort_keyed<R: PartialOrd + Copy>(keyed: &mut [(R, u32)]) {
    for k in 1..keyed.len() {
        let item = keyed[k];
        let mut j = k;
        while j > 0 && ranks_before(item.0, item.1, keyed[j - 1].0, keyed[j - 1].1) {
            keyed[j] = keyed[j - 1];
            j -= 1;
        }
        keyed[j] = item;
    }
}
