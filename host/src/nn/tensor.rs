//! Tensors as guests build them: dimensions, an element type and bytes,
//! checked against each other before anything uses them.

use std::borrow::Cow;
use std::fmt;

/// The element types of `wasi:nn`'s `tensor-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TensorType {
    F16,
    F32,
    F64,
    BF16,
    U8,
    I32,
    I64,
}

impl TensorType {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            TensorType::U8 => 1,
            TensorType::F16 | TensorType::BF16 => 2,
            TensorType::F32 | TensorType::I32 => 4,
            TensorType::F64 | TensorType::I64 => 8,
        }
    }

    /// The name `wasi:nn` gives it.
    pub fn name(self) -> &'static str {
        match self {
            TensorType::F16 => "FP16",
            TensorType::F32 => "FP32",
            TensorType::F64 => "FP64",
            TensorType::BF16 => "BF16",
            TensorType::U8 => "U8",
            TensorType::I32 => "I32",
            TensorType::I64 => "I64",
        }
    }
}

impl fmt::Display for TensorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `wasi:nn`'s error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidArgument,
    InvalidEncoding,
    Timeout,
    RuntimeError,
    UnsupportedOperation,
    TooLarge,
    NotFound,
    Security,
    Unknown,
}

/// A `wasi:nn` error: its code and a message naming what was wrong and,
/// where there is one, the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct NnError {
    pub code: ErrorCode,
    pub message: String,
}

impl NnError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> NnError {
        NnError {
            code,
            message: message.into(),
        }
    }
    pub fn invalid(message: impl Into<String>) -> NnError {
        NnError::new(ErrorCode::InvalidArgument, message)
    }
}

/// A tensor: row-major elements of one type, little-endian.
#[derive(Clone, PartialEq)]
pub struct Tensor {
    pub dims: Vec<u32>,
    pub ty: TensorType,
    data: Buffer,
}

/// A tensor's elements: the bytes a guest sent, or f32 values the host
/// made (a frame, a model's output), kept typed so that they reach ONNX
/// Runtime and the vision helpers without another copy.
#[derive(Clone, PartialEq)]
enum Buffer {
    Bytes(Vec<u8>),
    F32(Vec<f32>),
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Tensor({} {:?}, {} bytes)",
            self.ty,
            self.dims,
            self.byte_len()
        )
    }
}

/// The number of elements `dims` hold, or none when it overflows.
pub fn element_count(dims: &[u32]) -> Option<usize> {
    dims.iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d as usize))
}

impl Tensor {
    /// A tensor whose bytes are exactly what its dimensions and type need.
    pub fn new(dims: Vec<u32>, ty: TensorType, data: Vec<u8>) -> Result<Tensor, NnError> {
        let need = element_count(&dims)
            .and_then(|n| n.checked_mul(ty.size()))
            .ok_or_else(|| {
                NnError::new(
                    ErrorCode::TooLarge,
                    format!("tensor dimensions {dims:?} of {ty} overflow the address space"),
                )
            })?;
        if need != data.len() {
            return Err(NnError::invalid(format!(
                "tensor of {ty} {dims:?} needs {need} bytes, got {}",
                data.len()
            )));
        }
        Ok(Tensor {
            dims,
            ty,
            data: Buffer::Bytes(data),
        })
    }

    /// An f32 tensor of these values (their count must match `dims`),
    /// without copying them.
    pub fn from_f32(dims: Vec<u32>, values: Vec<f32>) -> Result<Tensor, NnError> {
        if element_count(&dims) != Some(values.len()) {
            return Err(NnError::invalid(format!(
                "tensor of FP32 {dims:?} needs {} values, got {}",
                element_count(&dims).map_or("too many".into(), |n| n.to_string()),
                values.len()
            )));
        }
        Ok(Tensor {
            dims,
            ty: TensorType::F32,
            data: Buffer::F32(values),
        })
    }

    /// The elements' bytes, little-endian.
    pub fn bytes(&self) -> &[u8] {
        match &self.data {
            Buffer::Bytes(b) => b,
            Buffer::F32(v) => bytemuck::cast_slice(v),
        }
    }

    pub fn byte_len(&self) -> usize {
        self.bytes().len()
    }

    /// The elements as f32, for an f32 tensor (borrowed where they are
    /// stored as f32 or suitably aligned).
    pub fn f32s(&self) -> Result<Cow<'_, [f32]>, NnError> {
        if self.ty != TensorType::F32 {
            return Err(NnError::invalid(format!(
                "expected an FP32 tensor, got {} {:?}",
                self.ty, self.dims
            )));
        }
        Ok(match &self.data {
            Buffer::F32(v) => Cow::Borrowed(v),
            Buffer::Bytes(b) => match bytemuck::try_cast_slice(b) {
                Ok(v) => Cow::Borrowed(v),
                Err(_) => Cow::Owned(bytemuck::pod_collect_to_vec(b)),
            },
        })
    }

    /// The elements of an f32 tensor as the vector ONNX Runtime takes: the
    /// host's own f32 values move, a guest's bytes are copied once.
    pub fn into_f32s(self) -> Vec<f32> {
        match self.data {
            Buffer::F32(v) => v,
            Buffer::Bytes(b) => bytemuck::pod_collect_to_vec(&b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_must_match_the_dimensions() {
        let t = Tensor::new(vec![1, 2], TensorType::F32, vec![0; 8]).unwrap();
        assert_eq!(*t.f32s().unwrap(), [0.0, 0.0]);
        let e = Tensor::new(vec![1, 3, 4, 4], TensorType::F32, vec![0; 12]).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArgument);
        assert_eq!(
            e.message,
            "tensor of FP32 [1, 3, 4, 4] needs 192 bytes, got 12"
        );
    }

    #[test]
    fn dimensions_that_overflow_are_refused_not_allocated() {
        let e = Tensor::new(vec![u32::MAX; 4], TensorType::I64, vec![]).unwrap_err();
        assert_eq!(e.code, ErrorCode::TooLarge);
        assert!(element_count(&[u32::MAX, u32::MAX, u32::MAX]).is_none());
    }

    #[test]
    fn f32_values_round_trip_and_other_types_are_named() {
        let t = Tensor::from_f32(vec![3], vec![1.0, -2.5, 3.25]).unwrap();
        assert_eq!(*t.f32s().unwrap(), [1.0, -2.5, 3.25]);
        assert_eq!(t.bytes().len(), 12);
        assert_eq!(t.clone().into_f32s(), vec![1.0, -2.5, 3.25]);
        let from_bytes = Tensor::new(vec![3], TensorType::F32, t.bytes().to_vec()).unwrap();
        assert_eq!(
            from_bytes,
            Tensor::new(vec![3], TensorType::F32, t.bytes().to_vec()).unwrap()
        );
        assert_eq!(from_bytes.into_f32s(), vec![1.0, -2.5, 3.25]);
        assert!(Tensor::from_f32(vec![2], vec![1.0]).is_err());
        let u = Tensor::new(vec![2], TensorType::U8, vec![1, 2]).unwrap();
        assert!(u.f32s().unwrap_err().message.contains("got U8 [2]"));
    }
}
