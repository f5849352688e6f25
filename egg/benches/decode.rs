//! `cargo bench -p egg`: validate + decode throughput of realistic eggs.
//!
//! Each measurement validates the whole program, then decodes every op (what the process
//! server does before and while it runs an egg). Throughput counts the program's bytes once.
//! The eggs are in `eggs/mod.rs`; `examples/validate_loop.rs` runs the same loop for
//! instruction counting under callgrind (see docs/egg.md, "Performance").

mod eggs;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("validate+decode");
    for (name, program) in eggs::all() {
        let ops = egg::validate(&program).unwrap();
        eprintln!("{name}: {} bytes, {ops} ops", program.len());
        group.throughput(Throughput::Bytes(program.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| eggs::validate_and_decode(black_box(&program)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
