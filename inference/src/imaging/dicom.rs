//! One DICOM file (single- or multi-frame) into image planes with their geometry and
//! Hounsfield units. HU are computed here, not by the decoder: stored value (masked to
//! Bits Stored, sign-extended) × slope + intercept, or the Modality LUT Sequence; slope
//! and intercept come per frame from the functional groups of Enhanced CT, and are read
//! as text even when a file encodes them with VR UN (where a naive read gives the
//! bytes' values: slope 49, intercept 48).

use std::io::Cursor;

use dicom_core::{Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::file::ReadPreamble;
use dicom_object::mem::InMemElement;
use dicom_object::{DefaultDicomObject, InMemDicomObject, OpenFileOptions};
use dicom_pixeldata::{DecodedPixelData, PixelDecoder, PixelRepresentation};

/// Explicit VR Big Endian (retired, still found in archives).
const BIG_ENDIAN: &str = "1.2.840.10008.1.2.2";
/// HU given to padding pixels (PixelPaddingValue): air.
pub const PADDING_HU: f32 = -1024.0;
/// Rescale values outside these bounds are a misread file, not a CT.
const SLOPE_RANGE: (f64, f64) = (1e-6, 1_000.0);
const INTERCEPT_LIMIT: f64 = 100_000.0;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DicomError {
    #[error("not a DICOM file")]
    NotDicom,
    #[error("unreadable DICOM: {0}")]
    Unreadable(String),
    #[error("no pixel data")]
    NoPixelData,
    #[error("colour image ({0} samples per pixel); CT is greyscale")]
    Colour(u16),
    #[error("pixel data cannot be decoded: {0}")]
    Decode(String),
    #[error("implausible rescale (slope {slope}, intercept {intercept})")]
    Rescale { slope: f64, intercept: f64 },
    #[error("inconsistent image: {0}")]
    Shape(String),
}

/// Stored value → HU.
#[derive(Clone, Debug, PartialEq)]
pub enum ModalityLut {
    Linear { slope: f64, intercept: f64 },
    Table { first: i64, values: Vec<f32> },
}

/// One image plane's description (its pixels are decoded separately).
#[derive(Clone, Debug, PartialEq)]
pub struct Plane {
    pub frame: u32,
    pub series_uid: String,
    pub modality: String,
    pub rows: usize,
    pub columns: usize,
    pub position: Option<[f64; 3]>,
    pub orientation: Option<[f64; 6]>,
    /// Row spacing, column spacing (mm).
    pub pixel_spacing: Option<[f64; 2]>,
    pub lut: ModalityLut,
}

/// A parsed file with its pixel data decoded.
pub struct Image {
    object: DefaultDicomObject,
    pub planes: Vec<Plane>,
}

/// Whether `bytes` start like a DICOM file (128-byte preamble, then "DICM").
pub fn looks_like_dicom(bytes: &[u8]) -> bool {
    bytes.get(128..132) == Some(b"DICM")
}

fn floats(e: &InMemElement) -> Option<Vec<f64>> {
    if e.vr() == VR::UN {
        let raw = e.to_bytes().ok()?;
        let text = std::str::from_utf8(&raw).ok()?;
        text.trim_matches(|c: char| c == '\0' || c.is_whitespace())
            .split('\\')
            .map(|t| t.trim().parse().ok())
            .collect()
    } else {
        e.to_multi_float64().ok()
    }
}

fn text(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    let e = obj.get(tag)?;
    let s = if e.vr() == VR::UN {
        String::from_utf8(e.to_bytes().ok()?.into_owned()).ok()?
    } else {
        e.to_str().ok()?.into_owned()
    };
    Some(
        s.trim_matches(|c: char| c == '\0' || c.is_whitespace())
            .to_owned(),
    )
}

fn values(obj: &InMemDicomObject, tag: Tag) -> Option<Vec<f64>> {
    obj.get(tag).and_then(floats)
}

fn items(obj: &InMemDicomObject, tag: Tag) -> &[InMemDicomObject] {
    obj.get(tag).and_then(|e| e.items()).unwrap_or(&[])
}

/// `tag` inside `sequence` of a functional group (per-frame first, then shared), else
/// at the top level.
fn grouped(obj: &InMemDicomObject, frame: usize, sequence: Tag, tag: Tag) -> Option<Vec<f64>> {
    let per_frame = items(obj, tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE).get(frame);
    let shared = items(obj, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE).first();
    [per_frame, shared]
        .into_iter()
        .flatten()
        .find_map(|group| items(group, sequence).first().and_then(|s| values(s, tag)))
        .or_else(|| values(obj, tag))
}

fn fixed<const N: usize>(v: Option<Vec<f64>>) -> Option<[f64; N]> {
    v.and_then(|v| v.try_into().ok())
}

fn lut(obj: &InMemDicomObject, frame: usize) -> Result<ModalityLut, DicomError> {
    if let Some(table) = items(obj, tags::MODALITY_LUT_SEQUENCE).first() {
        let descriptor = values(table, tags::LUT_DESCRIPTOR).unwrap_or_default();
        let data = table
            .get(tags::LUT_DATA)
            .and_then(|e| e.to_multi_float64().ok());
        if let ([_, first, _], Some(data)) = (descriptor.as_slice(), data) {
            return Ok(ModalityLut::Table {
                first: *first as i64,
                values: data.into_iter().map(|v| v as f32).collect(),
            });
        }
    }
    let transform = tags::PIXEL_VALUE_TRANSFORMATION_SEQUENCE;
    let slope =
        grouped(obj, frame, transform, tags::RESCALE_SLOPE).and_then(|v| v.first().copied());
    let intercept =
        grouped(obj, frame, transform, tags::RESCALE_INTERCEPT).and_then(|v| v.first().copied());
    let (slope, intercept) = (slope.unwrap_or(1.0), intercept.unwrap_or(0.0));
    let plausible = slope.is_finite()
        && intercept.is_finite()
        && (SLOPE_RANGE.0..=SLOPE_RANGE.1).contains(&slope.abs())
        && intercept.abs() <= INTERCEPT_LIMIT;
    if !plausible {
        return Err(DicomError::Rescale { slope, intercept });
    }
    Ok(ModalityLut::Linear { slope, intercept })
}

impl Image {
    /// Parses and decodes a file's pixel data.
    pub fn decode(bytes: Vec<u8>) -> Result<Self, DicomError> {
        let object = OpenFileOptions::new()
            .read_preamble(ReadPreamble::Auto)
            .from_reader(Cursor::new(bytes))
            .map_err(|e| DicomError::Unreadable(e.to_string()))?;
        if object.get(tags::PIXEL_DATA).is_none() {
            return Err(DicomError::NoPixelData);
        }
        let samples = object
            .get(tags::SAMPLES_PER_PIXEL)
            .and_then(|e| e.to_int::<u16>().ok())
            .unwrap_or(1);
        if samples != 1 {
            return Err(DicomError::Colour(samples));
        }
        let number = |tag| {
            object
                .get(tag)
                .and_then(|e: &InMemElement| e.to_int::<u32>().ok())
        };
        let (rows, columns) = match (number(tags::ROWS), number(tags::COLUMNS)) {
            (Some(r), Some(c)) if r > 0 && c > 0 => (r as usize, c as usize),
            _ => return Err(DicomError::Shape("missing or zero Rows/Columns".into())),
        };
        let frames = match object.get(tags::NUMBER_OF_FRAMES) {
            None => 1,
            Some(e) => e
                .to_int::<u32>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| DicomError::Shape("invalid Number of Frames".into()))?,
        };
        let series_uid = text(&object, tags::SERIES_INSTANCE_UID).unwrap_or_default();
        let modality = text(&object, tags::MODALITY).unwrap_or_default();
        let planes = (0..frames)
            .map(|frame| {
                let f = frame as usize;
                Ok(Plane {
                    frame,
                    series_uid: series_uid.clone(),
                    modality: modality.clone(),
                    rows,
                    columns,
                    position: fixed(grouped(
                        &object,
                        f,
                        tags::PLANE_POSITION_SEQUENCE,
                        tags::IMAGE_POSITION_PATIENT,
                    )),
                    orientation: fixed(grouped(
                        &object,
                        f,
                        tags::PLANE_ORIENTATION_SEQUENCE,
                        tags::IMAGE_ORIENTATION_PATIENT,
                    )),
                    pixel_spacing: fixed(grouped(
                        &object,
                        f,
                        tags::PIXEL_MEASURES_SEQUENCE,
                        tags::PIXEL_SPACING,
                    )),
                    lut: lut(&object, f)?,
                })
            })
            .collect::<Result<Vec<_>, DicomError>>()?;
        Ok(Self { object, planes })
    }

    /// Decodes the pixel data (the expensive part: decompression if encapsulated).
    pub fn pixels(&self) -> Result<DecodedPixelData<'_>, DicomError> {
        self.object
            .decode_pixel_data()
            .map_err(|e| DicomError::Decode(e.to_string()))
    }

    /// The stored value marking padding pixels, if the file declares one.
    pub fn padding(&self) -> Option<i64> {
        self.object
            .get(tags::PIXEL_PADDING_VALUE)
            .and_then(|e| e.to_int::<i64>().ok())
    }

    /// Writes `plane`'s HU into `out` (rows × columns values, row-major).
    pub fn plane_hu_into(
        &self,
        pixels: &DecodedPixelData<'_>,
        plane: &Plane,
        out: &mut [f32],
    ) -> Result<(), DicomError> {
        let count = plane.rows * plane.columns;
        if out.len() != count
            || pixels.rows() as usize != plane.rows
            || pixels.columns() as usize != plane.columns
        {
            return Err(DicomError::Shape(
                "pixel data does not match Rows/Columns".into(),
            ));
        }
        let data = pixels
            .frame_data(plane.frame)
            .map_err(|e| DicomError::Decode(e.to_string()))?;
        let bytes = (pixels.bits_allocated() as usize).div_ceil(8);
        if data.len() < count * bytes {
            return Err(DicomError::Decode(format!(
                "frame {} holds {} bytes, {} needed",
                plane.frame,
                data.len(),
                count * bytes
            )));
        }
        // 16-bit big-endian data arrives swapped to native order; 32-bit does not.
        if bytes == 4 && self.object.meta().transfer_syntax() == BIG_ENDIAN {
            return Err(DicomError::Decode(
                "32-bit big-endian pixel data is not supported".into(),
            ));
        }
        let stored = pixels.bits_stored().clamp(1, 32) as u32;
        let signed = pixels.pixel_representation() == PixelRepresentation::Signed;
        let mask = if stored >= 32 {
            u32::MAX
        } else {
            (1u32 << stored) - 1
        };
        let padding = self.padding();
        let value = |raw: u32| -> i64 {
            let v = raw & mask;
            if signed && stored < 32 && v & (1 << (stored - 1)) != 0 {
                v as i64 - (1i64 << stored)
            } else if signed {
                v as i32 as i64
            } else {
                v as i64
            }
        };
        let to_hu = |v: i64| -> f32 {
            if padding == Some(v) {
                return PADDING_HU;
            }
            match &plane.lut {
                ModalityLut::Linear { slope, intercept } => (v as f64 * slope + intercept) as f32,
                ModalityLut::Table { first, values } => {
                    let i = (v - first).clamp(0, values.len() as i64 - 1);
                    values.get(i as usize).copied().unwrap_or(0.0)
                }
            }
        };
        match bytes {
            1 => out
                .iter_mut()
                .zip(data)
                .for_each(|(o, &b)| *o = to_hu(value(b as u32))),
            2 => out
                .iter_mut()
                .zip(data.chunks_exact(2))
                .for_each(|(o, b)| *o = to_hu(value(u16::from_le_bytes([b[0], b[1]]) as u32))),
            4 => out
                .iter_mut()
                .zip(data.chunks_exact(4))
                .for_each(|(o, b)| *o = to_hu(value(u32::from_le_bytes([b[0], b[1], b[2], b[3]])))),
            other => return Err(DicomError::Decode(format!("{} bits allocated", other * 8))),
        }
        Ok(())
    }

    /// Every plane's HU, each in its own vector (for single files; the pipeline writes
    /// straight into its volume instead).
    pub fn hu_planes(&self) -> Result<Vec<Vec<f32>>, DicomError> {
        let pixels = self.pixels()?;
        self.planes
            .iter()
            .map(|plane| {
                let mut out = vec![0.0; plane.rows * plane.columns];
                self.plane_hu_into(&pixels, plane, &mut out)?;
                Ok(out)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An Enhanced-CT-style multi-frame object: geometry in the shared group, each
    /// frame's position and rescale in its own per-frame group.
    fn enhanced_ct() -> Vec<u8> {
        use dicom_core::value::{DataSetSequence, Value};
        use dicom_core::{DataElement, PrimitiveValue};
        use dicom_dictionary_std::uids;
        use dicom_object::meta::FileMetaTableBuilder;
        fn item(elements: Vec<DataElement<InMemDicomObject>>) -> InMemDicomObject {
            InMemDicomObject::from_element_iter(elements)
        }
        fn seq(tag: Tag, items: Vec<InMemDicomObject>) -> DataElement<InMemDicomObject> {
            DataElement::new(tag, VR::SQ, Value::from(DataSetSequence::from(items)))
        }
        fn text(tag: Tag, vr: VR, value: &str) -> DataElement<InMemDicomObject> {
            DataElement::new(tag, vr, PrimitiveValue::from(value))
        }
        let shared = item(vec![
            seq(
                tags::PLANE_ORIENTATION_SEQUENCE,
                vec![item(vec![text(
                    tags::IMAGE_ORIENTATION_PATIENT,
                    VR::DS,
                    "1\\0\\0\\0\\1\\0",
                )])],
            ),
            seq(
                tags::PIXEL_MEASURES_SEQUENCE,
                vec![item(vec![text(tags::PIXEL_SPACING, VR::DS, "0.5\\0.5")])],
            ),
        ]);
        let frames = (0..3)
            .map(|k| {
                item(vec![
                    seq(
                        tags::PLANE_POSITION_SEQUENCE,
                        vec![item(vec![text(
                            tags::IMAGE_POSITION_PATIENT,
                            VR::DS,
                            &format!("0\\0\\{}", 4 - 2 * k),
                        )])],
                    ),
                    seq(
                        tags::PIXEL_VALUE_TRANSFORMATION_SEQUENCE,
                        vec![item(vec![
                            text(tags::RESCALE_SLOPE, VR::DS, "2"),
                            text(
                                tags::RESCALE_INTERCEPT,
                                VR::DS,
                                &format!("{}", -1000 - 10 * k),
                            ),
                        ])],
                    ),
                ])
            })
            .collect();
        let mut o = InMemDicomObject::new_empty();
        o.put(text(
            tags::SOP_CLASS_UID,
            VR::UI,
            uids::ENHANCED_CT_IMAGE_STORAGE,
        ));
        o.put(text(tags::SOP_INSTANCE_UID, VR::UI, "2.25.7"));
        o.put(text(tags::SERIES_INSTANCE_UID, VR::UI, "2.25.8"));
        o.put(text(tags::MODALITY, VR::CS, "CT"));
        o.put(text(tags::NUMBER_OF_FRAMES, VR::IS, "3"));
        o.put(seq(tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE, vec![shared]));
        o.put(seq(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE, frames));
        o.put(text(
            tags::PHOTOMETRIC_INTERPRETATION,
            VR::CS,
            "MONOCHROME2",
        ));
        for (tag, value) in [
            (tags::SAMPLES_PER_PIXEL, 1u16),
            (tags::ROWS, 2),
            (tags::COLUMNS, 2),
            (tags::BITS_ALLOCATED, 16),
            (tags::BITS_STORED, 12),
            (tags::HIGH_BIT, 11),
            (tags::PIXEL_REPRESENTATION, 0),
        ] {
            o.put(DataElement::new(tag, VR::US, PrimitiveValue::from(value)));
        }
        // Stored values 0..12; the top nibble of the first is set, outside Bits Stored.
        let mut pixels: Vec<u8> = (0u16..12).flat_map(|v| v.to_le_bytes()).collect();
        pixels[1] |= 0xF0;
        o.put(DataElement::new(
            tags::PIXEL_DATA,
            VR::OW,
            PrimitiveValue::from(pixels),
        ));
        let file = o
            .with_meta(
                FileMetaTableBuilder::new()
                    .transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN)
                    .media_storage_sop_class_uid(uids::ENHANCED_CT_IMAGE_STORAGE)
                    .media_storage_sop_instance_uid("2.25.7"),
            )
            .unwrap();
        let mut out = Vec::new();
        file.write_all(&mut out).unwrap();
        out
    }

    #[test]
    fn enhanced_ct_frames_take_position_and_rescale_from_their_functional_groups() {
        let image = Image::decode(enhanced_ct()).unwrap();
        assert_eq!(image.planes.len(), 3);
        let z: Vec<f64> = image
            .planes
            .iter()
            .map(|p| p.position.unwrap()[2])
            .collect();
        assert_eq!(z, [4.0, 2.0, 0.0]);
        assert!(
            image
                .planes
                .iter()
                .all(|p| p.pixel_spacing == Some([0.5, 0.5]))
        );
        let hu = image.hu_planes().unwrap();
        // HU = stored × 2 + (-1000 - 10k); bits above Bits Stored are ignored.
        assert_eq!(hu[0], [-1000.0, -998.0, -996.0, -994.0]);
        assert_eq!(hu[2], [-1004.0, -1002.0, -1000.0, -998.0]);
    }
}
