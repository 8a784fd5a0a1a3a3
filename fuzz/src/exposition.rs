//! An exposition checker written apart from the encoder: text format 0.0.4 as the Prometheus
//! text parser reads it, line by line.
//!
//! Accepted lines are `# HELP name text` (text escaping only `\\` and `\n`), `# TYPE name
//! type`, and samples `name{label="value",...} value [timestamp]` with valid names, values
//! escaping only `\\`, `\"` and `\n`, no label twice, a float in the
//! decimal form the Go client writes (and `ParseFloat` reads) and an
//! integer timestamp. Families must be whole: a TYPE line once per name, before its samples,
//! a HELP line (if any) right before it, and every sample named after the family it follows
//! (with `_sum`, `_count` and `_bucket` for summaries and histograms).

/// Checks `text` (a whole exposition); the error names the offending line.
///
/// # Errors
/// What is wrong, with the line.
pub fn check(text: &[u8]) -> Result<(), String> {
    if !text.is_empty() && !text.ends_with(b"\n") {
        return Err("exposition does not end with a line feed".into());
    }
    let mut types: Vec<&[u8]> = Vec::new();
    let mut family: Option<(&[u8], &[u8])> = None;
    let mut help: Option<&[u8]> = None;
    if text.is_empty() {
        return Ok(());
    }
    for (n, line) in text[..text.len() - 1].split(|&b| b == b'\n').enumerate() {
        let at =
            |what: &str| format!("line {}: {what}: {:?}", n + 1, String::from_utf8_lossy(line));
        if let Some(rest) = line.strip_prefix(b"# HELP ") {
            let (name, text) = split_space(rest).ok_or_else(|| at("HELP without text"))?;
            if !is_metric_name(name) {
                return Err(at("bad HELP name"));
            }
            if !help_escapes_ok(text) {
                return Err(at("bad escape in HELP"));
            }
            help = Some(name);
        } else if let Some(rest) = line.strip_prefix(b"# TYPE ") {
            let (name, kind) = split_space(rest).ok_or_else(|| at("TYPE without type"))?;
            if !is_metric_name(name) {
                return Err(at("bad TYPE name"));
            }
            if !matches!(kind, b"counter" | b"gauge" | b"summary" | b"histogram" | b"untyped") {
                return Err(at("unknown type"));
            }
            if types.contains(&name) {
                return Err(at("second TYPE for a name"));
            }
            if help.is_some_and(|h| h != name) {
                return Err(at("HELP for another name before TYPE"));
            }
            types.push(name);
            family = Some((name, kind));
            help = None;
        } else if line.starts_with(b"#") {
            return Err(at("unexpected comment"));
        } else {
            if help.is_some() {
                return Err(at("HELP not followed by its TYPE"));
            }
            let name = sample(line).map_err(&at)?;
            let (fam, kind) = family.ok_or_else(|| at("sample before any TYPE"))?;
            let suffix = name.strip_prefix(fam).ok_or_else(|| at("sample outside its family"))?;
            let ok = match kind {
                b"summary" => matches!(suffix, b"" | b"_sum" | b"_count"),
                b"histogram" => matches!(suffix, b"_bucket" | b"_sum" | b"_count"),
                _ => suffix.is_empty(),
            };
            if !ok {
                return Err(at("sample outside its family"));
            }
        }
    }
    if help.is_some() {
        return Err("HELP at the end without its TYPE".into());
    }
    Ok(())
}

/// The family names declared by TYPE lines, in order.
pub fn type_names(text: &[u8]) -> Vec<&[u8]> {
    text.split(|&b| b == b'\n')
        .filter_map(|l| l.strip_prefix(b"# TYPE "))
        .filter_map(|l| l.split(|&b| b == b' ').next())
        .collect()
}

