//! The fields every row of a batch agrees on, taken out of the rows to be bound once.
//! A burst of charges shares its reason, kind, phase and credit account, often its
//! amount. SQLite unpacks each field of each row with a function call (`->>`, about a
//! third of the ledger writer thread's instructions under callgrind), but evaluates a
//! deterministic function of parameters only once per statement: a shared field read
//! from a parameter costs nothing per row. Rows left with one field are that field
//! itself (`jsonb_each` gives it as its value), not an array to unpack.

use std::ops::Range;

use super::jsonb::{ARRAY, header};

/// Rows as JSONB, the fields they all agree on taken out.
pub(super) struct Split {
    /// The rows, each holding the fields that are not shared, in order.
    pub rows: Vec<u8>,
    /// The shared fields' values of the first row, as one array, when any are shared.
    pub shared: Option<Vec<u8>>,
    /// Bit `i` is set when field `i` is shared.
    pub mask: u64,
    /// Each row is its one field that is not shared, not an array of it.
    pub bare: bool,
}

/// Takes the fields every row agrees on out of `doc`, an array of rows of scalar
/// fields as `jsonb::to_vec` writes it. Fewer than two rows stay as they are.
pub(super) fn split(doc: Vec<u8>) -> Split {
    let whole = |rows| Split {
        rows,
        shared: None,
        mask: 0,
        bare: false,
    };
    let Some((width, cells)) = table(&doc) else {
        return whole(doc);
    };
    let cell = |row: usize, field: usize| &doc[cells[row * width + field].clone()];
    let rows = cells.len() / width;
    let mask = (0..width)
        .filter(|&f| (1..rows).all(|r| cell(r, f) == cell(0, f)))
        .fold(0u64, |mask, f| mask | 1 << f);
    let bare = width - mask.count_ones() as usize == 1;
    if mask == 0 && !bare {
        return whole(doc);
    }
    let is_shared = |f: usize| mask & 1 << f != 0;
    let shared = (0..width).filter(|&f| is_shared(f)).map(|f| cell(0, f));
    let kept = |r: usize| {
        (0..width)
            .filter(move |&f| !is_shared(f))
            .map(move |f| cell(r, f))
    };
    // Sized first, so that the rows are written once, each straight after its header
    // (a bare row has none).
    let kept_size = |r: usize| kept(r).map(<[u8]>::len).sum::<usize>();
    let row_size = |r: usize| {
        let size = kept_size(r);
        size + if bare { 0 } else { header(ARRAY, size).1 }
    };
    let rows_size: usize = (0..rows).map(row_size).sum();
    let mut out = Vec::with_capacity(9 + rows_size);
    push_header(&mut out, rows_size);
    for r in 0..rows {
        if !bare {
            push_header(&mut out, kept_size(r));
        }
        kept(r).for_each(|c| out.extend_from_slice(c));
    }
    let shared = (mask != 0).then(|| {
        let mut one = Vec::new();
        push_header(&mut one, shared.clone().map(<[u8]>::len).sum());
        shared.for_each(|c| one.extend_from_slice(c));
        one
    });
    Split {
        rows: out,
        shared,
        mask,
        bare,
    }
}

fn push_header(out: &mut Vec<u8>, size: usize) {
    let (head, len) = header(ARRAY, size);
    out.extend_from_slice(&head[..len]);
}

/// The rows' width and every field's byte range (whole element), row by row, when
/// `doc` is an array of at least two rows of one width, at most 64 scalar fields each.
fn table(doc: &[u8]) -> Option<(usize, Vec<Range<usize>>)> {
    let (kind, payload) = element(doc, 0)?;
    if kind != ARRAY || payload.end != doc.len() {
        return None;
    }
    let mut cells = Vec::new();
    let mut width = None;
    let mut at = payload.start;
    while at < payload.end {
        let (kind, row) = element(doc, at)?;
        if kind != ARRAY {
            return None;
        }
        let before = cells.len();
        let mut field = row.start;
        while field < row.end {
            let (kind, value) = element(doc, field)?;
            if kind == ARRAY || value.end > row.end {
                return None;
            }
            cells.push(field..value.end);
            field = value.end;
        }
        let n = cells.len() - before;
        if *width.get_or_insert(n) != n || n > 64 {
            return None;
        }
        at = row.end;
    }
    let width = width.filter(|&w| w > 0 && cells.len() / w >= 2)?;
    Some((width, cells))
}

/// The element starting at `at`: its type and its payload's byte range.
fn element(doc: &[u8], at: usize) -> Option<(u8, Range<usize>)> {
    let first = *doc.get(at)?;
    let (size, extra) = match first >> 4 {
        n @ 0..=11 => (usize::from(n), 0),
        code => {
            let extra = 1 << (code - 12);
            let bytes = doc.get(at + 1..at + 1 + extra)?;
            let size = bytes.iter().fold(0u64, |s, &b| s << 8 | u64::from(b));
            (usize::try_from(size).ok()?, extra)
        }
    };
    let start = at + 1 + extra;
    let end = start.checked_add(size).filter(|&end| end <= doc.len())?;
    Some((first & 0x0f, start..end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::jsonb::to_vec;

    #[test]
    fn fields_every_row_agrees_on_are_taken_out_once() {
        let long = "x".repeat(300);
        let rows = vec![
            ("a", 1i64, "same", None::<&str>, long.as_str()),
            ("b", 1, "same", None, long.as_str()),
            ("c", 2, "same", None, long.as_str()),
        ];
        let split = split(to_vec(&rows, 0).unwrap());
        assert_eq!((split.mask, split.bare), (0b11100, false));
        let kept: Vec<(&str, i64)> = rows.iter().map(|r| (r.0, r.1)).collect();
        assert_eq!(split.rows, to_vec(&kept, 0).unwrap());
        let shared = ("same", None::<&str>, long.as_str());
        assert_eq!(split.shared, Some(to_vec(&shared, 0).unwrap()));
    }

    #[test]
    fn a_single_row_or_rows_that_agree_on_nothing_stay_whole() {
        for doc in [
            to_vec(&[("a", 1i64)], 0).unwrap(),
            to_vec(&[("a", 1i64), ("b", 2)], 0).unwrap(),
        ] {
            let s = split(doc.clone());
            assert_eq!((s.rows, s.shared, s.mask, s.bare), (doc, None, 0, false));
        }
    }

    #[test]
    fn rows_left_with_one_field_are_that_field() {
        let bare = to_vec(&["a", "b"], 0).unwrap();
        // One field to begin with, or one left once the shared ones are out.
        let one = split(to_vec(&[("a",), ("b",)], 0).unwrap());
        assert_eq!(
            (&one.rows, one.shared, one.mask, one.bare),
            (&bare, None, 0, true)
        );
        let left = split(to_vec(&[(7i64, "a"), (7, "b")], 0).unwrap());
        assert_eq!((&left.rows, left.mask, left.bare), (&bare, 0b1, true));
        assert_eq!(left.shared, Some(to_vec(&(7i64,), 0).unwrap()));
    }

    #[test]
    fn every_field_shared_leaves_empty_rows() {
        let rows = [("a", 1i64), ("a", 1)];
        let split = split(to_vec(&rows, 0).unwrap());
        assert_eq!((split.mask, split.bare), (0b11, false));
        let empty: [(); 0] = [];
        assert_eq!(split.rows, to_vec(&[empty, empty], 0).unwrap());
    }
}
