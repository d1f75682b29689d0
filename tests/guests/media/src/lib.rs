//! Test guest: reads every kind of data dependency and logs what it saw, one
//! line per fact, for tests/media.rs to compare with ffprobe and the store.
//!
//! Lines: `item NAME TYPE FRAMES`, `first INDEX HASH`, `iter INDEX HASH`,
//! `rate INDEX HASH` (rate 0.5), `pick INDEX HASH` (frames 3, 120, 121, 199
//! of a long enough video), `bad-rate RATE: ERROR`, `past-end: ERROR`,
//! `asset-path PATH BYTES`, `asset-bytes BYTES SAME`, `asset-write: ERROR`.

use std::io::Write;

use encord_agent_sdk::log;
use encord_agent_sdk::prelude::*;

/// FNV-1a over a frame's pixels.
fn hash(rgb: &[u8]) -> u64 {
    rgb.iter().fold(0xcbf29ce484222325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    })
}

#[stage("pre-label")]
fn probe(
    item: StorageItem,
    first: Frame,
    frames: VideoFrames,
    sampler: VideoSampler,
    path: AssetPath,
    bytes: Asset,
) -> Result<Outcome, AgentError> {
    log::info(&format!(
        "item {} {} {}",
        item.name,
        item.item_type,
        item.frame_count.map_or("-".to_string(), |n| n.to_string())
    ));
    log::info(&format!("first {} {:016x}", first.index, hash(&first.rgb)));
    let mut count = 0u32;
    for f in frames {
        let f = f?;
        assert_eq!(f.rgb.len(), (f.width * f.height * 3) as usize);
        log::info(&format!("iter {} {:016x}", f.index, hash(&f.rgb)));
        count += 1;
    }
    for f in sampler.rate(0.5)? {
        let f = f?;
        log::info(&format!("rate {} {:016x}", f.index, hash(&f.rgb)));
    }
    if count > 199 {
        for f in sampler.frames(&[121, 3, 199, 120, 3])? {
            let f = f?;
            log::info(&format!("pick {} {:016x}", f.index, hash(&f.rgb)));
        }
    }
    for bad in [0.0, 1.5] {
        match sampler.rate(bad) {
            Ok(_) => log::info(&format!("bad-rate {bad}: accepted")),
            Err(e) => log::info(&format!("bad-rate {bad}: {e}")),
        }
    }
    let past = sampler
        .frames(&[count + 5])
        .and_then(|mut it| it.next().transpose());
    match past {
        Ok(_) => log::info("past-end: no error"),
        Err(e) => log::info(&format!("past-end: {e}")),
    }
    let on_disk = std::fs::read(&*path)
        .map_err(|e| AgentError::msg(format!("reading {}: {e}", path.display())))?;
    log::info(&format!("asset-path {} {}", path.display(), on_disk.len()));
    log::info(&format!(
        "asset-bytes {} {}",
        bytes.len(),
        on_disk == *bytes
    ));
    let written = std::fs::File::create("/asset/new.txt").and_then(|mut f| f.write_all(b"x"));
    match written {
        Ok(()) => log::info("asset-write: allowed"),
        Err(e) => log::info(&format!("asset-write: {e}")),
    }
    item.update_client_metadata(serde_json::json!({"probed": true, "frames": count}))?;
    Ok(Outcome::stay())
}

export_agent!(probe);
