//! Surfaces from label masks: marching cubes at level 0.5 on the mask padded by one
//! voxel (so every surface closes), vertices shared between neighbouring cubes, then the
//! measures a doctor reads (area, enclosed volume, bounding box), optional Taubin
//! smoothing (which, unlike plain Laplacian smoothing, does not shrink), and the move
//! from voxel indices to patient millimetres.

use super::cube_table;

/// A triangle mesh with shared vertices; triangles wind counter-clockwise seen from
/// outside (normals point out of the labelled region).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Mesh {
    pub vertices: Vec<[f32; 3]>,
    pub triangles: Vec<[u32; 3]>,
}

/// Grid dimensions (x = columns, y = rows, z = slices).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dims {
    pub x: usize,
    pub y: usize,
    pub z: usize,
}

impl Dims {
    pub fn voxels(&self) -> usize {
        self.x * self.y * self.z
    }
}

const NONE: u32 = u32::MAX;

/// Vertex ids of the edges in one plane (x- and y-edges) or one slab (z-edges).
struct EdgeCache {
    dims: Dims,
    x_lo: Vec<u32>,
    y_lo: Vec<u32>,
    x_hi: Vec<u32>,
    y_hi: Vec<u32>,
    z: Vec<u32>,
}

impl EdgeCache {
    fn new(dims: Dims) -> Self {
        let (px, py) = (dims.x + 2, dims.y + 2);
        Self {
            dims,
            x_lo: vec![NONE; px * py],
            y_lo: vec![NONE; px * py],
            x_hi: vec![NONE; px * py],
            y_hi: vec![NONE; px * py],
            z: vec![NONE; px * py],
        }
    }

    fn next_slab(&mut self) {
        std::mem::swap(&mut self.x_lo, &mut self.x_hi);
        std::mem::swap(&mut self.y_lo, &mut self.y_hi);
        self.x_hi.fill(NONE);
        self.y_hi.fill(NONE);
        self.z.fill(NONE);
    }

    /// The slot for edge `e` of the cube whose lowest corner is (i, j), and that edge's
    /// midpoint relative to the corner.
    fn slot(&mut self, e: u8, i: usize, j: usize) -> (&mut u32, [f32; 3]) {
        let w = self.dims.x + 2;
        let at = |di: usize, dj: usize| (j + dj) * w + i + di;
        match e {
            0 => (&mut self.x_lo[at(0, 0)], [0.5, 0.0, 0.0]),
            1 => (&mut self.y_lo[at(1, 0)], [1.0, 0.5, 0.0]),
            2 => (&mut self.x_lo[at(0, 1)], [0.5, 1.0, 0.0]),
            3 => (&mut self.y_lo[at(0, 0)], [0.0, 0.5, 0.0]),
            4 => (&mut self.x_hi[at(0, 0)], [0.5, 0.0, 1.0]),
            5 => (&mut self.y_hi[at(1, 0)], [1.0, 0.5, 1.0]),
            6 => (&mut self.x_hi[at(0, 1)], [0.5, 1.0, 1.0]),
            7 => (&mut self.y_hi[at(0, 0)], [0.0, 0.5, 1.0]),
            8 => (&mut self.z[at(0, 0)], [0.0, 0.0, 0.5]),
            9 => (&mut self.z[at(1, 0)], [1.0, 0.0, 0.5]),
            10 => (&mut self.z[at(1, 1)], [1.0, 1.0, 0.5]),
            _ => (&mut self.z[at(0, 1)], [0.0, 1.0, 0.5]),
        }
    }
}

/// Fills `plane` (padded by one voxel) with the mask of `label` at slice `k` of the
/// padded grid (0 and z + 1 are the empty padding slices).
fn fill_plane(plane: &mut [bool], labels: &[u8], dims: Dims, label: u8, k: usize) {
    plane.fill(false);
    if k == 0 || k > dims.z {
        return;
    }
    let w = dims.x + 2;
    let slice = &labels[(k - 1) * dims.x * dims.y..k * dims.x * dims.y];
    for (y, row) in slice.chunks_exact(dims.x).enumerate() {
        let out = &mut plane[(y + 1) * w + 1..(y + 1) * w + 1 + dims.x];
        for (o, &l) in out.iter_mut().zip(row) {
            *o = l == label;
        }
    }
}

