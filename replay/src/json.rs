//! A JSON view of core values for people and scripts: byte strings (ids,
//! hashes, signatures, payloads) become lower-case hex, and `u128` amounts
//! become decimal strings so that no JSON reader loses precision on them.
//!
//! `serde_json::to_value` cannot do either: the core's types serialize ids
//! as arrays of 32 numbers and refuse amounts above `u64::MAX`. This module
//! is a small serde serializer with exactly those two differences.

use serde::ser::{self, Serialize};
use serde_json::{Map, Value};

/// Why a value could not be turned into JSON (a map with a non-string key).
#[derive(Debug, thiserror::Error)]
#[error("cannot render as JSON: {0}")]
pub struct JsonError(String);

impl ser::Error for JsonError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        JsonError(msg.to_string())
    }
}

/// The hex-and-decimal JSON view of `value`.
pub fn to_json<T: Serialize + ?Sized>(value: &T) -> Value {
    // Every core type is plain data with string-like map keys, so this only
    // fails on a type the CLI never renders; say so rather than panic.
    value
        .serialize(ValueSerializer)
        .map(|v| v.value)
        .unwrap_or_else(|e| Value::String(e.to_string()))
}

/// Lower-case hex of a 32-byte value.
pub fn hex32(bytes: &[u8; 32]) -> String {
    aivm_core::types::hex(bytes)
}

/// Serde helpers for `[u8; 32]` fields written as hex strings.
pub mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&aivm_core::types::hex(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = String::deserialize(d)?;
        aivm_core::types::parse_hex::<32>(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("expected 64 hex digits, got {s:?}")))
    }
}

