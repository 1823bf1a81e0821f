//! Rows in SQLite's binary JSON (JSONB, <https://sqlite.org/jsonb.html>), written
//! straight from serde. SQLite reads JSONB as it stands, where JSON text is first
//! parsed into it (`jsonb()` was 7.6% of the ledger writer thread's instructions in a
//! store-alone `bench ledger` run under callgrind), and text goes in as
//! it is, with nothing escaped on either side. Only what rows hold is written: arrays
//! (sequences and tuples), text, integers, booleans and null.

use serde::Serialize;
use serde::ser::{self, Impossible};

type Error = serde_json::Error;

/// JSONB element types (the low four bits of an element's header).
const NULL: u8 = 0;
const TRUE: u8 = 1;
const FALSE: u8 = 2;
const INT: u8 = 3;
/// Text that needs no escaping to be read: SQLite escapes it if it ever writes JSON.
const TEXT_RAW: u8 = 10;
pub(super) const ARRAY: u8 = 11;

/// `value` as one JSONB element, written into a buffer of `capacity` bytes to start with.
pub(super) fn to_vec<T: Serialize + ?Sized>(value: &T, capacity: usize) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(capacity);
    value.serialize(Writer { out: &mut out })?;
    Ok(out)
}

/// The header of an element of `kind` whose payload is `size` bytes long, as short as
/// the size allows: its bytes and their number.
pub(super) fn header(kind: u8, size: usize) -> ([u8; 9], usize) {
    let mut head = [0; 9];
    // Up to 11 in the header byte itself; else its high nibble says in how many
    // big-endian bytes after it.
    let (nibble, len) = match size {
        0..=11 => {
            head[0] = (size as u8) << 4 | kind;
            return (head, 1);
        }
        12..=0xff => (0xc, 1),
        0x100..=0xffff => (0xd, 2),
        0x1_0000..=0xffff_ffff => (0xe, 4),
        _ => (0xf, 8),
    };
    head[0] = nibble << 4 | kind;
    head[1..=len].copy_from_slice(&(size as u64).to_be_bytes()[8 - len..]);
    (head, 1 + len)
}

fn scalar(out: &mut Vec<u8>, kind: u8, payload: &[u8]) {
    let (head, len) = header(kind, payload.len());
    out.extend_from_slice(&head[..len]);
    out.extend_from_slice(payload);
}

struct Writer<'a> {
    out: &'a mut Vec<u8>,
}

/// An array being written: its elements follow `start`, where its header goes once
/// their size is known.
struct Array<'a> {
    out: &'a mut Vec<u8>,
    start: usize,
}

impl Array<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(Writer { out: self.out })
    }

    fn close(self) {
        let (head, len) = header(ARRAY, self.out.len() - self.start);
        self.out
            .splice(self.start..self.start, head[..len].iter().copied());
    }
}

fn unsupported(what: &str) -> Error {
    ser::Error::custom(format!("JSONB rows hold no {what}"))
}