/// The surface of every voxel labelled `label` in `labels` (x fastest, then y, then z),
/// in voxel coordinates: voxel (x, y, z) is centred on the point (x, y, z).
pub fn marching_cubes(labels: &[u8], dims: Dims, label: u8) -> Mesh {
    assert_eq!(
        labels.len(),
        dims.voxels(),
        "labels do not match their dimensions"
    );
    let table = cube_table::table();
    let (px, py) = (dims.x + 2, dims.y + 2);
    let mut lo = vec![false; px * py];
    let mut hi = vec![false; px * py];
    let mut cache = EdgeCache::new(dims);
    let mut mesh = Mesh::default();
    fill_plane(&mut hi, labels, dims, label, 0);
    for k in 0..dims.z + 1 {
        std::mem::swap(&mut lo, &mut hi);
        fill_plane(&mut hi, labels, dims, label, k + 1);
        if k > 0 {
            cache.next_slab();
        }
        for j in 0..py - 1 {
            // The cube's x = 0 face is the previous cube's x = 1 face: carry it along.
            let face = |i: usize| {
                let at = |plane: &[bool], dy: usize| plane[(j + dy) * px + i] as u8;
                // Bits as corners 0, 3, 4, 7 (x = 0) would have them.
                at(&lo, 0) | at(&lo, 1) << 3 | at(&hi, 0) << 4 | at(&hi, 1) << 7
            };
            let mut left = face(0);
            for i in 0..px - 1 {
                let right = face(i + 1);
                // Corners 1, 2, 5, 6 are corners 0, 3, 4, 7 moved one step in x.
                let pattern = left | (right & 0b0001_0001) << 1 | (right & 0b1000_1000) >> 1;
                left = right;
                if pattern == 0 || pattern == 255 {
                    continue;
                }
                for triangle in &table[pattern as usize] {
                    let ids = triangle.map(|e| {
                        let (slot, [ox, oy, oz]) = cache.slot(e, i, j);
                        if *slot == NONE {
                            *slot = mesh.vertices.len() as u32;
                            // Padded coordinates minus the padding voxel.
                            mesh.vertices.push([
                                i as f32 + ox - 1.0,
                                j as f32 + oy - 1.0,
                                k as f32 + oz - 1.0,
                            ]);
                        }
                        *slot
                    });
                    mesh.triangles.push(ids);
                }
            }
        }
    }
    mesh
}

/// Where the voxel grid sits in the patient: voxel (x, y, z) is at
/// `origin + x·dx·row + y·dy·column + z·dz·slice` millimetres.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Geometry {
    pub origin: [f64; 3],
    pub row: [f64; 3],
    pub column: [f64; 3],
    pub slice: [f64; 3],
    pub spacing: [f64; 3],
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn point(v: [f32; 3]) -> [f64; 3] {
    v.map(f64::from)
}

impl Mesh {
    /// Moves the mesh into patient millimetres. A left-handed grid would turn the
    /// triangles inside out, so their winding is flipped to keep normals outward.
    pub fn into_patient(mut self, g: &Geometry) -> Mesh {
        for v in &mut self.vertices {
            let [x, y, z] = point(*v);
            let (sx, sy, sz) = (x * g.spacing[0], y * g.spacing[1], z * g.spacing[2]);
            *v = [0, 1, 2]
                .map(|a| (g.origin[a] + sx * g.row[a] + sy * g.column[a] + sz * g.slice[a]) as f32);
        }
        if dot(cross(g.row, g.column), g.slice) < 0.0 {
            for t in &mut self.triangles {
                t.swap(1, 2);
            }
        }
        self
    }

    fn corners(&self, t: &[u32; 3]) -> [[f64; 3]; 3] {
        t.map(|i| point(self.vertices[i as usize]))
    }

    /// Surface area (square units of the vertices).
    pub fn area(&self) -> f64 {
        self.triangles
            .iter()
            .map(|t| {
                let [a, b, c] = self.corners(t);
                let n = cross(sub(b, a), sub(c, a));
                dot(n, n).sqrt() / 2.0
            })
            .sum()
    }

    /// Enclosed volume by the divergence theorem; positive when normals point out.
    pub fn signed_volume(&self) -> f64 {
        self.triangles
            .iter()
            .map(|t| {
                let [a, b, c] = self.corners(t);
                dot(a, cross(b, c)) / 6.0
            })
            .sum()
    }

    pub fn bounding_box(&self) -> Option<([f32; 3], [f32; 3])> {
        let first = *self.vertices.first()?;
        Some(self.vertices.iter().fold((first, first), |(lo, hi), v| {
            (
                [0, 1, 2].map(|a| lo[a].min(v[a])),
                [0, 1, 2].map(|a| hi[a].max(v[a])),
            )
        }))
    }