/// Serde helpers for `Vec<[u8; 32]>` fields written as lists of hex strings.
pub mod hex_list {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(list: &[[u8; 32]], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(list.iter().map(|b| aivm_core::types::hex(b)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<[u8; 32]>, D::Error> {
        let list = Vec::<String>::deserialize(d)?;
        list.iter()
            .map(|s| {
                aivm_core::types::parse_hex::<32>(s).ok_or_else(|| {
                    serde::de::Error::custom(format!("expected 64 hex digits, got {s:?}"))
                })
            })
            .collect()
    }
}

/// A rendered value, remembering whether it came from a `u8` so that
/// sequences of bytes can be recognised and shown as hex.
struct Rendered {
    value: Value,
    byte: Option<u8>,
}

impl Rendered {
    fn of(value: Value) -> Self {
        Rendered { value, byte: None }
    }
}

/// Turns a finished list of elements into a hex string when every element
/// was a byte, or a JSON array otherwise.
fn finish_list(items: Vec<Rendered>) -> Value {
    if !items.is_empty() && items.iter().all(|i| i.byte.is_some()) {
        let bytes: Vec<u8> = items.iter().filter_map(|i| i.byte).collect();
        return Value::String(aivm_core::types::hex(&bytes));
    }
    Value::Array(items.into_iter().map(|i| i.value).collect())
}

fn tagged(variant: &str, value: Value) -> Value {
    let mut m = Map::new();
    m.insert(variant.to_string(), value);
    Value::Object(m)
}

struct ValueSerializer;

type R = Result<Rendered, JsonError>;

impl ser::Serializer for ValueSerializer {
    type Ok = Rendered;
    type Error = JsonError;
    type SerializeSeq = SeqSer;
    type SerializeTuple = SeqSer;
    type SerializeTupleStruct = SeqSer;
    type SerializeTupleVariant = SeqSer;
    type SerializeMap = MapSer;
    type SerializeStruct = MapSer;
    type SerializeStructVariant = MapSer;

    fn serialize_bool(self, v: bool) -> R {
        Ok(Rendered::of(Value::Bool(v)))
    }
    fn serialize_i8(self, v: i8) -> R {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i16(self, v: i16) -> R {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i32(self, v: i32) -> R {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i64(self, v: i64) -> R {
        Ok(Rendered::of(Value::from(v)))
    }
    fn serialize_i128(self, v: i128) -> R {
        Ok(Rendered::of(Value::String(v.to_string())))
    }
    fn serialize_u8(self, v: u8) -> R {
        Ok(Rendered {
            value: Value::from(v),
            byte: Some(v),
        })
    }
    fn serialize_u16(self, v: u16) -> R {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u32(self, v: u32) -> R {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u64(self, v: u64) -> R {
        Ok(Rendered::of(Value::from(v)))
    }
    fn serialize_u128(self, v: u128) -> R {
        Ok(Rendered::of(Value::String(v.to_string())))
    }
    fn serialize_f32(self, v: f32) -> R {
        self.serialize_f64(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> R {
        Ok(Rendered::of(Value::from(v)))
    }
    fn serialize_char(self, v: char) -> R {
        Ok(Rendered::of(Value::String(v.to_string())))
    }
    fn serialize_str(self, v: &str) -> R {
        Ok(Rendered::of(Value::String(v.to_string())))
    }
    fn serialize_bytes(self, v: &[u8]) -> R {
        Ok(Rendered::of(Value::String(aivm_core::types::hex(v))))
    }
    fn serialize_none(self) -> R {
        Ok(Rendered::of(Value::Null))
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> R {
        v.serialize(ValueSerializer)
    }
    fn serialize_unit(self) -> R {
        Ok(Rendered::of(Value::Null))
    }
    fn serialize_unit_struct(self, _name: &'static str) -> R {
        Ok(Rendered::of(Value::Null))
    }
    fn serialize_unit_variant(self, _name: &'static str, _i: u32, variant: &'static str) -> R {
        Ok(Rendered::of(Value::String(variant.to_string())))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _name: &'static str, v: &T) -> R {
        v.serialize(ValueSerializer)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _i: u32,
        variant: &'static str,
        v: &T,
    ) -> R {
        let inner = v.serialize(ValueSerializer)?.value;
        Ok(Rendered::of(tagged(variant, inner)))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqSer, JsonError> {
        Ok(SeqSer::new(None, len.unwrap_or(0)))
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqSer, JsonError> {
        Ok(SeqSer::new(None, len))
    }
    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<SeqSer, JsonError> {
        Ok(SeqSer::new(None, len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _i: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<SeqSer, JsonError> {
        Ok(SeqSer::new(Some(variant), len))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<MapSer, JsonError> {
        Ok(MapSer::new(None))
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<MapSer, JsonError> {
        Ok(MapSer::new(None))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _i: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<MapSer, JsonError> {
        Ok(MapSer::new(Some(variant)))
    }
}

struct SeqSer {
    variant: Option<&'static str>,
    items: Vec<Rendered>,
}

impl SeqSer {
    fn new(variant: Option<&'static str>, len: usize) -> Self {
        SeqSer {
            variant,
            items: Vec::with_capacity(len.min(1024)),
        }
    }

    fn push<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), JsonError> {
        self.items.push(v.serialize(ValueSerializer)?);
        Ok(())
    }

    fn done(self) -> R {
        let list = finish_list(self.items);
        Ok(Rendered::of(match self.variant {
            Some(v) => tagged(v, list),
            None => list,
        }))
    }
}

impl ser::SerializeSeq for SeqSer {
    type Ok = Rendered;
    type Error = JsonError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), JsonError> {
        self.push(v)
    }
    fn end(self) -> R {
        self.done()
    }
}

impl ser::SerializeTuple for SeqSer {
    type Ok = Rendered;
    type Error = JsonError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), JsonError> {
        self.push(v)
    }
    fn end(self) -> R {
        self.done()
    }
}

impl ser::SerializeTupleStruct for SeqSer {
    type Ok = Rendered;
    type Error = JsonError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), JsonError> {
        self.push(v)
    }
    fn end(self) -> R {
        self.done()
    }
}

impl ser::SerializeTupleVariant for SeqSer {
    type Ok = Rendered;
    type Error = JsonError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), JsonError> {
        self.push(v)
    }
    fn end(self) -> R {
        self.done()
    }
}

struct MapSer {
    variant: Option<&'static str>,
    map: Map<String, Value>,
    key: Option<String>,
}

impl MapSer {
    fn new(variant: Option<&'static str>) -> Self {
        MapSer {
            variant,
            map: Map::new(),
            key: None,
        }
    }

    fn done(self) -> R {
        let obj = Value::Object(self.map);
        Ok(Rendered::of(match self.variant {
            Some(v) => tagged(v, obj),
            None => obj,
        }))
    }
}

/// Map keys must be strings in JSON: strings stay, numbers and hex ids are
/// written as their text.
fn key_text(v: Value) -> Result<String, JsonError> {
    match v {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(JsonError(format!("map key {other} is not a string"))),
    }
}

impl ser::SerializeMap for MapSer {
    type Ok = Rendered;
    type Error = JsonError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<(), JsonError> {
        self.key = Some(key_text(k.serialize(ValueSerializer)?.value)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), JsonError> {
        let key = self
            .key
            .take()
            .ok_or_else(|| JsonError("map value without a key".to_string()))?;
        self.map.insert(key, v.serialize(ValueSerializer)?.value);
        Ok(())
    }
    fn end(self) -> R {
        self.done()
    }
}

impl ser::SerializeStruct for MapSer {
    type Ok = Rendered;
    type Error = JsonError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        k: &'static str,
        v: &T,
    ) -> Result<(), JsonError> {
        self.map
            .insert(k.to_string(), v.serialize(ValueSerializer)?.value);
        Ok(())
    }
    fn end(self) -> R {
        self.done()
    }
}

impl ser::SerializeStructVariant for MapSer {
    type Ok = Rendered;
    type Error = JsonError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        k: &'static str,
        v: &T,
    ) -> Result<(), JsonError> {
        self.map
            .insert(k.to_string(), v.serialize(ValueSerializer)?.value);
        Ok(())
    }
    fn end(self) -> R {
        self.done()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aivm_core::types::{Address, TaskId};

    #[derive(serde::Serialize)]
    struct Sample {
        id: TaskId,
        who: Address,
        amount: u128,
        count: u64,
        payload: Vec<u8>,
        empty: Vec<u8>,
        small: Vec<u32>,
        status: aivm_core::TxStatus,
    }

    #[test]
    fn ids_are_hex_and_amounts_are_strings() {
        let s = Sample {
            id: TaskId([0xab; 32]),
            who: Address([1; 32]),
            amount: u128::MAX,
            count: 7,
            payload: vec![0, 255],
            empty: vec![],
            small: vec![1, 2],
            status: aivm_core::TxStatus::Failed(aivm_core::TxError::ZeroAmount),
        };
        let v = to_json(&s);
        assert_eq!(v["id"], Value::String("ab".repeat(32)));
        assert_eq!(v["who"], Value::String("01".repeat(32)));
        assert_eq!(v["amount"], Value::String(u128::MAX.to_string()));
        assert_eq!(v["count"], Value::from(7));
        assert_eq!(v["payload"], Value::String("00ff".into()));
        assert_eq!(v["empty"], serde_json::json!([]));
        assert_eq!(v["small"], serde_json::json!([1, 2]));
        assert_eq!(v["status"], serde_json::json!({"Failed": "ZeroAmount"}));
    }
}
