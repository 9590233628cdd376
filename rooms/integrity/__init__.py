"""Academic integrity, pure: token streams, winnowing fingerprints, a similarity index with
matched fragments, paste signals and typing replay. No I/O here; ``server/integrity`` stores
fingerprints and history and serves the reports."""
