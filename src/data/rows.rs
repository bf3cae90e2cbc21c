//! Rows of equal width in one allocation: a daily table's values or log changes kept
//! at 8 bytes a cell, with no allocation per row (a million rows of 20 stocks: 160 MB,
//! where a vector per row costs another 40 MB and as many allocations).

/// `rows[row][column]`, every row `width` long.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rows {
    width: usize,
    cells: Vec<f64>,
}

impl Rows {
    /// No rows yet, each to be `width` long.
    pub fn new(width: usize) -> Rows {
        Rows { width, cells: Vec::new() }
    }

    /// Rows from vectors of one length (`width` when there are none).
    pub fn from_vecs(width: usize, rows: &[Vec<f64>]) -> Rows {
        let mut all = Rows::new(width);
        for row in rows {
            all.push(row);
        }
        all
    }

    pub fn width(&self) -> usize {
        self.width
    }

    pub fn len(&self) -> usize {
        self.cells.len().checked_div(self.width).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// Appends a row; it must be `width` long.
    pub fn push(&mut self, row: &[f64]) {
        assert_eq!(row.len(), self.width, "a row of another width");
        self.cells.extend_from_slice(row);
    }

    pub fn get(&self, row: usize) -> Option<&[f64]> {
        (row < self.len()).then(|| &self[row])
    }

    pub fn last(&self) -> Option<&[f64]> {
        self.len().checked_sub(1).map(|row| &self[row])
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[f64]> + DoubleEndedIterator {
        self.cells.chunks_exact(self.width.max(1))
    }

    pub fn iter_mut(&mut self) -> impl ExactSizeIterator<Item = &mut [f64]> + DoubleEndedIterator {
        self.cells.chunks_exact_mut(self.width.max(1))
    }

    /// Every cell, row after row.
    pub fn cells(&self) -> &[f64] {
        &self.cells
    }

    /// Keeps the rows `..end`.
    pub fn truncate(&mut self, end: usize) {
        self.cells.truncate(end * self.width);
    }

    /// Keeps the rows `..at` and returns the rows `at..` (as `Vec::split_off`).
    pub fn split_off(&mut self, at: usize) -> Rows {
        Rows { width: self.width, cells: self.cells.split_off(at * self.width) }
    }

    /// Drops the rows `..count`, moving the rest down in place.
    pub fn drop_first(&mut self, count: usize) {
        self.cells.drain(..count * self.width);
    }
}

impl std::ops::Index<usize> for Rows {
    type Output = [f64];

    fn index(&self, row: usize) -> &[f64] {
        &self.cells[row * self.width..][..self.width]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_split_and_index_as_vectors_would() {
        let vecs: Vec<Vec<f64>> = (0..5).map(|r| vec![r as f64, 10.0 + r as f64, 20.0 + r as f64]).collect();
        let mut rows = Rows::from_vecs(3, &vecs);
        assert_eq!(rows.len(), 5);
        assert_eq!(&rows[2], &vecs[2][..]);
        assert_eq!(rows.last(), Some(&vecs[4][..]));
        assert_eq!(rows.get(5), None);
        rows.truncate(4);
        let tail = rows.split_off(1);
        assert_eq!(rows.iter().collect::<Vec<_>>(), vec![&vecs[0][..]]);
        assert_eq!(tail.iter().collect::<Vec<_>>(), vecs[1..4].iter().map(|v| &v[..]).collect::<Vec<_>>());
        let mut tail = tail;
        tail.drop_first(2);
        assert_eq!(&tail[0], &vecs[3][..]);
        assert_eq!(tail.len(), 1);
    }
}
