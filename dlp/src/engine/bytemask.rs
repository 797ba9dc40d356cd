//! Byte-class bit masks over 16- and 64-byte blocks (bit k: byte k), the
//! SIMD building block of the digit-run and word prefilters: classify a
//! block with a few vector compares, then walk set bits instead of bytes.

/// One mask of a 64-byte block, from a 16-byte classifier.
#[inline]
pub(crate) fn mask64(block: &[u8; 64], mask16: impl Fn(&[u8; 16]) -> u64) -> u64 {
    let mut m = 0u64;
    for (i, sub) in block.chunks_exact(16).enumerate() {
        if let Ok(sub) = <&[u8; 16]>::try_from(sub) {
            m |= mask16(sub) << (16 * i);
        }
    }
    m
}

/// Lanes of `x` within `lo..lo + len` (all ones where true), by unsigned
/// saturating comparison: two compares, no branches.
///
/// # Safety
/// Needs SSE2, which is part of the x86_64 baseline.
#[cfg(target_arch = "x86_64")]
#[inline]
pub(crate) unsafe fn in_range(
    x: std::arch::x86_64::__m128i,
    lo: u8,
    len: u8,
) -> std::arch::x86_64::__m128i {
    use std::arch::x86_64::{_mm_cmpeq_epi8, _mm_min_epu8, _mm_set1_epi8, _mm_sub_epi8};
    // SAFETY: SSE2 intrinsics on register values only.
    unsafe {
        let t = _mm_sub_epi8(x, _mm_set1_epi8(lo as i8));
        _mm_cmpeq_epi8(_mm_min_epu8(t, _mm_set1_epi8((len - 1) as i8)), t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_assembled_in_byte_order() {
        let mut block = [b'x'; 64];
        for k in [0, 15, 16, 40, 63] {
            block[k] = b'7';
        }
        let m = mask64(&block, |b| {
            b.iter()
                .enumerate()
                .fold(0, |m, (k, &c)| m | (u64::from(c == b'7') << k))
        });
        assert_eq!(m, (1 << 0) | (1 << 15) | (1 << 16) | (1 << 40) | (1 << 63));
    }
}