fn split_space(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = s.iter().position(|&b| b == b' ')?;
    Some((&s[..i], &s[i + 1..]))
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`
pub fn is_metric_name(s: &[u8]) -> bool {
    let head = |b: u8| b.is_ascii_alphabetic() || b == b'_' || b == b':';
    matches!(s.first(), Some(&b) if head(b)) && s.iter().all(|&b| head(b) || b.is_ascii_digit())
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`
pub fn is_label_name(s: &[u8]) -> bool {
    let head = |b: u8| b.is_ascii_alphabetic() || b == b'_';
    matches!(s.first(), Some(&b) if head(b)) && s.iter().all(|&b| head(b) || b.is_ascii_digit())
}

fn help_escapes_ok(text: &[u8]) -> bool {
    let mut it = text.iter();
    while let Some(&b) = it.next() {
        if b == b'\\' && !matches!(it.next(), Some(b'\\' | b'n')) {
            return false;
        }
    }
    true
}

/// Checks one sample line, giving its metric name.
fn sample(line: &[u8]) -> Result<&[u8], &'static str> {
    let end = line.iter().position(|&b| b == b'{' || b == b' ').ok_or("sample without value")?;
    let name = &line[..end];
    if !is_metric_name(name) {
        return Err("bad metric name");
    }
    let mut rest = &line[end..];
    if let Some(mut l) = rest.strip_prefix(b"{") {
        let mut seen: Vec<&[u8]> = Vec::new();
        loop {
            let eq = l.iter().position(|&b| b == b'=').ok_or("label without value")?;
            let label = &l[..eq];
            if !is_label_name(label) {
                return Err("bad label name");
            }
            if seen.contains(&label) {
                return Err("label twice");
            }
            seen.push(label);
            l = l[eq + 1..].strip_prefix(b"\"").ok_or("label value not quoted")?;
            let mut i = 0;
            loop {
                match l.get(i) {
                    None => return Err("label value not closed"),
                    Some(b'"') => break,
                    Some(b'\\') => {
                        if !matches!(l.get(i + 1), Some(b'\\' | b'"' | b'n')) {
                            return Err("bad escape in label value");
                        }
                        i += 2;
                    }
                    Some(_) => i += 1,
                }
            }
            if std::str::from_utf8(&l[..i]).is_err() {
                return Err("label value not UTF-8");
            }
            l = &l[i + 1..];
            match l.first() {
                Some(b',') => l = &l[1..],
                Some(b'}') => {
                    rest = &l[1..];
                    break;
                }
                _ => return Err("label not followed by , or }"),
            }
        }
    }
    let rest = rest.strip_prefix(b" ").ok_or("no space before the value")?;
    let mut parts = rest.split(|&b| b == b' ');
    let value = parts.next().ok_or("no value")?;
    if !is_go_float(value) {
        return Err("value is not a float");
    }
    if let Some(ts) = parts.next() {
        let ts = ts.strip_prefix(b"-").unwrap_or(ts);
        if ts.is_empty() || !ts.iter().all(u8::is_ascii_digit) {
            return Err("timestamp is not an integer");
        }
    }
    if parts.next().is_some() {
        return Err("trailing text after the sample");
    }
    Ok(name)
}

/// Whether `s` is a float as the Go client writes one: `NaN`, `±Inf`, or decimal digits with
/// an optional point, sign and exponent (all of which Go's `strconv.ParseFloat` reads).
fn is_go_float(s: &[u8]) -> bool {
    if matches!(s, b"NaN" | b"+Inf" | b"-Inf") {
        return true;
    }
    let s = s.strip_prefix(b"-").or_else(|| s.strip_prefix(b"+")).unwrap_or(s);
    let (mant, exp) = match s.iter().position(|&b| b == b'e' || b == b'E') {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let digits = mant.iter().filter(|b| b.is_ascii_digit()).count();
    let points = mant.iter().filter(|&&b| b == b'.').count();
    if digits == 0 || points > 1 || digits + points != mant.len() {
        return false;
    }
    match exp {
        None => true,
        Some(e) => {
            let e = e.strip_prefix(b"-").or_else(|| e.strip_prefix(b"+")).unwrap_or(e);
            !e.is_empty() && e.iter().all(u8::is_ascii_digit)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_well_formed_families() {
        let ok = b"# HELP a_b Some \\\\ help\\n.\n# TYPE a_b counter\na_b{x=\"q\\\"\\n\",y=\"\"} 1.5e+06\n\
# TYPE h histogram\nh_bucket{le=\"+Inf\"} 3\nh_sum NaN\nh_count 3 -17\n# TYPE s summary\ns 1\n";
        assert_eq!(check(ok), Ok(()));
        assert_eq!(check(b""), Ok(()));
    }

    #[test]
    fn refuses_each_malformation() {
        for bad in [
            &b"# TYPE a gauge\na 1"[..],
            b"# TYPE a gauge\n# TYPE a gauge\n",
            b"# TYPE a gauge\nb 1\n",
            b"a 1\n",
            b"# TYPE a gauge\na 1x\n",
            b"# TYPE a gauge\na .\n",
            b"# TYPE a gauge\na{b=\"\\x\"} 1\n",
            b"# TYPE a gauge\na{b=\"1\",b=\"2\"} 1\n",
            b"# TYPE a gauge\na{1b=\"1\"} 1\n",
            b"# TYPE a gauge\na{b=\"1\"\n",
            b"# TYPE a gauge\na{b=\"1\",} 1\n",
            b"# TYPE a gauge\na 1 2 3\n",
            b"# TYPE a gauge\na 1 1.5\n",
            b"# TYPE 1a gauge\n",
            b"# TYPE a info\n",
            b"# HELP a x\\t\n# TYPE a gauge\n",
            b"# HELP b x\n# TYPE a gauge\n",
            b"# TYPE a gauge\n# a comment\n",
            b"# TYPE a counter\na_total 1\n",
        ] {
            assert!(check(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn go_floats() {
        for ok in ["1", "-1", "+1.", ".5", "1e5", "1E-05", "NaN", "+Inf", "-Inf", "0.000001"] {
            assert!(is_go_float(ok.as_bytes()), "{ok}");
        }
        for bad in ["", ".", "e5", "1e", "1.2.3", "inf", "nan", "1 ", "0x1p3", "--1"] {
            assert!(!is_go_float(bad.as_bytes()), "{bad}");
        }
    }
}
