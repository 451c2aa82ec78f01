//! Throughput of logging a large artifact (streaming copy, constant memory).
//!
//! ```sh
//! cargo bench --bench artifacts              # 512 MiB
//! MLSCOPE_BENCH_MB=2048 cargo bench --bench artifacts
//! ```
//!
//! Prints MB/s for `log_file` (file to file, the path `log_artifact` takes), for
//! `write_stream` from a generic reader (the path of in-memory and remote sources), and for
//! `std::fs::copy` as the machine's baseline.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::time::Instant;

use mlscope::artifacts::{ArtifactRepository, LocalArtifactRepository};

/// Hides the file behind `Read` only, so the copy cannot use kernel shortcuts.
struct Opaque<R>(R);

impl<R: Read> Read for Opaque<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

fn mb_per_s(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0) / secs
}

fn main() {
    // `cargo test --all-targets` runs harness-less benches as tests: only measure under
    // `cargo bench` (which passes --bench).
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let mb: u64 = std::env::var("MLSCOPE_BENCH_MB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(512);
    let size = mb * 1024 * 1024;
    let dir = tempfile::Builder::new()
        .prefix("mlscope-bench-")
        .tempdir_in(
            std::env::var("MLSCOPE_BENCH_DIR")
                .unwrap_or_else(|_| std::env::temp_dir().to_string_lossy().into_owned()),
        )
        .expect("temp dir");
    let src = dir.path().join("big.bin");
    {
        let mut w = BufWriter::new(File::create(&src).expect("create source"));
        let mut chunk = vec![0u8; 1 << 20];
        for (i, b) in chunk.iter_mut().enumerate() {
            *b = (i * 31 % 251) as u8;
        }
        for _ in 0..mb {
            w.write_all(&chunk).expect("write source");
        }
        w.flush().expect("flush");
    }
    let repo = LocalArtifactRepository::new(dir.path().join("artifacts"));
    println!("logging a {mb} MiB artifact (best of 3):");

    let mut best = [f64::MAX; 3];
    for _ in 0..3 {
        let t = Instant::now();
        repo.log_file(&src, Some("model")).expect("log_file");
        best[0] = best[0].min(t.elapsed().as_secs_f64());

        let t = Instant::now();
        let mut reader = Opaque(File::open(&src).expect("open"));
        let n = repo
            .write_stream("model/streamed.bin", &mut reader)
            .expect("write_stream");
        assert_eq!(n, size);
        best[1] = best[1].min(t.elapsed().as_secs_f64());

        let t = Instant::now();
        std::fs::copy(&src, dir.path().join("baseline.bin")).expect("copy");
        best[2] = best[2].min(t.elapsed().as_secs_f64());
    }
    for (name, secs) in [
        ("log_file (log_artifact)", best[0]),
        ("write_stream (generic reader)", best[1]),
        ("std::fs::copy baseline", best[2]),
    ] {
        println!(
            "  {name:<32} {:>8.1} MB/s  ({secs:.3} s)",
            mb_per_s(size, secs)
        );
    }
}
