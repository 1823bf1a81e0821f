//! The marching-cubes case table, derived rather than transcribed: for each of the 256
//! inside/outside patterns of a cube's corners, walk each face, join the edges where the
//! face crosses the surface into segments, chain the segments into loops and fan each
//! loop into triangles.
//!
//! Each face is walked counter-clockwise seen from outside the cube; a segment runs
//! from an edge entering the inside to the next edge leaving it. On a face with two
//! diagonal inside corners this keeps the corners apart, and the neighbouring cube,
//! walking the same face the other way, pairs the same edges: neighbouring cubes always
//! agree, so the surface is closed. Loops come out ordered so triangles face away from
//! the inside (outward normals).

use std::sync::OnceLock;

/// Corner offsets (x, y, z); `mesh` reads them from two planes directly.
#[cfg(test)]
const CORNERS: [[usize; 3]; 8] = [
    [0, 0, 0],
    [1, 0, 0],
    [1, 1, 0],
    [0, 1, 0],
    [0, 0, 1],
    [1, 0, 1],
    [1, 1, 1],
    [0, 1, 1],
];

/// The corners each edge joins.
pub const EDGES: [[usize; 2]; 12] = [
    [0, 1],
    [1, 2],
    [2, 3],
    [3, 0],
    [4, 5],
    [5, 6],
    [6, 7],
    [7, 4],
    [0, 4],
    [1, 5],
    [2, 6],
    [3, 7],
];

/// Each face's corners, counter-clockwise seen from outside the cube.
const FACES: [[usize; 4]; 6] = [
    [0, 3, 2, 1],
    [4, 5, 6, 7],
    [0, 1, 5, 4],
    [3, 7, 6, 2],
    [0, 4, 7, 3],
    [1, 2, 6, 5],
];

/// Triangles (as edge numbers) for one corner pattern; bit `i` set = corner `i` inside.
pub type Case = Vec<[u8; 3]>;

pub fn table() -> &'static [Case; 256] {
    static TABLE: OnceLock<[Case; 256]> = OnceLock::new();
    TABLE.get_or_init(|| std::array::from_fn(|pattern| triangulate(pattern as u8)))
}

fn edge_between(a: usize, b: usize) -> usize {
    EDGES
        .iter()
        .position(|&[p, q]| (p, q) == (a, b) || (p, q) == (b, a))
        .expect("face corners are joined by an edge")
}

fn share_face(e: u8, f: u8) -> bool {
    let (a, b) = (EDGES[e as usize], EDGES[f as usize]);
    FACES
        .iter()
        .any(|face| [a[0], a[1], b[0], b[1]].iter().all(|c| face.contains(c)))
}

fn triangulate(pattern: u8) -> Case {
    let inside = |corner: usize| pattern & (1 << corner) != 0;
    // next[e]: the segment starting at edge e ends at next[e].
    let mut next = [None::<usize>; 12];
    for face in FACES {
        let step = |i: usize| (face[i], face[(i + 1) % 4]);
        for i in 0..4 {
            let (a, b) = step(i);
            if inside(a) || !inside(b) {
                continue; // not entering the inside here
            }
            let end = (1..4)
                .map(|k| step((i + k) % 4))
                .find(|&(c, d)| inside(c) && !inside(d))
                .expect("a face entered is left again");
            next[edge_between(a, b)] = Some(edge_between(end.0, end.1));
        }
    }
    let mut triangles = Vec::new();
    let mut seen = [false; 12];
    for start in 0..12 {
        if seen[start] || next[start].is_none() {
            continue;
        }
        let mut ring = Vec::new();
        let mut edge = start;
        while !seen[edge] {
            seen[edge] = true;
            ring.push(edge as u8);
            edge = next[edge].expect("every crossing edge continues the loop");
        }
        // Fan from a vertex whose diagonals all cross the cube's interior: a diagonal
        // lying in a face could meet the neighbouring cube's and join four triangles.
        let origin = (0..ring.len())
            .find(|&o| {
                (2..ring.len().saturating_sub(1))
                    .all(|k| !share_face(ring[o], ring[(o + k) % ring.len()]))
            })
            .expect("every loop has a fan origin with interior diagonals");
        for k in 1..ring.len() - 1 {
            let at = |k: usize| ring[(origin + k) % ring.len()];
            triangles.push([at(0), at(k), at(k + 1)]);
        }
    }
    triangles
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_full_cubes_have_no_surface() {
        assert!(table()[0].is_empty());
        assert!(table()[255].is_empty());
    }

    #[test]
    fn one_inside_corner_is_cut_off_by_one_triangle_facing_away_from_it() {
        // Corner 0 inside: the triangle joins edges 0, 3 and 8 with its normal along +x+y+z.
        let case = &table()[1];
        assert_eq!(case.len(), 1);
        let mid = |e: u8| {
            let [a, b] = EDGES[e as usize];
            let (p, q) = (CORNERS[a], CORNERS[b]);
            [0, 1, 2].map(|i| (p[i] + q[i]) as f64 / 2.0)
        };
        let [a, b, c] = case[0].map(mid);
        let (u, v) = (
            [0, 1, 2].map(|i| b[i] - a[i]),
            [0, 1, 2].map(|i| c[i] - a[i]),
        );
        let n = [
            u[1] * v[2] - u[2] * v[1],
            u[2] * v[0] - u[0] * v[2],
            u[0] * v[1] - u[1] * v[0],
        ];
        assert!(n.iter().all(|&x| x > 0.0), "{n:?}");
    }

    #[test]
    fn every_case_uses_each_crossing_edge_and_only_those() {
        for pattern in 0..=255u8 {
            let crossing: Vec<u8> = (0..12u8)
                .filter(|&e| {
                    let [a, b] = EDGES[e as usize];
                    (pattern >> a & 1) != (pattern >> b & 1)
                })
                .collect();
            let mut used: Vec<u8> = table()[pattern as usize]
                .iter()
                .flatten()
                .copied()
                .collect();
            used.sort();
            used.dedup();
            assert_eq!(used, crossing, "pattern {pattern:08b}");
        }
    }
}