    /// Every edge is shared by exactly two triangles, once in each direction: the
    /// surface is closed and consistently oriented. Linear time: each vertex's outgoing
    /// edges are gathered (a handful each), then every edge must have exactly one
    /// reverse and no twin.
    pub fn is_watertight(&self) -> bool {
        let n = self.vertices.len();
        let mut start = vec![0u32; n + 1];
        for t in &self.triangles {
            for &v in t {
                start[v as usize + 1] += 1;
            }
        }
        for i in 0..n {
            start[i + 1] += start[i];
        }
        let mut fill = start.clone();
        let mut to = vec![0u32; start[n] as usize];
        for &[a, b, c] in &self.triangles {
            for (p, q) in [(a, b), (b, c), (c, a)] {
                to[fill[p as usize] as usize] = q;
                fill[p as usize] += 1;
            }
        }
        let out = |v: u32| &to[start[v as usize] as usize..start[v as usize + 1] as usize];
        (0..n as u32).all(|a| {
            let edges = out(a);
            edges.iter().enumerate().all(|(i, &b)| {
                !edges[i + 1..].contains(&b) && out(b).iter().filter(|&&x| x == a).count() == 1
            })
        })
    }

    /// Taubin's λ|μ smoothing: a shrinking Laplacian step then an inflating one, so
    /// the shape smooths without losing volume.
    pub fn smooth_taubin(&mut self, iterations: usize) {
        const LAMBDA: f32 = 0.5;
        const MU: f32 = -0.53;
        if iterations == 0 || self.vertices.is_empty() {
            return;
        }
        let neighbours = self.neighbours();
        let mut moved = self.vertices.clone();
        for _ in 0..iterations {
            for factor in [LAMBDA, MU] {
                for (v, out) in moved.iter_mut().enumerate() {
                    let around = &neighbours[v];
                    if around.is_empty() {
                        continue;
                    }
                    let here = self.vertices[v];
                    let mut mean = [0.0f32; 3];
                    for &n in around {
                        let p = self.vertices[n as usize];
                        for a in 0..3 {
                            mean[a] += p[a];
                        }
                    }
                    let k = around.len() as f32;
                    *out = [0, 1, 2].map(|a| here[a] + factor * (mean[a] / k - here[a]));
                }
                std::mem::swap(&mut self.vertices, &mut moved);
            }
        }
    }

    /// Keeps about `ratio` of the triangles with meshoptimizer's simplifier, which
    /// collapses edges without changing the topology (a closed surface stays closed),
    /// then drops the vertices no triangle uses any more.
    pub fn decimate(&mut self, ratio: f32) {
        if !(ratio > 0.0 && ratio < 1.0) || self.triangles.is_empty() {
            return;
        }
        let Ok(positions) =
            meshopt::VertexDataAdapter::new(meshopt::typed_to_bytes(&self.vertices), 12, 0)
        else {
            return;
        };
        let indices: Vec<u32> = self.triangles.iter().flatten().copied().collect();
        let target = ((indices.len() as f32 * ratio) as usize / 3 * 3).max(3);
        // Error bound relative to the mesh's extent; generous, the ratio is the target.
        let kept = meshopt::simplify(
            &indices,
            &positions,
            target,
            0.05,
            meshopt::SimplifyOptions::None,
            None,
        );
        let mut remap = vec![u32::MAX; self.vertices.len()];
        let mut vertices = Vec::new();
        let triangles = kept
            .chunks_exact(3)
            .map(|t| {
                [t[0], t[1], t[2]].map(|v| {
                    let slot = &mut remap[v as usize];
                    if *slot == u32::MAX {
                        *slot = vertices.len() as u32;
                        vertices.push(self.vertices[v as usize]);
                    }
                    *slot
                })
            })
            .collect();
        self.vertices = vertices;
        self.triangles = triangles;
    }

