//! Criterion benches for the request parser and the reply writer: the two
//! pieces every command passes through.

use bytes::BytesMut;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferrokv::resp::{Parsed, Parser, Protocol, Reply};

fn pipeline(n: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for i in 0..n {
        let key = format!("key:{i:012}");
        v.extend_from_slice(
            format!(
                "*3\r\n$3\r\nSET\r\n${}\r\n{}\r\n$3\r\nxxx\r\n",
                key.len(),
                key
            )
            .as_bytes(),
        );
    }
    v
}

fn parse_pipelined(c: &mut Criterion) {
    let input = pipeline(1000);
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Elements(1000));
    group.bench_function("set_pipeline_1000", |b| {
        let mut parser = Parser::default();
        let mut args = Vec::new();
        b.iter(|| {
            let mut buf = BytesMut::from(&input[..]);
            let mut n = 0;
            loop {
                args.clear();
                match parser.parse(&mut buf, &mut args) {
                    Ok(Parsed::Command) => n += 1,
                    _ => break,
                }
            }
            assert_eq!(n, 1000);
        })
    });
    group.finish();
}

fn write_replies(c: &mut Criterion) {
    let mut group = c.benchmark_group("reply");
    group.throughput(Throughput::Elements(1000));
    for proto in [Protocol::Resp2, Protocol::Resp3] {
        group.bench_function(format!("bulk_int_null_1000_{proto:?}"), |b| {
            let mut out = Reply::new(proto);
            b.iter(|| {
                out.buf.clear();
                for i in 0..1000 {
                    match i % 3 {
                        0 => out.bulk(b"some value bytes"),
                        1 => out.int(i),
                        _ => out.null(),
                    }
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, parse_pipelined, write_replies);
criterion_main!(benches);
