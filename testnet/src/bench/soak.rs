//! `bench soak`: the fanout load held for many minutes, to see whether nodes' memory levels
//! off. Each node's resident memory is sampled once a minute (an `interval`; tests use
//! seconds); the report gives the per-node curve, the slope over the second half (MB per
//! minute), loss over the whole run, and the latency of each minute.
//!
//! The load runs as one fanout run per interval, back to back, so the driver's own books stay
//! bounded however long the soak; the drain between intervals is milliseconds when nothing is
//! lost.

use super::Latency;
use super::fanout::FedciNet;
use serde::Serialize;
use std::path::Path;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct SoakOpts {
    pub nodes: usize,
    pub rate: u64,
    /// Number of intervals (minutes) the load runs.
    pub minutes: u64,
    /// One "minute": 60 s, shorter in tests.
    pub interval: Duration,
    pub connections: usize,
}

/// One sample, taken at the end of an interval (minute 0: after warm-up, before the load).
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    pub minute: u64,
    /// Resident memory of each node, MB, in node order (0 when it could not be read).
    pub rss_mb: Vec<f64>,
    /// Events published and deliveries lost during this interval.
    pub published: usize,
    pub lost: usize,
    /// Publish to each remote stream, this interval.
    pub latency: Option<Latency>,
}

#[derive(Debug, Serialize)]
pub struct SoakReport {
    pub nodes: usize,
    pub names: Vec<String>,
    pub rate: u64,
    pub minutes: u64,
    pub interval_secs: f64,
    pub samples: Vec<Sample>,
    /// Per node: least-squares slope of RSS over the second half of the run, MB per minute.
    pub slope_mb_per_min: Vec<f64>,
    /// Per node: RSS at the last sample, MB.
    pub final_rss_mb: Vec<f64>,
    pub published: usize,
    pub refused: usize,
    pub deliveries_expected: usize,
    pub deliveries: usize,
    pub lost: usize,
    /// The highest per-minute p99, ms.
    pub worst_p99_ms: f64,
}

pub async fn run(
    bin: &Path,
    opts: &SoakOpts,
    mut progress: impl FnMut(&Sample),
) -> anyhow::Result<SoakReport> {
    anyhow::ensure!(opts.minutes >= 1, "a soak runs at least one minute");
    let mut fed = FedciNet::start(bin, opts.nodes, opts.connections).await?;
    let names: Vec<String> = fed.net.nodes.iter().map(|n| n.name.clone()).collect();
    let first = Sample {
        minute: 0,
        rss_mb: node_rss(&fed),
        published: 0,
        lost: 0,
        latency: None,
    };
    progress(&first);
    let mut samples = vec![first];
    let (mut published, mut refused, mut expected, mut deliveries) = (0, 0, 0, 0);
    for minute in 1..=opts.minutes {
        let run = fed.fabric.run(opts.rate, opts.interval).await?;
        published += run.published;
        refused += run.refused;
        expected += run.deliveries_expected;
        deliveries += run.deliveries;
        let sample = Sample {
            minute,
            rss_mb: node_rss(&fed),
            published: run.published,
            lost: run.lost,
            latency: Some(run.latency),
        };
        progress(&sample);
        samples.push(sample);
    }
    fed.net.stop_all();
    let slope_mb_per_min = (0..names.len())
        .map(|i| {
            let curve: Vec<(f64, f64)> = samples
                .iter()
                .map(|s| (s.minute as f64, s.rss_mb.get(i).copied().unwrap_or(0.0)))
                .collect();
            second_half_slope(&curve)
        })
        .collect();
    let worst_p99_ms = samples
        .iter()
        .filter_map(|s| s.latency.as_ref().map(|l| l.p99_ms))
        .fold(0.0, f64::max);
    Ok(SoakReport {
        nodes: opts.nodes,
        final_rss_mb: samples.last().map(|s| s.rss_mb.clone()).unwrap_or_default(),
        names,
        rate: opts.rate,
        minutes: opts.minutes,
        interval_secs: opts.interval.as_secs_f64(),
        samples,
        slope_mb_per_min,
        published,
        refused,
        deliveries_expected: expected,
        deliveries,
        lost: expected - deliveries.min(expected),
        worst_p99_ms,
    })
}

fn node_rss(fed: &FedciNet) -> Vec<f64> {
    fed.net
        .nodes
        .iter()
        .map(|n| n.pid().and_then(super::rss_mb).unwrap_or(0.0))
        .collect()
}

/// Least-squares slope of the points whose x lies in the second half of the range (at least
/// the last two points), in y per x.
pub fn second_half_slope(points: &[(f64, f64)]) -> f64 {
    let Some(&(last, _)) = points.last() else {
        return 0.0;
    };
    let mut half: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|(x, _)| *x >= last / 2.0)
        .collect();
    if half.len() < 2 {
        half = points[points.len().saturating_sub(2)..].to_vec();
    }
    let n = half.len() as f64;
    let mx = half.iter().map(|p| p.0).sum::<f64>() / n;
    let my = half.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = half.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx == 0.0 {
        return 0.0;
    }
    half.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>() / sxx
}

/// One line per sample for the terminal: minute, each node's RSS, loss and latency.
pub fn sample_line(s: &Sample) -> String {
    let rss: Vec<String> = s.rss_mb.iter().map(|r| format!("{r:6.1}")).collect();
    let lat = s.latency.as_ref().map_or(String::new(), |l| {
        format!("  p50 {:.1} ms, p99 {:.1} ms", l.p50_ms, l.p99_ms)
    });
    format!(
        "  minute {:>3}: RSS MB {}  published {:>6}, lost {}{lat}",
        s.minute,
        rss.join(" "),
        s.published,
        s.lost
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slope_is_taken_over_the_second_half_only() {
        // Steep growth first, then flat: the second half's slope is zero.
        let pts: Vec<(f64, f64)> = (0..=10)
            .map(|m| (m as f64, if m <= 4 { 10.0 * m as f64 } else { 40.0 }))
            .collect();
        assert!(second_half_slope(&pts).abs() < 1e-9);
        // A straight line of 3 MB per minute throughout.
        let line: Vec<(f64, f64)> = (0..=10)
            .map(|m| (m as f64, 20.0 + 3.0 * m as f64))
            .collect();
        assert!((second_half_slope(&line) - 3.0).abs() < 1e-9);
        // One minute: the two points there are.
        assert!((second_half_slope(&[(0.0, 10.0), (1.0, 12.5)]) - 2.5).abs() < 1e-9);
        assert_eq!(second_half_slope(&[]), 0.0);
    }
}
