//! The small pieces of safetensors that the Hugging Face and PEFT files share: writing named float32 tensors
//! with a deterministic header, and reading a tensor of F32, F16 or BF16 as float32 values.

use crate::{Error, Result};

/// One tensor to write: name, shape, float32 values.
pub struct NamedTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// safetensors bytes of `tensors` (float32) with `metadata`; the same input gives the same bytes.
pub fn write_f32(tensors: &[NamedTensor], metadata: &[(&str, &str)]) -> Result<Vec<u8>> {
    let data: Vec<Vec<u8>> = tensors
        .iter()
        .map(|t| t.values.iter().flat_map(|v| v.to_le_bytes()).collect())
        .collect();
    let views = tensors
        .iter()
        .zip(&data)
        .map(|(t, bytes)| {
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, t.shape.clone(), bytes)
                .map(|view| (t.name.clone(), view))
                .map_err(|e| Error::Format(format!("cannot describe tensor {}: {e}", t.name)))
        })
        .collect::<Result<Vec<_>>>()?;
    let metadata = metadata
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let bytes = safetensors::serialize(views, Some(metadata))
        .map_err(|e| Error::Format(format!("cannot write safetensors: {e}")))?;
    Ok(crate::model::weights::with_sorted_header(bytes))
}

/// The values of a tensor as float32, converting F16 and BF16 (checkpoints are often saved in half precision).
/// `what` names the tensor in errors. Non-finite values are refused.
pub fn read_f32(view: &safetensors::tensor::TensorView<'_>, what: &str) -> Result<Vec<f32>> {
    let data = view.data();
    let values: Vec<f32> = match view.dtype() {
        safetensors::Dtype::F32 => data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        safetensors::Dtype::F16 => data
            .chunks_exact(2)
            .map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]])))
            .collect(),
        safetensors::Dtype::BF16 => data
            .chunks_exact(2)
            .map(|b| f32::from_bits(u32::from(u16::from_le_bytes([b[0], b[1]])) << 16))
            .collect(),
        other => {
            return Err(Error::Format(format!(
                "tensor `{what}` is {other:?}; only float tensors (F32, F16, BF16) can be loaded"
            )));
        }
    };
    if let Some(bad) = values.iter().find(|v| !v.is_finite()) {
        return Err(Error::Format(format!(
            "tensor `{what}` holds a non-finite value ({bad})"
        )));
    }
    Ok(values)
}

/// IEEE half precision to single precision, exactly (every f16 is an f32).
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let frac = u32::from(h & 0x3ff);
    let bits = match (exp, frac) {
        (0, 0) => sign,
        (0, _) => {
            // Subnormal: value = frac * 2^-24, normalised for f32.
            let shift = frac.leading_zeros() - 21; // leading zeros within the 10-bit field, + 1
            let frac = (frac << shift) & 0x3ff;
            sign | ((127 - 15 + 1 - shift) << 23) | (frac << 13)
        }
        (0x1f, _) => sign | 0x7f80_0000 | (frac << 13),
        _ => sign | ((exp + 127 - 15) << 23) | (frac << 13),
    };
    f32::from_bits(bits)
}

#[cfg(test)]
mod tests {
    use super::f16_to_f32;

    #[test]
    fn half_precision_converts_exactly() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24)); // smallest subnormal
        assert_eq!(f16_to_f32(0x03ff), 1023.0 * 2f32.powi(-24)); // largest subnormal
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert!(f16_to_f32(0x7c00).is_infinite());
        assert_eq!(f16_to_f32(0x8000).to_bits(), (-0.0f32).to_bits());
    }
}
