//! Synthetic CT series with known anatomy, for tests and benchmarks: an elliptic body
//! of soft tissue (40 HU) in air, two ellipsoidal lungs (-800 HU, which the default
//! model calls background) and a spine: a bony tube (700 HU) around a soft-tissue canal. Shapes are defined in
//! millimetres, so their volumes are known exactly; the series is written as real DICOM
//! files (explicit VR little endian, 16-bit signed, rescale intercept -1024) in a ZIP
//! whose member names are shuffled, so that file order says nothing about slice order.

use std::io::{Cursor, Write};

use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::InMemDicomObject;
use dicom_object::meta::FileMetaTableBuilder;
use zip::write::SimpleFileOptions;

const AIR: f32 = -1000.0;
const TISSUE: f32 = 40.0;
const LUNG: f32 = -800.0;
const BONE: f32 = 700.0;

#[derive(Clone, Copy, Debug)]
pub struct Phantom {
    pub columns: usize,
    pub rows: usize,
    pub slices: usize,
    /// Pixel spacing (mm, in-plane) and slice spacing (mm).
    pub pixel_mm: f64,
    pub slice_mm: f64,
}

/// Exact volumes (ml) of what each label of the default model should enclose.
#[derive(Clone, Copy, Debug)]
pub struct Expected {
    /// Body minus lungs minus spine.
    pub skin_ml: f64,
    pub bone_ml: f64,
}

impl Phantom {
    fn width_mm(&self) -> f64 {
        self.columns as f64 * self.pixel_mm
    }
    fn height_mm(&self) -> f64 {
        self.rows as f64 * self.pixel_mm
    }
    /// Body and spine span these slab boundaries along z (mm from the first slice's
    /// lower face), aligned to slice boundaries so their lengths are exact.
    fn span(&self, from: f64, to: f64) -> (f64, f64) {
        let cut = |f: f64| (self.slices as f64 * f).round() * self.slice_mm;
        (cut(from), cut(to))
    }
    fn body(&self) -> (f64, f64) {
        (0.45 * self.width_mm(), 0.38 * self.height_mm())
    }
    fn lung(&self) -> [f64; 3] {
        [
            0.11 * self.width_mm(),
            0.15 * self.height_mm(),
            0.30 * self.slices as f64 * self.slice_mm,
        ]
    }
    /// The spine: a bony tube around the spinal canal (soft tissue).
    fn spine_radii(&self) -> (f64, f64) {
        (0.11 * self.width_mm(), 0.05 * self.width_mm())
    }

    /// HU at a point (mm, relative to the volume's centre in-plane; z from the first
    /// slice's lower face).
    fn hu(&self, x: f64, y: f64, z: f64) -> f32 {
        let (a, b) = self.body();
        let (z0, z1) = self.span(0.1, 0.9);
        if !(z0..z1).contains(&z) || (x / a).powi(2) + (y / b).powi(2) > 1.0 {
            return AIR;
        }
        let (s0, s1) = self.span(0.2, 0.8);
        let spine = (x, y - 0.15 * self.height_mm());
        let (outer, canal) = self.spine_radii();
        let r2 = spine.0.powi(2) + spine.1.powi(2);
        if (s0..s1).contains(&z) && r2 <= outer.powi(2) {
            return if r2 <= canal.powi(2) { TISSUE } else { BONE };
        }
        let zc = self.slices as f64 * self.slice_mm / 2.0;
        let [la, lb, lc] = self.lung();
        for side in [-1.0, 1.0] {
            let (dx, dy, dz) = (
                x - side * 0.17 * self.width_mm(),
                y + 0.03 * self.height_mm(),
                z - zc,
            );
            if (dx / la).powi(2) + (dy / lb).powi(2) + (dz / lc).powi(2) <= 1.0 {
                return LUNG;
            }
        }
        TISSUE
    }

    pub fn expected(&self) -> Expected {
        let pi = std::f64::consts::PI;
        let (a, b) = self.body();
        let (z0, z1) = self.span(0.1, 0.9);
        let (s0, s1) = self.span(0.2, 0.8);
        let [la, lb, lc] = self.lung();
        let body = pi * a * b * (z1 - z0);
        let lungs = 2.0 * 4.0 / 3.0 * pi * la * lb * lc;
        let (outer, canal) = self.spine_radii();
        let bone = pi * (outer.powi(2) - canal.powi(2)) * (s1 - s0);
        Expected {
            skin_ml: (body - lungs - bone) / 1000.0,
            bone_ml: bone / 1000.0,
        }
    }

    /// Slice `k`'s HU, row-major.
    pub fn slice_hu(&self, k: usize) -> Vec<f32> {
        let z = (k as f64 + 0.5) * self.slice_mm;
        let (cx, cy) = (self.width_mm() / 2.0, self.height_mm() / 2.0);
        (0..self.rows * self.columns)
            .map(|p| {
                let x = ((p % self.columns) as f64 + 0.5) * self.pixel_mm - cx;
                let y = ((p / self.columns) as f64 + 0.5) * self.pixel_mm - cy;
                self.hu(x, y, z)
            })
            .collect()
    }

