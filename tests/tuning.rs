//! Autotuning (`Tuning::Measure`): the fastest algorithm measured on this
//! adapter, kept per layer and input shape, saved and reloaded as JSON,
//! ignored when measured on another adapter, and a corrupt file is an `Err`.
//! Each test makes its own context, so that its counters are its own.

mod common;

use common::{assert_matches_reference, gpu_with_limits, random1, random4};
use conv2d_wgpu::{Algorithm, Conv2dError, Conv2dParams, GpuContext, GpuConv2d, Padding, Tuning};

/// A context of its own, tuning on. Adopted with no TIMESTAMP_QUERY, so these
/// tests time candidates by wall clock; `tuning_env.rs` (a context from
/// `GpuContext::new`) uses timestamp queries where the adapter has them.
fn fresh() -> Option<GpuContext> {
    let ctx = gpu_with_limits(|_| {})?;
    assert!(!ctx
        .device()
        .features()
        .contains(conv2d_wgpu::wgpu::Features::TIMESTAMP_QUERY));
    ctx.set_tuning(Tuning::Measure);
    Some(ctx)
}

fn same() -> Conv2dParams {
    Conv2dParams {
        padding: Padding::Same,
        ..Default::default()
    }
}

fn temp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("conv2d-wgpu-tuning-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

const INPUT: [usize; 4] = [1, 24, 24, 8];

#[test]
fn measure_keeps_the_fastest_per_shape_and_stays_correct() {
    let Some(ctx) = fresh() else { return };
    let (w, b) = (random4([3, 3, 8, 16], 1), random1(16, 2));
    let conv = GpuConv2d::new(&ctx, w.view(), Some(b.view()), same()).unwrap();
    let x = random4(INPUT, 3);
    let y = conv.forward(&x).unwrap();
    assert_matches_reference(&y, x.view(), w.view(), Some(b.view()), same(), "tuned");
    let stats = ctx.tuning_stats();
    assert_eq!((stats.measured, stats.entries), (1, 1));
    let tuned = conv.algorithm_for(INPUT).unwrap();
    // Another layer of the same shape uses the measurement; a new shape is measured.
    let twin = GpuConv2d::new(&ctx, w.view(), Some(b.view()), same()).unwrap();
    assert_eq!(twin.algorithm_for(INPUT).unwrap(), tuned);
    assert_eq!(ctx.tuning_stats().measured, 1);
    assert!(ctx.tuning_stats().cache_hits >= 1);
    twin.forward(&random4([2, 24, 24, 8], 4)).unwrap();
    assert_eq!(ctx.tuning_stats().measured, 2);
    // The measured algorithm is one that runs the layer, and at least as fast
    // as the slowest candidate, by construction of the file's medians.
    let path = temp("measure.json");
    ctx.save_tuning(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains(&format!("\"algorithm\": \"{tuned:?}\"")),
        "{text}"
    );
    assert!(
        text.contains("\"Direct\""),
        "every candidate's median is recorded: {text}"
    );
    kept_the_fastest_of_every_candidate(&text, || {
        GpuConv2d::new(&ctx, w.view(), Some(b.view()), same()).unwrap()
    });
    // A forced algorithm is never overridden by tuning.
    let forced = GpuConv2d::new(&ctx, w.view(), None, same())
        .unwrap()
        .with_algorithm(Algorithm::Direct)
        .unwrap();
    assert_eq!(forced.algorithm_for(INPUT).unwrap(), Algorithm::Direct);
    // Back to the heuristic: no measurement, no cache.
    ctx.set_tuning(Tuning::Heuristic);
    let heuristic = GpuConv2d::new(&ctx, w.view(), None, same()).unwrap();
    heuristic.algorithm_for([3, 24, 24, 8]).unwrap();
    assert_eq!(ctx.tuning_stats().measured, 2);
}

#[test]
fn a_planned_shape_keeps_its_plan_when_the_tuning_is_switched() {
    let Some(ctx) = fresh() else { return };
    let w = random4([3, 3, 8, 16], 5);
    let layer = || GpuConv2d::new(&ctx, w.view(), None, same()).unwrap();
    // Planned under Measure: after switching back, the layer still runs and
    // reports the measured algorithm.
    let tuned = layer();
    tuned.forward(&random4(INPUT, 6)).unwrap();
    let measured = tuned.algorithm_for(INPUT).unwrap();
    assert_eq!(ctx.tuning_stats().measured, 1);
    ctx.set_tuning(Tuning::Heuristic);
    assert_eq!(tuned.algorithm_for(INPUT).unwrap(), measured);
    // Planned under the heuristic: switching to Measure measures nothing for
    // that layer and shape, neither when asked nor when it runs.
    let other = [2, 24, 24, 8];
    let x = random4(other, 7);
    let heuristic = layer();
    heuristic.forward(&x).unwrap();
    let chosen = heuristic.algorithm_for(other).unwrap();
    ctx.set_tuning(Tuning::Measure);
    assert_eq!(heuristic.algorithm_for(other).unwrap(), chosen);
    let y = heuristic.forward(&x).unwrap();
    assert_matches_reference(&y, x.view(), w.view(), None, same(), "planned before");
    assert_eq!(ctx.tuning_stats().measured, 1);
    // A layer that has not planned the shape measures it now.
    layer().algorithm_for(other).unwrap();
    assert_eq!(ctx.tuning_stats().measured, 2);
}

/// In the saved file, every entry's algorithm is the one with the least
/// median, and every algorithm the layer `make` builds can be forced to run
/// was timed or dropped after its warm-up.
fn kept_the_fastest_of_every_candidate(text: &str, make: impl Fn() -> GpuConv2d) {
    let file: serde_json::Value = serde_json::from_str(text).unwrap();
    let shapes = file["adapters"][0]["shapes"].as_object().unwrap();
    assert!(!shapes.is_empty(), "{text}");
    for (key, entry) in shapes {
        let medians = entry["median_us"].as_object().unwrap();
        let fastest = medians
            .iter()
            .min_by(|a, b| a.1.as_f64().unwrap().total_cmp(&b.1.as_f64().unwrap()))
            .map(|(name, _)| name.as_str());
        assert_eq!(entry["algorithm"].as_str(), fastest, "{key}: {entry}");
        let dropped = entry["dropped_after_warm_up_us"].as_object().unwrap();
        for algorithm in Algorithm::ALL {
            let Ok(forced) = make().with_algorithm(algorithm) else {
                continue;
            };
            if forced.algorithm_for(INPUT).is_err() {
                continue;
            }
            let name = format!("{algorithm:?}");
            assert!(
                medians.contains_key(&name) || dropped.contains_key(&name),
                "{key}: {name} was neither timed nor dropped: {entry}"
            );
        }
    }
}

#[test]
fn a_saved_cache_reloads_with_no_new_measurement() {
    let Some(ctx) = fresh() else { return };
    let w = random4([3, 3, 8, 16], 5);
    let conv = GpuConv2d::new(&ctx, w.view(), None, same()).unwrap();
    let tuned = conv.algorithm_for(INPUT).unwrap();
    let path = temp("reload.json");
    ctx.save_tuning(&path).unwrap();
    // No temporary file is left beside it.
    let dir = path.parent().unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    let Some(other) = fresh() else { return };
    other.load_tuning(&path).unwrap();
    assert_eq!(other.tuning_stats().entries, 1);
    let again = GpuConv2d::new(&other, w.view(), None, same()).unwrap();
    let x = random4(INPUT, 6);
    let y = again.forward(&x).unwrap();
    assert_matches_reference(&y, x.view(), w.view(), None, same(), "from the cache");
    assert_eq!(again.algorithm_for(INPUT).unwrap(), tuned);
    let stats = other.tuning_stats();
    assert_eq!(stats.measured, 0, "loaded, not measured");
    assert!(stats.cache_hits >= 1);
}

#[test]
fn a_cache_from_another_adapter_is_ignored_and_kept() {
    let Some(ctx) = fresh() else { return };
    let w = random4([3, 3, 8, 16], 7);
    GpuConv2d::new(&ctx, w.view(), None, same())
        .unwrap()
        .algorithm_for(INPUT)
        .unwrap();
    let path = temp("other_adapter.json");
    ctx.save_tuning(&path).unwrap();
    let name = &ctx.adapter_info().name;
    let text = std::fs::read_to_string(&path).unwrap();
    let ours = format!("\"name\": {}", json_string(name));
    assert!(text.contains(&ours), "{text}");
    std::fs::write(
        &path,
        text.replace(&ours, "\"name\": \"Some Other GPU 9000\""),
    )
    .unwrap();

    let Some(other) = fresh() else { return };
    other.load_tuning(&path).unwrap();
    assert_eq!(
        other.tuning_stats().entries,
        0,
        "another adapter's entries are not used"
    );
    GpuConv2d::new(&other, w.view(), None, same())
        .unwrap()
        .algorithm_for(INPUT)
        .unwrap();
    assert_eq!(
        other.tuning_stats().measured,
        1,
        "so the shape is measured here"
    );
    // Saving keeps the other adapter's section beside ours.
    other.save_tuning(&path).unwrap();
    let both = std::fs::read_to_string(&path).unwrap();
    assert!(
        both.contains("Some Other GPU 9000") && both.contains(&ours),
        "{both}"
    );
}

fn json_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

#[test]
fn a_corrupt_or_truncated_cache_is_an_error_naming_the_file() {
    let Some(ctx) = fresh() else { return };
    GpuConv2d::new(&ctx, random4([3, 3, 8, 16], 8).view(), None, same())
        .unwrap()
        .algorithm_for(INPUT)
        .unwrap();
    let good = temp("good.json");
    ctx.save_tuning(&good).unwrap();
    let text = std::fs::read_to_string(&good).unwrap();
    let cases = [
        (
            "truncated.json",
            text[..text.len() / 2].to_string(),
            "corrupt or truncated",
        ),
        (
            "garbage.json",
            "not json at all".to_string(),
            "corrupt or truncated",
        ),
        (
            "other_format.json",
            text.replace("\"version\": 1", "\"version\": 99"),
            "version 99",
        ),
    ];
    for (name, contents, expected) in cases {
        let path = temp(name);
        std::fs::write(&path, contents).unwrap();
        let e = ctx.load_tuning(&path).unwrap_err();
        let message = e.to_string();
        assert!(matches!(e, Conv2dError::TuningCache { .. }), "{e:?}");
        assert!(
            message.contains(name) && message.contains(expected),
            "{message}"
        );
    }
    let e = ctx.load_tuning(temp("missing.json")).unwrap_err();
    assert!(e.to_string().contains("missing.json"), "{e}");
    assert!(std::error::Error::source(&e).is_some());
    let e = ctx.save_tuning(temp("no/such/dir/cache.json")).unwrap_err();
    assert!(e.to_string().contains("cache.json"), "{e}");
    // A failed load leaves the cache as it was.
    assert_eq!(ctx.tuning_stats().entries, 1);
}
