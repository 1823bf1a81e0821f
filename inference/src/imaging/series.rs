//! From loose planes to one volume's geometry: group by SeriesInstanceUID, take the CT
//! series with the most planes, check they agree (size, orientation, pixel spacing),
//! sort along the slice normal by ImagePositionPatient (file order means nothing), and
//! derive the slice spacing from the positions. Gaps and uneven spacing are rejected:
//! a model built from them would have the wrong shape.

use std::collections::BTreeMap;

use serde::Serialize;

use super::dicom::Plane;
use super::mesh::{Dims, Geometry};

/// Tolerance for "the same" direction cosines and pixel spacings.
const SAME: f64 = 1e-3;
/// A slice step this much larger or smaller than the median is a gap or an unevenness.
const STEP_TOLERANCE: f64 = 0.05;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SeriesError {
    #[error("no CT images among {0} image planes")]
    NoCt(usize),
    #[error("series {uid} has {count} slice(s); a 3D model needs at least 2")]
    TooFewSlices { uid: String, count: usize },
    #[error("series {0} lacks position, orientation or pixel spacing")]
    MissingGeometry(String),
    #[error("series {0} mixes image sizes")]
    MixedSizes(String),
    #[error("series {0} mixes orientations")]
    MixedOrientations(String),
    #[error("series {0} mixes pixel spacings")]
    MixedSpacing(String),
    #[error("series {uid}: two slices share position {at:.2} mm along the normal")]
    Duplicate { uid: String, at: f64 },
    #[error(
        "series {uid}: slices are not evenly spaced (step {step:.2} mm at {at:.2} mm, expected {expected:.2} mm): a gap or uneven spacing"
    )]
    Uneven {
        uid: String,
        at: f64,
        step: f64,
        expected: f64,
    },
}

/// Another series that was in the archive.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct OtherSeries {
    pub uid: String,
    pub modality: String,
    pub planes: usize,
}