    /// Slice `k` as a DICOM file.
    pub fn slice_dicom(&self, k: usize, series_uid: &str) -> Result<Vec<u8>, String> {
        let sop = format!("{series_uid}.{}", k + 1);
        let mut o = InMemDicomObject::new_empty();
        let text = |o: &mut InMemDicomObject, tag, vr, value: &str| {
            o.put(DataElement::new(tag, vr, PrimitiveValue::from(value)));
        };
        text(&mut o, tags::SOP_CLASS_UID, VR::UI, uids::CT_IMAGE_STORAGE);
        text(&mut o, tags::SOP_INSTANCE_UID, VR::UI, &sop);
        text(
            &mut o,
            tags::STUDY_INSTANCE_UID,
            VR::UI,
            &format!("{series_uid}.0"),
        );
        text(&mut o, tags::SERIES_INSTANCE_UID, VR::UI, series_uid);
        text(&mut o, tags::MODALITY, VR::CS, "CT");
        text(&mut o, tags::INSTANCE_NUMBER, VR::IS, &(k + 1).to_string());
        let z = (k as f64 + 0.5) * self.slice_mm;
        let (x0, y0) = (
            -self.width_mm() / 2.0 + self.pixel_mm / 2.0,
            -self.height_mm() / 2.0 + self.pixel_mm / 2.0,
        );
        text(
            &mut o,
            tags::IMAGE_POSITION_PATIENT,
            VR::DS,
            &format!("{x0}\\{y0}\\{z}"),
        );
        text(
            &mut o,
            tags::IMAGE_ORIENTATION_PATIENT,
            VR::DS,
            "1\\0\\0\\0\\1\\0",
        );
        text(
            &mut o,
            tags::PIXEL_SPACING,
            VR::DS,
            &format!("{}\\{}", self.pixel_mm, self.pixel_mm),
        );
        text(
            &mut o,
            tags::SLICE_THICKNESS,
            VR::DS,
            &self.slice_mm.to_string(),
        );
        text(&mut o, tags::RESCALE_INTERCEPT, VR::DS, "-1024");
        text(&mut o, tags::RESCALE_SLOPE, VR::DS, "1");
        text(
            &mut o,
            tags::PHOTOMETRIC_INTERPRETATION,
            VR::CS,
            "MONOCHROME2",
        );
        for (tag, value) in [
            (tags::SAMPLES_PER_PIXEL, 1u16),
            (tags::ROWS, self.rows as u16),
            (tags::COLUMNS, self.columns as u16),
            (tags::BITS_ALLOCATED, 16),
            (tags::BITS_STORED, 16),
            (tags::HIGH_BIT, 15),
            (tags::PIXEL_REPRESENTATION, 1),
        ] {
            o.put(DataElement::new(tag, VR::US, PrimitiveValue::from(value)));
        }
        let pixels: Vec<u8> = self
            .slice_hu(k)
            .iter()
            .flat_map(|hu| ((hu + 1024.0).round() as i16).to_le_bytes())
            .collect();
        o.put(DataElement::new(
            tags::PIXEL_DATA,
            VR::OW,
            PrimitiveValue::from(pixels),
        ));
        let file = o
            .with_meta(
                FileMetaTableBuilder::new()
                    .transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN)
                    .media_storage_sop_class_uid(uids::CT_IMAGE_STORAGE)
                    .media_storage_sop_instance_uid(&sop),
            )
            .map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        file.write_all(&mut out).map_err(|e| e.to_string())?;
        Ok(out)
    }

    /// The whole series as a ZIP: members named by a shuffled order, plus a README that
    /// is not DICOM. `progress(k)` is called after each slice.
    pub fn zip(&self, progress: impl Fn(usize)) -> Result<Vec<u8>, String> {
        let series_uid = "2.25.314159265358979323846";
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = SimpleFileOptions::default();
        zip.start_file("README.txt", options)
            .map_err(|e| e.to_string())?;
        zip.write_all(b"synthetic CT phantom")
            .map_err(|e| e.to_string())?;
        let n = self.slices;
        // A fixed permutation for both the order in the archive and the names.
        let step = (n / 2 + 1..).find(|s| gcd(*s, n) == 1).unwrap_or(1);
        for (i, k) in (0..n).map(|i| (i, i * step % n)) {
            let name = format!("study/IM{:05}.dcm", (k * 7919 + 13) % (n * 7919));
            zip.start_file(name, options).map_err(|e| e.to_string())?;
            zip.write_all(&self.slice_dicom(k, series_uid)?)
                .map_err(|e| e.to_string())?;
            progress(i + 1);
        }
        Ok(zip.finish().map_err(|e| e.to_string())?.into_inner())
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}
