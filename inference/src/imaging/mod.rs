//! The imaging pipeline: a ZIP of CT DICOM becomes one surface per label.
//!
//! archive (limits, unsafe entries) → dicom (planes, HU) → series (pick, sort, spacing)
//! → segmentation through the inference pool → mesh (marching cubes, smoothing,
//! measures) → STL files and a JSON summary. `pipeline` runs it with progress and
//! cancellation; `phantom` writes synthetic CT series with known volumes.

pub mod archive;
mod cube_table;
pub mod dicom;
pub mod mesh;
pub mod output;
pub mod phantom;
pub mod pipeline;
pub mod series;
