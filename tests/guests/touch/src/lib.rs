//! Benchmark guest: takes every frame of the task's video and reads every
//! byte of it (a checksum), so the frames benchmark measures delivery into a
//! guest that really touches the pixels.

use encord_agent_sdk::log;
use encord_agent_sdk::prelude::*;

#[stage("pre-label")]
fn touch(frames: VideoFrames) -> Result<Outcome, AgentError> {
    let mut count = 0u32;
    let mut sum = 0u64;
    for f in frames {
        let f = f?;
        sum = sum.wrapping_add(checksum(&f.rgb));
        count += 1;
    }
    log::info(&format!("frames {count} checksum {sum}"));
    Ok(Outcome::stay())
}

/// The sum of every byte, 16 at a time with wasm SIMD (enabled for guests
/// in `.cargo/config.toml`): pairwise widening adds into four `u32` lanes,
/// emptied into the `u64` total every 2¹⁶ bytes (a lane then holds at most
/// 2¹⁴ × 255 < 2³²).
#[cfg(target_arch = "wasm32")]
fn checksum(bytes: &[u8]) -> u64 {
    use core::arch::wasm32::*;
    let mut total = 0u64;
    for block in bytes.chunks(1 << 16) {
        let mut lanes = u32x4_splat(0);
        let mut vectors = block.chunks_exact(16);
        for v in &mut vectors {
            // SAFETY: `v` is 16 readable bytes; v128_load allows any alignment.
            let v = unsafe { v128_load(v.as_ptr().cast::<v128>()) };
            lanes = i32x4_add(
                lanes,
                u32x4_extadd_pairwise_u16x8(u16x8_extadd_pairwise_u8x16(v)),
            );
        }
        total += u64::from(u32x4_extract_lane::<0>(lanes))
            + u64::from(u32x4_extract_lane::<1>(lanes))
            + u64::from(u32x4_extract_lane::<2>(lanes))
            + u64::from(u32x4_extract_lane::<3>(lanes))
            + vectors
                .remainder()
                .iter()
                .map(|&b| u64::from(b))
                .sum::<u64>();
    }
    total
}

/// The same, natively (the unit test).
#[cfg(not(target_arch = "wasm32"))]
fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().map(|&b| u64::from(b)).sum()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_checksum_adds_every_byte() {
        let bytes: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 256) as u8).collect();
        let plain: u64 = bytes.iter().map(|&b| u64::from(b)).sum();
        assert_eq!(super::checksum(&bytes), plain);
        assert_eq!(super::checksum(&[255; 1 << 17]), 255 << 17);
    }
}

export_agent!(touch);
