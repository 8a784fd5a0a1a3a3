//! The encoder's numbers against Go's: every row of `../shared/data/go-float-format.tsv` (the
//! IEEE-754 bits and what `strconv.FormatFloat(v, 'g', -1, 64)` printed for them), and the
//! client's special cases on top.

use xtests::root;

#[test]
fn every_row_of_the_go_oracle() {
    let path = root().join("../shared/data/go-float-format.tsv");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("skipping: ../shared/data/go-float-format.tsv not found");
        return;
    };
    let mut rows = 0;
    let mut wrong = Vec::new();
    for line in text.lines() {
        let (bits, want) = line.split_once('\t').unwrap();
        let v = f64::from_bits(u64::from_str_radix(bits, 16).unwrap());
        let mut got = Vec::new();
        engine::float::write_g(&mut got, v);
        if got != want.as_bytes() {
            wrong.push(format!("{bits}: want {want}, got {}", String::from_utf8_lossy(&got)));
        }
        // The client's writer: 0, 1 and -1 special-cased (so -0 is written 0), the rest as Go.
        let mut client = Vec::new();
        engine::float::write_value(&mut client, v);
        let special = match v {
            0.0 => Some("0"),
            1.0 => Some("1"),
            -1.0 => Some("-1"),
            _ => None,
        };
        assert_eq!(client, special.unwrap_or(want).as_bytes(), "{bits}");
        rows += 1;
    }
    assert!(rows > 100_000, "oracle truncated: {rows} rows");
    assert!(wrong.is_empty(), "{} of {rows} rows differ:\n{}", wrong.len(), wrong.join("\n"));
    eprintln!("go-float-format.tsv: {rows} rows identical");
}
