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
        sum = f.rgb.iter().fold(sum, |s, &b| s.wrapping_add(u64::from(b)));
        count += 1;
    }
    log::info(&format!("frames {count} checksum {sum}"));
    Ok(Outcome::stay())
}

export_agent!(touch);
