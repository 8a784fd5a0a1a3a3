#[test]
fn oracle() {
    let p = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/go-float-format.tsv");
    let text = std::fs::read_to_string(p).unwrap();
    let mut bad = 0;
    for line in text.lines() {
        let (bits, want) = line.split_once('\t').unwrap();
        let v = f64::from_bits(u64::from_str_radix(bits, 16).unwrap());
        let mut out = Vec::new();
        engine::float::write_g(&mut out, v);
        if out != want.as_bytes() {
            bad += 1;
            if bad < 20 {
                eprintln!("{bits} want {want} got {}", String::from_utf8_lossy(&out));
            }
        }
    }
    assert_eq!(bad, 0);
}
