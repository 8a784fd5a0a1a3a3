//! The kept-fd budget, in a process of its own: the budget is process-wide.
use engine::source::{kept_fds, set_fd_budget, File};

#[test]
fn past_the_budget_files_open_and_close_per_read() {
    let d = std::env::temp_dir().join(format!("nodegate-budget-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    set_fd_budget(3);
    let mut files: Vec<File> = (0..8)
        .map(|i| {
            let p = d.join(i.to_string());
            std::fs::write(&p, i.to_string()).unwrap();
            File::new(p)
        })
        .collect();
    let mut buf = Vec::new();
    for _ in 0..3 {
        for (i, f) in files.iter_mut().enumerate() {
            assert_eq!(f.read(&mut buf).unwrap(), i.to_string().as_bytes());
        }
        assert_eq!(kept_fds(), 3);
    }
    files.truncate(1);
    assert_eq!(kept_fds(), 1);
    drop(files);
    assert_eq!(kept_fds(), 0);
    std::fs::remove_dir_all(&d).unwrap();
}
