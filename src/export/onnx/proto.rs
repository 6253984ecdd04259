//! The ONNX protobuf messages cnnscript writes, hand-written after
//! `onnx/onnx.proto` (IR version 8). Only the messages and fields the
//! exporter fills are declared; every tag is the field number in onnx.proto,
//! so files written here are ordinary ONNX files.

/// `ModelProto`: the file's top-level message.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ModelProto {
    /// `ir_version = 1`
    #[prost(int64, tag = "1")]
    pub ir_version: i64,
    /// `producer_name = 2`
    #[prost(string, tag = "2")]
    pub producer_name: String,
    /// `producer_version = 3`
    #[prost(string, tag = "3")]
    pub producer_version: String,
    /// `doc_string = 6`
    #[prost(string, tag = "6")]
    pub doc_string: String,
    /// `graph = 7`
    #[prost(message, optional, tag = "7")]
    pub graph: Option<GraphProto>,
    /// `opset_import = 8`
    #[prost(message, repeated, tag = "8")]
    pub opset_import: Vec<OperatorSetIdProto>,
}

/// `OperatorSetIdProto`: which operator set (and version) the graph uses.
#[derive(Clone, PartialEq, prost::Message)]
pub struct OperatorSetIdProto {
    /// `domain = 1`; empty means the default `ai.onnx` domain.
    #[prost(string, tag = "1")]
    pub domain: String,
    /// `version = 2`
    #[prost(int64, tag = "2")]
    pub version: i64,
}

/// `GraphProto`: nodes in topological order, weights, inputs and outputs.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GraphProto {
    /// `node = 1`
    #[prost(message, repeated, tag = "1")]
    pub node: Vec<NodeProto>,
    /// `name = 2`
    #[prost(string, tag = "2")]
    pub name: String,
    /// `initializer = 5`
    #[prost(message, repeated, tag = "5")]
    pub initializer: Vec<TensorProto>,
    /// `doc_string = 10`
    #[prost(string, tag = "10")]
    pub doc_string: String,
    /// `input = 11`
    #[prost(message, repeated, tag = "11")]
    pub input: Vec<ValueInfoProto>,
    /// `output = 12`
    #[prost(message, repeated, tag = "12")]
    pub output: Vec<ValueInfoProto>,
    /// `value_info = 13`: types of intermediate values.
    #[prost(message, repeated, tag = "13")]
    pub value_info: Vec<ValueInfoProto>,
}

/// `NodeProto`: one operator call.
#[derive(Clone, PartialEq, prost::Message)]
pub struct NodeProto {
    /// `input = 1`
    #[prost(string, repeated, tag = "1")]
    pub input: Vec<String>,
    /// `output = 2`
    #[prost(string, repeated, tag = "2")]
    pub output: Vec<String>,
    /// `name = 3`
    #[prost(string, tag = "3")]
    pub name: String,
    /// `op_type = 4`
    #[prost(string, tag = "4")]
    pub op_type: String,
    /// `attribute = 5`
    #[prost(message, repeated, tag = "5")]
    pub attribute: Vec<AttributeProto>,
    /// `doc_string = 6`
    #[prost(string, tag = "6")]
    pub doc_string: String,
}

/// `AttributeProto.AttributeType` values used here.
pub mod attribute_type {
    /// `FLOAT = 1`
    pub const FLOAT: i32 = 1;
    /// `INT = 2`
    pub const INT: i32 = 2;
    /// `INTS = 7`
    pub const INTS: i32 = 7;
}

/// `AttributeProto`: a named attribute of a node (one of the value fields is set,
/// as `type` says).
#[derive(Clone, PartialEq, prost::Message)]
pub struct AttributeProto {
    /// `name = 1`
    #[prost(string, tag = "1")]
    pub name: String,
    /// `f = 2` (proto2 `optional`: written even when 0)
    #[prost(float, optional, tag = "2")]
    pub f: Option<f32>,
    /// `i = 3` (proto2 `optional`: written even when 0)
    #[prost(int64, optional, tag = "3")]
    pub i: Option<i64>,
    /// `ints = 8`
    #[prost(int64, repeated, tag = "8")]
    pub ints: Vec<i64>,
    /// `type = 20`: an [`attribute_type`] value.
    #[prost(int32, tag = "20")]
    pub r#type: i32,
}

/// `ValueInfoProto`: a named value and its type.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ValueInfoProto {
    /// `name = 1`
    #[prost(string, tag = "1")]
    pub name: String,
    /// `type = 2`
    #[prost(message, optional, tag = "2")]
    pub r#type: Option<TypeProto>,
}

/// `TypeProto`: only the tensor case (`tensor_type = 1` of its `value` oneof).
#[derive(Clone, PartialEq, prost::Message)]
pub struct TypeProto {
    /// `tensor_type = 1`
    #[prost(message, optional, tag = "1")]
    pub tensor_type: Option<TypeTensor>,
}

/// `TypeProto.Tensor`: element type and shape.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TypeTensor {
    /// `elem_type = 1`: a [`data_type`] value.
    #[prost(int32, tag = "1")]
    pub elem_type: i32,
    /// `shape = 2`
    #[prost(message, optional, tag = "2")]
    pub shape: Option<TensorShapeProto>,
}

/// `TensorShapeProto`
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorShapeProto {
    /// `dim = 1`
    #[prost(message, repeated, tag = "1")]
    pub dim: Vec<Dimension>,
}

/// `TensorShapeProto.Dimension`: a size or a symbol.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Dimension {
    /// The `value` oneof: `dim_value = 1` or `dim_param = 2`.
    #[prost(oneof = "DimValue", tags = "1, 2")]
    pub value: Option<DimValue>,
}

/// The `value` oneof of `TensorShapeProto.Dimension`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum DimValue {
    /// `dim_value = 1`
    #[prost(int64, tag = "1")]
    DimValue(i64),
    /// `dim_param = 2`: a symbolic size such as `N`.
    #[prost(string, tag = "2")]
    DimParam(String),
}

/// `TensorProto.DataType` values used here.
pub mod data_type {
    /// `FLOAT = 1`
    pub const FLOAT: i32 = 1;
    /// `INT64 = 7`
    pub const INT64: i32 = 7;
}

/// `TensorProto`: a constant tensor (weights, pads), little-endian in `raw_data`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorProto {
    /// `dims = 1`
    #[prost(int64, repeated, tag = "1")]
    pub dims: Vec<i64>,
    /// `data_type = 2`: a [`data_type`] value.
    #[prost(int32, tag = "2")]
    pub data_type: i32,
    /// `name = 8`
    #[prost(string, tag = "8")]
    pub name: String,
    /// `raw_data = 9`
    #[prost(bytes = "vec", tag = "9")]
    pub raw_data: Vec<u8>,
}
