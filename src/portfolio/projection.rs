//! The Euclidean projection onto P = {sum z = 0, lo <= z <= hi}, the set of active
//! weights of a max_growth strategy without its budget: both solvers use it.

/// `d` shifted (and clipped) to sum exactly to zero within its bounds: the Euclidean
/// projection onto P of a point that already nearly lies in it.
pub fn restore_sum(d: &mut [f64], lo: &[f64], hi: &[f64]) {
    let x = d.to_vec();
    project_onto_box_and_sum(&x, lo, hi, 0.0, d);
}

/// z_i = clip(x_i - theta, lo_i, hi_i) with sum z = 0 (needs sum lo <= 0 <= sum hi);
/// returns theta. The sum is piecewise linear and falling in theta: Newton steps
/// from `guess` (exact once the right piece is found), kept inside a bracket that
/// bisection narrows whenever a step would leave it.
pub fn project_onto_box_and_sum(x: &[f64], lo: &[f64], hi: &[f64], guess: f64, z: &mut [f64]) -> f64 {
    let mut low = x.iter().zip(hi).map(|(xi, h)| xi - h).fold(f64::MAX, f64::min);
    let mut high = x.iter().zip(lo).map(|(xi, l)| xi - l).fold(f64::MIN, f64::max);
    let mut theta = guess.clamp(low, high);
    for _ in 0..200 {
        let (mut total, mut free) = (0.0, 0usize);
        for ((xi, l), h) in x.iter().zip(lo).zip(hi) {
            let value = xi - theta;
            if value <= *l {
                total += l;
            } else if value >= *h {
                total += h;
            } else {
                total += value;
                free += 1;
            }
        }
        if total == 0.0 || high - low <= f64::EPSILON * (1.0 + low.abs().max(high.abs())) {
            break;
        }
        if total > 0.0 {
            low = theta;
        } else {
            high = theta;
        }
        let step = if free > 0 { theta + total / free as f64 } else { f64::NAN };
        theta = if step > low && step < high { step } else { 0.5 * (low + high) };
    }
    for (((zi, xi), l), h) in z.iter_mut().zip(x).zip(lo).zip(hi) {
        *zi = (xi - theta).clamp(*l, *h);
    }
    theta
}
