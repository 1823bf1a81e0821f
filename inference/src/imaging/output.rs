//! What a run leaves in its output folder: one binary STL per label and `summary.json`.
//! Only those names are written, inside that folder.

use serde::Serialize;

use super::mesh::Mesh;
use super::series::OtherSeries;

#[derive(Clone, Debug, Serialize)]
pub struct LabelSummary {
    pub name: String,
    pub file: String,
    pub colour: String,
    pub opacity: f32,
    pub triangles: usize,
    pub area_mm2: f64,
    pub volume_ml: f64,
    pub bbox_min_mm: [f32; 3],
    pub bbox_max_mm: [f32; 3],
    pub watertight: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct SeriesSummary {
    pub uid: String,
    pub slices: usize,
    pub dims: [usize; 3],
    pub voxel_mm: [f64; 3],
    pub others: Vec<OtherSeries>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Rejected {
    pub file: String,
    pub reason: String,
}

#[derive(Clone, Debug, Serialize, Default)]
pub struct Timings {
    pub parse_s: f64,
    pub volume_s: f64,
    pub segment_s: f64,
    pub mesh_s: f64,
    pub write_s: f64,
    pub total_s: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub series: SeriesSummary,
    pub dicom_files: usize,
    pub skipped_non_dicom: Vec<String>,
    pub rejected: Vec<Rejected>,
    pub labels: Vec<LabelSummary>,
    pub timings: Timings,
}

/// Display defaults for the labels we know.
pub fn appearance(label: &str) -> (&'static str, f32) {
    match label {
        "skin" => ("#e8b796", 0.35),
        "bone" => ("#f2ecd9", 1.0),
        _ => ("#9aa5b1", 0.8),
    }
}

/// `label` as a file name: letters, digits, `-` and `_` only.
pub fn file_name(label: &str) -> String {
    let safe: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{safe}.stl")
}

/// The mesh as a binary STL: 80-byte header, triangle count, then per triangle its unit
/// normal, three vertices and a zero attribute word (little endian). Written directly:
/// for meshes of millions of triangles this is several times faster than going through
/// `stl_io`'s per-triangle writer (the tests read the bytes back with `stl_io`).
pub fn stl_bytes(mesh: &Mesh) -> Vec<u8> {
    let mut out = Vec::with_capacity(84 + 50 * mesh.triangles.len());
    let mut header = [0u8; 80];
    header[..22].copy_from_slice(b"medrt binary STL (mm) ");
    out.extend_from_slice(&header);
    out.extend_from_slice(&(mesh.triangles.len() as u32).to_le_bytes());
    for &[a, b, c] in &mesh.triangles {
        let [p, q, r] = [a, b, c].map(|i| mesh.vertices[i as usize]);
        let (u, w) = (
            [0, 1, 2].map(|k| q[k] - p[k]),
            [0, 1, 2].map(|k| r[k] - p[k]),
        );
        let n = [
            u[1] * w[2] - u[2] * w[1],
            u[2] * w[0] - u[0] * w[2],
            u[0] * w[1] - u[1] * w[0],
        ];
        let len = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2])
            .sqrt()
            .max(f32::MIN_POSITIVE);
        for value in n.map(|x| x / len).iter().chain(&p).chain(&q).chain(&r) {
            out.extend_from_slice(&value.to_le_bytes());
        }
        out.extend_from_slice(&[0, 0]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imaging::mesh::{Dims, marching_cubes};

    #[test]
    fn stl_bytes_read_back_as_the_same_triangles_with_unit_outward_normals() {
        let labels = [1u8; 8];
        let mesh = marching_cubes(&labels, Dims { x: 2, y: 2, z: 2 }, 1);
        let bytes = stl_bytes(&mesh);
        let read = stl_io::read_stl(&mut std::io::Cursor::new(bytes)).unwrap();
        assert_eq!(read.faces.len(), mesh.triangles.len());
        for (face, triangle) in read.faces.iter().zip(&mesh.triangles) {
            let corners = face.vertices.map(|v| read.vertices[v].0);
            assert_eq!(corners, triangle.map(|v| mesh.vertices[v as usize]));
            let n = face.normal.0;
            assert!(((n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt() - 1.0).abs() < 1e-5);
            // Outward: the normal points away from the cube's centre (0.5, 0.5, 0.5).
            let c = [0, 1, 2].map(|a| corners.iter().map(|p| p[a]).sum::<f32>() / 3.0 - 0.5);
            assert!(n[0] * c[0] + n[1] * c[1] + n[2] * c[2] > 0.0);
        }
    }
}