impl<'a> ser::Serializer for Writer<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Array<'a>;
    type SerializeTuple = Array<'a>;
    type SerializeTupleStruct = Array<'a>;
    type SerializeTupleVariant = Impossible<(), Error>;
    type SerializeMap = Impossible<(), Error>;
    type SerializeStruct = Impossible<(), Error>;
    type SerializeStructVariant = Impossible<(), Error>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.out.push(if v { TRUE } else { FALSE });
        Ok(())
    }

    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }

    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }

    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }

    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        scalar(self.out, INT, itoa::Buffer::new().format(v).as_bytes());
        Ok(())
    }

    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }

    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }

    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }

    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        scalar(self.out, INT, itoa::Buffer::new().format(v).as_bytes());
        Ok(())
    }

    fn serialize_f32(self, _: f32) -> Result<(), Error> {
        Err(unsupported("floats"))
    }

    fn serialize_f64(self, _: f64) -> Result<(), Error> {
        Err(unsupported("floats"))
    }

    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        scalar(self.out, TEXT_RAW, v.as_bytes());
        Ok(())
    }

    /// Formatted straight into the document (no `String` in between); its header goes
    /// before it once its length is known.
    fn collect_str<T: std::fmt::Display + ?Sized>(self, value: &T) -> Result<(), Error> {
        use std::io::Write;
        let start = self.out.len();
        write!(self.out, "{value}").map_err(|e| ser::Error::custom(e.to_string()))?;
        let (head, len) = header(TEXT_RAW, self.out.len() - start);
        self.out.splice(start..start, head[..len].iter().copied());
        Ok(())
    }

    fn serialize_bytes(self, _: &[u8]) -> Result<(), Error> {
        Err(unsupported("bytes"))
    }

    fn serialize_none(self) -> Result<(), Error> {
        self.out.push(NULL);
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Error> {
        self.serialize_none()
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Error> {
        self.serialize_none()
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Error> {
        Err(unsupported("enum variants with data"))
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Array<'a>, Error> {
        let start = self.out.len();
        Ok(Array {
            out: self.out,
            start,
        })
    }

    fn serialize_tuple(self, len: usize) -> Result<Array<'a>, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Array<'a>, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(unsupported("enum variants with data"))
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(unsupported("maps"))
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Error> {
        Err(unsupported("structs"))
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(unsupported("enum variants with data"))
    }
}

/// Sequences, tuples and tuple structs are all arrays.
macro_rules! array {
    ($trait:ident, $element:ident) => {
        impl ser::$trait for Array<'_> {
            type Ok = ();
            type Error = Error;

            fn $element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
                self.element(value)
            }

            fn end(self) -> Result<(), Error> {
                self.close();
                Ok(())
            }
        }
    };
}

array!(SerializeSeq, serialize_element);
array!(SerializeTuple, serialize_element);
array!(SerializeTupleStruct, serialize_field);

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectionTrait, Database, DbBackend, Statement, Value};

    use super::*;

    /// What SQLite reads `blob` as, written back as JSON text.
    async fn as_json(blob: Vec<u8>) -> String {
        let db = Database::connect("sqlite::memory:").await.unwrap();
        let row = db
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "SELECT json(?1)",
                [Value::Bytes(Some(blob))],
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get_by_index::<String>(0).unwrap()
    }

    #[tokio::test]
    async fn sqlite_reads_rows_as_serde_json_writes_them() {
        let long = "k".repeat(300);
        let rows = vec![
            (
                "plain".to_owned(),
                -42i64,
                Some(u64::MAX),
                None::<String>,
                true,
            ),
            (
                "quote \" backslash \\ tab \t 中文".to_owned(),
                0,
                None,
                Some(long),
                false,
            ),
        ];
        let blob = to_vec(&rows, 0).unwrap();
        assert_eq!(as_json(blob).await, serde_json::to_string(&rows).unwrap());
    }

    #[tokio::test]
    async fn arrays_of_every_header_size_are_read_whole() {
        // Payloads of 0, 1–11 (size in the header byte), one-, two- and four-byte sizes.
        for n in [0usize, 3, 40, 5_000, 70_000] {
            let rows: Vec<(i64,)> = (0..n as i64).map(|i| (i,)).collect();
            let blob = to_vec(&rows, 0).unwrap();
            assert_eq!(
                as_json(blob).await,
                serde_json::to_string(&rows).unwrap(),
                "{n} rows"
            );
        }
    }

    #[test]
    fn displayed_text_is_written_as_the_same_text() {
        use crate::store::bulk_rows::Text;
        let (long, longer) = ("k".repeat(300), "m".repeat(70_000));
        for s in ["", "short", "中文 and \"quotes\"", &long, &longer] {
            let displayed = to_vec(&[(Text(s), 1)], 0).unwrap();
            assert_eq!(
                displayed,
                to_vec(&[(s, 1)], 0).unwrap(),
                "{} bytes",
                s.len()
            );
        }
    }

    #[test]
    fn what_rows_never_hold_is_refused() {
        assert!(to_vec(&[1.5f64], 0).is_err());
        assert!(to_vec(&std::collections::BTreeMap::from([("a", 1)]), 0).is_err());
    }
}
