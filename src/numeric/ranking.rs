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

/// The members of a "largest k" selection with a buffer (top-k weighting's rule, and an
/// index's): going down the rank order `order` (best first), a stock that was a member
/// stays while its rank is below k + buffer; the places left go to the best-ranked
/// others; never more than k, the best-ranked first. `members` holds the previous
/// members on entry (true), the new ones on return.
pub fn choose_members(k: usize, buffer: usize, order: &[u32], members: &mut [bool]) {
    let mut count = 0;
    for (rank, &stock) in order.iter().enumerate() {
        let stays = members[stock as usize] && count < k && rank < k + buffer;
        members[stock as usize] = stays;
        count += stays as usize;
    }
    for &stock in order {
        if count == k {
            break;
        }
        if !members[stock as usize] {
            members[stock as usize] = true;
            count += 1;
        }
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

#[cfg(test)]
mod tests {
    use super::choose_members;

    /// Members of `order` (best first) given the previous members.
    fn members(k: usize, buffer: usize, order: &[u32], before: &[u32]) -> Vec<u32> {
        let mut members: Vec<bool> = (0..order.len() as u32).map(|stock| before.contains(&stock)).collect();
        choose_members(k, buffer, order, &mut members);
        order.iter().copied().filter(|&stock| members[stock as usize]).collect()
    }

    #[test]
    fn members_stay_within_the_buffer_and_the_best_others_fill_the_places() {
        let order = [4, 2, 0, 1, 3, 5];
        // No buffer: the best k, whoever was in.
        assert_eq!(members(3, 0, &order, &[0, 3, 5]), [4, 2, 0]);
        // A buffer of 1 (ranks 0 to 3 stay): 0 (rank 2) and 1 (rank 3) stay, 3 (rank 4)
        // leaves and 4 fills its place; a buffer of 2 keeps 3 too.
        assert_eq!(members(3, 1, &order, &[0, 1, 3]), [4, 0, 1]);
        assert_eq!(members(3, 2, &order, &[0, 1, 3]), [0, 1, 3]);
        // A buffer past the end keeps every member.
        assert_eq!(members(3, 10, &order, &[3, 5, 1]), [1, 3, 5]);
        // More members than places (a smaller k than before): the best-ranked stay.
        assert_eq!(members(2, 4, &order, &[0, 1, 3, 5]), [0, 1]);
        // Nobody before: the best k.
        assert_eq!(members(2, 1, &order, &[]), [4, 2]);
        assert_eq!(members(0, 1, &order, &[4]), Vec::<u32>::new());
    }
}