    fn neighbours(&self) -> Vec<Vec<u32>> {
        let mut around = vec![Vec::with_capacity(6); self.vertices.len()];
        for &[a, b, c] in &self.triangles {
            for (p, q) in [(a, b), (b, c), (c, a)] {
                around[p as usize].push(q);
                around[q as usize].push(p);
            }
        }
        for list in &mut around {
            list.sort_unstable();
            list.dedup();
        }
        around
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ball(n: usize, radius: f64) -> (Vec<u8>, Dims) {
        let dims = Dims { x: n, y: n, z: n };
        let c = (n as f64 - 1.0) / 2.0;
        let labels = (0..dims.voxels())
            .map(|i| {
                let (x, y, z) = (i % n, i / n % n, i / (n * n));
                let d = [x, y, z].map(|v| v as f64 - c);
                u8::from(dot(d, d).sqrt() <= radius)
            })
            .collect();
        (labels, dims)
    }

    #[test]
    fn a_single_voxel_becomes_a_closed_octahedron_of_the_right_volume() {
        let dims = Dims { x: 1, y: 1, z: 1 };
        let mesh = marching_cubes(&[1], dims, 1);
        assert_eq!(mesh.triangles.len(), 8);
        assert!(mesh.is_watertight());
        // Half-way points around a unit voxel: an octahedron of "radius" 0.5.
        assert!(
            (mesh.signed_volume() - 1.0 / 6.0).abs() < 1e-9,
            "{}",
            mesh.signed_volume()
        );
    }

    #[test]
    fn a_ball_is_watertight_outward_and_close_to_its_voxel_volume() {
        let (labels, dims) = ball(40, 15.0);
        let voxels = labels.iter().filter(|&&l| l == 1).count() as f64;
        let mesh = marching_cubes(&labels, dims, 1);
        assert!(mesh.is_watertight());
        let volume = mesh.signed_volume();
        assert!(volume > 0.0, "normals point inwards");
        assert!(
            (volume - voxels).abs() / voxels < 0.03,
            "{volume} vs {voxels} voxels"
        );
        let exact = 4.0 / 3.0 * std::f64::consts::PI * 15.0f64.powi(3);
        assert!((volume - exact).abs() / exact < 0.03, "{volume} vs {exact}");
    }

    #[test]
    fn random_masks_always_give_closed_consistently_oriented_surfaces() {
        // Noise makes every ambiguous face configuration appear.
        let dims = Dims { x: 12, y: 10, z: 9 };
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20 {
            let labels: Vec<u8> = (0..dims.voxels())
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state % 3) as u8
                })
                .collect();
            for label in 0..3 {
                let mesh = marching_cubes(&labels, dims, label);
                assert!(mesh.is_watertight(), "label {label}");
                assert!(mesh.signed_volume() > 0.0);
            }
        }
    }

    #[test]
    fn holes_twins_and_flipped_triangles_are_not_watertight() {
        let (labels, dims) = ball(10, 3.0);
        let closed = marching_cubes(&labels, dims, 1);
        assert!(closed.is_watertight());
        let mut hole = closed.clone();
        hole.triangles.pop();
        assert!(!hole.is_watertight());
        let mut twin = closed.clone();
        twin.triangles.push(closed.triangles[0]);
        assert!(!twin.is_watertight());
        let mut flipped = closed.clone();
        flipped.triangles[0].swap(1, 2);
        assert!(!flipped.is_watertight());
    }

    #[test]
    fn patient_geometry_scales_and_keeps_normals_out_even_when_left_handed() {
        let (labels, dims) = ball(12, 4.0);
        let voxel_volume = marching_cubes(&labels, dims, 1).signed_volume();
        let mirrored = Geometry {
            origin: [10.0, -5.0, 100.0],
            row: [1.0, 0.0, 0.0],
            column: [0.0, 1.0, 0.0],
            slice: [0.0, 0.0, -1.0],
            spacing: [0.5, 0.5, 2.0],
        };
        let mesh = marching_cubes(&labels, dims, 1).into_patient(&mirrored);
        assert!((mesh.signed_volume() - voxel_volume * 0.5).abs() < 1e-3);
        let (lo, hi) = mesh.bounding_box().unwrap();
        assert!(hi[2] <= 100.0 && lo[2] < 90.0, "{lo:?} {hi:?}");
    }

    #[test]
    fn decimation_keeps_a_closed_surface_and_its_volume_with_far_fewer_triangles() {
        let (labels, dims) = ball(40, 15.0);
        let mut mesh = marching_cubes(&labels, dims, 1);
        let (before, triangles) = (mesh.signed_volume(), mesh.triangles.len());
        mesh.decimate(0.25);
        assert!(
            mesh.triangles.len() <= triangles / 3,
            "{} of {triangles}",
            mesh.triangles.len()
        );
        assert!(mesh.is_watertight());
        assert!((mesh.signed_volume() - before).abs() / before < 0.02);
        assert!(
            mesh.triangles
                .iter()
                .flatten()
                .all(|&v| (v as usize) < mesh.vertices.len())
        );
    }

    #[test]
    fn taubin_smoothing_keeps_the_volume_and_the_topology() {
        let (labels, dims) = ball(30, 10.0);
        let mut mesh = marching_cubes(&labels, dims, 1);
        let before = mesh.signed_volume();
        mesh.smooth_taubin(10);
        assert!(mesh.is_watertight());
        assert!((mesh.signed_volume() - before).abs() / before < 0.02);
    }
}