/// The chosen series: its planes in slice order (with whatever key the caller attached,
/// e.g. the archive member they came from), its grid and where the grid sits.
#[derive(Clone, Debug)]
pub struct Chosen<K> {
    pub uid: String,
    pub planes: Vec<(K, Plane)>,
    pub dims: Dims,
    pub geometry: Geometry,
    pub others: Vec<OtherSeries>,
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn close(a: &[f64], b: &[f64]) -> bool {
    a.iter()
        .zip(b)
        .all(|(x, y)| (x - y).abs() <= SAME * x.abs().max(1.0))
}

pub fn choose<K>(planes: Vec<(K, Plane)>) -> Result<Chosen<K>, SeriesError> {
    let total = planes.len();
    let mut groups: BTreeMap<String, Vec<(K, Plane)>> = BTreeMap::new();
    for (key, plane) in planes {
        groups
            .entry(plane.series_uid.clone())
            .or_default()
            .push((key, plane));
    }
    let uid = groups
        .iter()
        .filter(|(_, g)| g[0].1.modality.eq_ignore_ascii_case("CT"))
        .max_by_key(|(_, g)| g.len())
        .map(|(uid, _)| uid.clone())
        .ok_or(SeriesError::NoCt(total))?;
    let mut planes = groups.remove(&uid).expect("chosen from the groups");
    let others = groups
        .into_iter()
        .map(|(uid, g)| OtherSeries {
            uid,
            modality: g[0].1.modality.clone(),
            planes: g.len(),
        })
        .collect();
    if planes.len() < 2 {
        return Err(SeriesError::TooFewSlices {
            uid,
            count: planes.len(),
        });
    }
    let first = &planes[0].1;
    let (Some(orientation), Some(spacing)) = (first.orientation, first.pixel_spacing) else {
        return Err(SeriesError::MissingGeometry(uid));
    };
    for (_, p) in &planes {
        if (p.rows, p.columns) != (first.rows, first.columns) {
            return Err(SeriesError::MixedSizes(uid));
        }
        match (p.orientation, p.pixel_spacing, p.position) {
            (Some(o), Some(s), Some(_)) => {
                if !close(&o, &orientation) {
                    return Err(SeriesError::MixedOrientations(uid));
                }
                if !close(&s, &spacing) {
                    return Err(SeriesError::MixedSpacing(uid));
                }
            }
            _ => return Err(SeriesError::MissingGeometry(uid)),
        }
    }
    let row = [orientation[0], orientation[1], orientation[2]];
    let column = [orientation[3], orientation[4], orientation[5]];
    let normal = [
        row[1] * column[2] - row[2] * column[1],
        row[2] * column[0] - row[0] * column[2],
        row[0] * column[1] - row[1] * column[0],
    ];
    let length = dot(normal, normal).sqrt();
    if length < 0.5 {
        return Err(SeriesError::MissingGeometry(uid));
    }
    let normal = normal.map(|v| v / length);
    let along = |p: &Plane| dot(p.position.expect("checked above"), normal);
    planes.sort_by(|a, b| along(&a.1).total_cmp(&along(&b.1)));
    let positions: Vec<f64> = planes.iter().map(|(_, p)| along(p)).collect();
    let steps: Vec<f64> = positions.windows(2).map(|w| w[1] - w[0]).collect();
    if let Some(i) = steps.iter().position(|&s| s.abs() < 1e-6) {
        return Err(SeriesError::Duplicate {
            uid,
            at: positions[i],
        });
    }
    let mut sorted = steps.clone();
    sorted.sort_by(f64::total_cmp);
    let expected = sorted[sorted.len() / 2];
    if let Some(i) = steps
        .iter()
        .position(|&s| (s - expected).abs() > STEP_TOLERANCE * expected)
    {
        return Err(SeriesError::Uneven {
            uid,
            at: positions[i],
            step: steps[i],
            expected,
        });
    }
    let step = (positions[positions.len() - 1] - positions[0]) / steps.len() as f64;
    let first = &planes[0].1;
    let geometry = Geometry {
        origin: first.position.expect("checked above"),
        row,
        column,
        slice: normal,
        // PixelSpacing is (between rows, between columns); x runs along a row.
        spacing: [spacing[1], spacing[0], step],
    };
    let dims = Dims {
        x: first.columns,
        y: first.rows,
        z: planes.len(),
    };
    Ok(Chosen {
        uid,
        planes,
        dims,
        geometry,
        others,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imaging::dicom::ModalityLut;

    fn plane(series: &str, z: f64) -> Plane {
        Plane {
            frame: 0,
            series_uid: series.into(),
            modality: "CT".into(),
            rows: 4,
            columns: 5,
            position: Some([0.0, 0.0, z]),
            orientation: Some([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]),
            pixel_spacing: Some([0.5, 0.7]),
            lut: ModalityLut::Linear {
                slope: 1.0,
                intercept: -1024.0,
            },
        }
    }

    #[test]
    fn planes_are_sorted_by_position_not_by_arrival() {
        let planes = [7.5, 0.0, 5.0, 2.5, 10.0].map(|z| (z, plane("a", z)));
        let chosen = choose(planes.into_iter().collect()).unwrap();
        let order: Vec<f64> = chosen.planes.iter().map(|(z, _)| *z).collect();
        assert_eq!(order, [0.0, 2.5, 5.0, 7.5, 10.0]);
        assert_eq!(chosen.geometry.spacing, [0.7, 0.5, 2.5]);
        assert_eq!(chosen.dims, Dims { x: 5, y: 4, z: 5 });
    }

    #[test]
    fn the_largest_ct_series_wins_and_the_others_are_listed() {
        let mut planes: Vec<((), Plane)> = (0..3).map(|i| ((), plane("big", i as f64))).collect();
        planes.push(((), plane("small", 0.0)));
        let mut mr = plane("mr", 0.0);
        mr.modality = "MR".into();
        planes.extend((0..9).map(|_| ((), mr.clone())));
        let chosen = choose(planes).unwrap();
        assert_eq!(chosen.uid, "big");
        assert_eq!(chosen.others.len(), 2);
    }

    #[test]
    fn gaps_duplicates_and_mixed_orientations_are_rejected() {
        let gap = [0.0, 2.5, 5.0, 205.0].map(|z| ((), plane("a", z)));
        assert!(matches!(
            choose(gap.into()),
            Err(SeriesError::Uneven { .. })
        ));
        let twice = [0.0, 2.5, 2.5].map(|z| ((), plane("a", z)));
        assert!(matches!(
            choose(twice.into()),
            Err(SeriesError::Duplicate { .. })
        ));
        let mut tilted = plane("a", 2.5);
        tilted.orientation = Some([1.0, 0.0, 0.0, 0.0, 0.8, 0.6]);
        assert!(matches!(
            choose(vec![((), plane("a", 0.0)), ((), tilted)]),
            Err(SeriesError::MixedOrientations(_))
        ));
        assert!(matches!(
            choose(vec![((), plane("a", 0.0))]),
            Err(SeriesError::TooFewSlices { .. })
        ));
    }
}
